"""Pin-pin co-occurrence (stage pin_pin, table pin_pin_edges): each pin's top-K neighbours.

Co-saves are counted on the pruned pin-board graph (`shared.pruned_graph`), co-engagement from
the session co_engaged edges. Normalisation: cosine. co-save(a, b) = |boards(a) & boards(b)| /
sqrt(|boards(a)| * |boards(b)|), and the same for session co-engagement weights. Cosine
discounts popular pins (a pin on every board co-occurs with everything) and, unlike PMI, stays
bounded in [0, 1] and stable for pins seen on only one or two boards, where PMI explodes.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.core import catalog, contract, io
from pipelines.core.stages import StageContext, StageOutput
from pipelines.core.transforms import top_n
from pipelines.graph.shared import edges_as_of, pruned_graph


def _cosine(pairs: DataFrame, norms: DataFrame, value: str) -> DataFrame:
    """pairs(pin_id, other_pin_id, value) / sqrt(norm(pin) * norm(other))."""
    a = norms.select(F.col("pin_id"), F.col("norm").alias("_na"))
    b = norms.select(F.col("pin_id").alias("other_pin_id"), F.col("norm").alias("_nb"))
    return (
        pairs.join(a, on="pin_id", how="inner").join(b, on="other_pin_id", how="inner")
        .select("pin_id", "other_pin_id", (F.col(value) / F.sqrt(F.col("_na") * F.col("_nb"))).alias(value))
    )


def cosave_scores(pruned: DataFrame) -> DataFrame:
    """Cosine of the pins' (pruned) board sets, both directions."""
    a, b = pruned.alias("a"), pruned.alias("b")
    common = (
        a.join(b, on=(F.col("a.board_id") == F.col("b.board_id")) & (F.col("a.pin_id") != F.col("b.pin_id")),
               how="inner")
        .groupBy(F.col("a.pin_id").alias("pin_id"), F.col("b.pin_id").alias("other_pin_id"))
        .agg(F.count("*").cast("double").alias("cosave"))
    )
    norms = pruned.groupBy("pin_id").agg(F.count("*").cast("double").alias("norm"))
    return _cosine(common, norms, "cosave")


def coengaged_scores(coengaged: DataFrame) -> DataFrame:
    """Cosine-normalised session co-engagement weights, both directions."""
    both = coengaged.select(F.col("src_id").alias("pin_id"), F.col("dst_id").alias("other_pin_id"), "weight").unionByName(
        coengaged.select(F.col("dst_id").alias("pin_id"), F.col("src_id").alias("other_pin_id"), "weight"))
    positive = both.where(F.col("weight") > 0)
    norms = positive.groupBy("pin_id").agg(F.sum("weight").alias("norm"))
    return _cosine(positive.withColumnRenamed("weight", "coengaged"), norms, "coengaged")


def pin_pin_edges(cosave: DataFrame, coengaged: DataFrame, coengaged_weight: float, top_k: int) -> DataFrame:
    """Blend the two cosine scores and keep each pin's top K (ties broken by pin id)."""
    blended = (
        cosave.join(coengaged, on=["pin_id", "other_pin_id"], how="full_outer")
        .fillna({"cosave": 0.0, "coengaged": 0.0})
        .withColumn("score", (1 - coengaged_weight) * F.col("cosave") + coengaged_weight * F.col("coengaged"))
    )
    return top_n(blended, "pin_id", [F.desc("score"), "other_pin_id"], top_k, rank="rank").select(
        "pin_id", "other_pin_id", "rank", "score", "cosave", "coengaged")


def run(ctx: StageContext) -> StageOutput:
    edges = edges_as_of(ctx)
    pruned = pruned_graph(ctx, edges).persist()
    coengaged = edges.where(F.col("edge_type") == contract.CO_ENGAGED)
    result = pin_pin_edges(cosave_scores(pruned), coengaged_scores(coengaged), ctx.settings.coengaged_weight,
                           ctx.settings.pin_pin_top_k)
    written = io.overwrite(result, catalog.PIN_PIN_EDGES, ctx.settings)
    cost = pruned.groupBy("board_id").agg(F.count("*").alias("d")).agg(F.sum(F.col("d") * F.col("d"))).first()[0]
    rows_in = pruned.count()
    pruned.unpersist()
    return StageOutput(rows_in=rows_in, rows_out=written,
                       details={"pair_cost_sum_min_degree_cap_squared": int(cost or 0)})
