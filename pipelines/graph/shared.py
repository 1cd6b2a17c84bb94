"""What the graph stages share: decayed edge weights, and the pruned pin-board graph.

Weights: an event of type T on date d contributes type_weight[T] * 0.5 ** ((t - d) / half_life)
at time t. A `graph_edges` row stores `weight` as of `weight_date`; its value at any t is
`weight * 0.5 ** ((t - weight_date) / half_life)` (`weight_as_of`), which equals the closed
form whichever day the row was last updated. Dimension edges are not decayed.

Pruning (as in Pixie):
- boards whose pins' main interests are too diverse (entropy above a setting, in bits) go;
- a pin's weak board links go: those to boards where the pin's main interest has a share
  below `pin_board_min_share` (the pin is off-topic there), and beyond its `pin_board_keep`
  strongest links;
- a board keeps at most `board_pin_cap` pins, a deterministic hash sample, so pairing its pins
  costs min(degree, cap)^2 instead of degree^2.
"""
from __future__ import annotations

import datetime as dt
from typing import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.core import catalog, contract
from pipelines.core.stages import StageContext
from pipelines.core.transforms import first_per_key, top_n


def type_weight(edge_type: Column, weights: Mapping[str, float]) -> Column:
    """The weight of one event of `edge_type`."""
    expr = F.lit(0.0)
    for name, weight in sorted(weights.items()):
        expr = F.when(edge_type == name, F.lit(float(weight))).otherwise(expr)
    return expr


def decay(days: Column, half_life_days: float) -> Column:
    """The factor an edge weight keeps after `days`: 0.5 ** (days / half-life)."""
    return F.pow(F.lit(0.5), days.cast("double") / F.lit(float(half_life_days)))


def decayed(weight: Column, since: Column, until: Column, half_life_days: float) -> Column:
    """`weight`, stated at date `since`, as of date `until`."""
    return weight * decay(F.datediff(until, since), half_life_days)


def weight_as_of(edges: DataFrame, as_of: str, half_life_days: float) -> DataFrame:
    """Edges with `weight` decayed to `as_of` (dimension edges are not decayed)."""
    day = F.lit(dt.date.fromisoformat(as_of))
    event_edge = F.col("edge_type").isin(*contract.EVENT_EDGE_TYPES)
    return edges.withColumn(
        "weight", F.when(event_edge, decayed(F.col("weight"), F.col("weight_date"), day, half_life_days))
        .otherwise(F.col("weight"))
    ).withColumn("weight_date", F.when(event_edge, day).otherwise(F.col("weight_date")))


def edges_as_of(ctx: StageContext) -> DataFrame:
    """graph_edges (at the stage's pinned version) with weights decayed to the run's day."""
    return weight_as_of(ctx.read(catalog.GRAPH_EDGES), ctx.ds, ctx.settings.decay_half_life_days)


def saved_to_links(edges: DataFrame) -> DataFrame:
    """(pin_id, board_id, weight) of the pin -> board saved_to edges."""
    return edges.where(F.col("edge_type") == contract.SAVED_TO).select(
        F.col("src_id").alias("pin_id"), F.col("dst_id").alias("board_id"), "weight")


def pin_main_interest(pins: DataFrame) -> DataFrame:
    """Each pin's highest-scored interest annotation (ties by name)."""
    ranked = pins.select("pin_id", F.explode("interests").alias("a")).select(
        "pin_id", F.col("a.interest").alias("interest"), F.col("a.score").alias("score"))
    return first_per_key(ranked, "pin_id", [F.desc("score"), "interest"]).select("pin_id", "interest")


def _labelled(saved_to: DataFrame, main_interest: DataFrame) -> DataFrame:
    """Pin-board links with the pin's main interest (`_unknown` when it has none)."""
    return saved_to.join(main_interest, on="pin_id", how="left").fillna({"interest": "_unknown"})


def _interest_shares(labelled: DataFrame) -> DataFrame:
    """(board_id, interest, share, total): the share of a board's pins with each main interest."""
    per_interest = labelled.groupBy("board_id", "interest").agg(F.count("*").alias("n"))
    totals = per_interest.groupBy("board_id").agg(F.sum("n").alias("total"))
    return per_interest.join(totals, on="board_id", how="inner").select(
        "board_id", "interest", (F.col("n") / F.col("total")).alias("share"), "total")


def _entropy(shares: DataFrame) -> DataFrame:
    """(board_id, entropy in bits, pins) from interest shares."""
    return shares.groupBy("board_id").agg(
        (-F.sum(F.col("share") * F.log2("share"))).alias("entropy"), F.first("total").alias("pins"))


def board_entropy(saved_to: DataFrame, main_interest: DataFrame) -> DataFrame:
    """Per board: the entropy (bits) of its pins' main interests, and its pin count."""
    return _entropy(_interest_shares(_labelled(saved_to, main_interest)))


def pruned_pin_boards(
    saved_to: DataFrame,
    main_interest: DataFrame,
    entropy_max: float,
    pin_board_keep: int,
    board_pin_cap: int,
    pin_board_min_share: float = 0.0,
) -> DataFrame:
    """(pin_id, board_id, weight) links that survive pruning."""
    labelled = _labelled(saved_to, main_interest)
    shares = _interest_shares(labelled)
    focused = _entropy(shares).where(F.col("entropy") <= entropy_max).select("board_id")
    on_topic = (
        labelled.join(focused, on="board_id", how="left_semi")
        .join(shares.select("board_id", "interest", "share"), on=["board_id", "interest"], how="inner")
        .where(F.col("share") >= pin_board_min_share)
    )
    kept = top_n(on_topic, "pin_id", [F.desc("share"), F.desc("weight"), "board_id"], pin_board_keep)
    sampled = top_n(kept, "board_id", [F.xxhash64("board_id", "pin_id"), "pin_id"], board_pin_cap)
    return sampled.select("pin_id", "board_id", "weight")


def pruned_graph(ctx: StageContext, edges: DataFrame) -> DataFrame:
    """The pruned pin-board graph from (decayed) graph edges and silver pins."""
    s = ctx.settings
    main = pin_main_interest(ctx.read(catalog.SILVER_PINS))
    return pruned_pin_boards(saved_to_links(edges), main, s.board_entropy_max, s.pin_board_keep, s.board_pin_cap,
                             s.pin_board_min_share)
