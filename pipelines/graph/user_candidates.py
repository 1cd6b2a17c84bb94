"""User candidates: Pixie's multi-query walks, composed from the per-pin walks of related_pins.

Pixie answers a user with walks from several query pins at once: the user's recent pins,
each weighted by how the user engaged with it and how long ago, and a candidate reached from
several query pins is boosted over one that a single query pin reached as often.

In batch:
- query pins: the user's engagement edges of `graph_edges` decayed to ds, summed per pin.
  An edge's weight already is sum(type weight * 0.5 ** (age / half-life)) over its events, so
  a save outweighs a click, a click an impression, last week's save a save of last quarter, and
  a hide (negative type weight) cancels what it hides. Each user keeps the `query_pins_per_user`
  heaviest positive pins; their weights are normalised to sum to 1 per user.
- Pixie gives query pin q a share of the walk steps proportional to its weight, so the visits
  it contributes to candidate c are w_q * visits_q(c); `related_pins` holds visits_q(c) from
  the same seeded walks (its top N per pin).
- multi-hit boost across query pins: score(u, c) = (sum over q of sqrt(w_q * visits_q(c)))^2.
- candidates the user already engaged with (any engagement edge but an impression, hides
  included) are not recommended back; each user keeps the top `user_candidates_top_n`.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from pipelines.core import catalog, contract, io
from pipelines.core.stages import StageContext, StageOutput
from pipelines.core.transforms import top_n
from pipelines.graph.shared import edges_as_of


def _engagements(edges: DataFrame) -> DataFrame:
    return edges.where((F.col("src_type") == "user") & (F.col("dst_type") == "pin")
                       & F.col("edge_type").isin(*contract.ENGAGEMENT_EDGE_TYPES))


def query_pins(edges: DataFrame, per_user: int) -> DataFrame:
    """(user_id, pin_id, weight): each user's heaviest positive pins, weights summing to 1."""
    per_pin = _engagements(edges).groupBy(F.col("src_id").alias("user_id"), F.col("dst_id").alias("pin_id")).agg(
        F.sum("weight").alias("weight"))
    kept = top_n(per_pin.where(F.col("weight") > 0), "user_id", [F.desc("weight"), "pin_id"], per_user)
    return kept.withColumn("weight", F.col("weight") / F.sum("weight").over(Window.partitionBy("user_id")))


def seen_pins(edges: DataFrame) -> DataFrame:
    """(user_id, pin_id) the user engaged with beyond an impression, hides included."""
    return (_engagements(edges).where(F.col("edge_type").isin(*contract.SEEN_EDGE_TYPES))
            .select(F.col("src_id").alias("user_id"), F.col("dst_id").alias("pin_id")).distinct())


def user_candidates(queries: DataFrame, related: DataFrame, seen: DataFrame, n: int) -> DataFrame:
    """Compose the query pins' walk visits with the multi-hit boost; keep each user's top N."""
    hits = queries.join(related.select("pin_id", "candidate_pin_id", "visits"), on="pin_id", how="inner")
    scored = (
        hits.groupBy("user_id", "candidate_pin_id")
        .agg(F.pow(F.sum(F.sqrt(F.col("weight") * F.col("visits"))), 2).alias("score"),
             F.count("*").alias("query_pins_hit"))
        .join(seen.withColumnRenamed("pin_id", "candidate_pin_id"), on=["user_id", "candidate_pin_id"],
              how="left_anti")
    )
    return top_n(scored, "user_id", [F.desc("score"), "candidate_pin_id"], n, rank="rank").select(
        "user_id", "candidate_pin_id", "rank", "score", "query_pins_hit")


def run(ctx: StageContext) -> StageOutput:
    s = ctx.settings
    engaged = _engagements(edges_as_of(ctx)).persist()  # one scan for queries and seen pins
    queries = query_pins(engaged, s.query_pins_per_user).persist()
    written = io.overwrite(user_candidates(queries, ctx.read(catalog.RELATED_PINS), seen_pins(engaged),
                                           s.user_candidates_top_n), catalog.USER_CANDIDATES, s)
    rows_in = queries.count()
    queries.unpersist()
    engaged.unpersist()
    return StageOutput(rows_in=rows_in, rows_out=written)
