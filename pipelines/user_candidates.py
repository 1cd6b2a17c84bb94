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

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipelines import catalog, graph, io
from pipelines.cooccurrence import edges_as_of
from pipelines.runs import StageResult, versions
from pipelines.settings import Settings

QUERY_EDGE_TYPES = (*graph.ENGAGEMENT_TYPES, "merchant_click")
SEEN_EDGE_TYPES = tuple(t for t in QUERY_EDGE_TYPES if t != "impression")


def _engagements(edges: DataFrame) -> DataFrame:
    return edges.where((F.col("src_type") == "user") & (F.col("dst_type") == "pin")
                       & F.col("edge_type").isin(*QUERY_EDGE_TYPES))


def query_pins(edges: DataFrame, per_user: int) -> DataFrame:
    """(user_id, pin_id, weight): each user's heaviest positive pins, weights summing to 1."""
    per_pin = _engagements(edges).groupBy(F.col("src_id").alias("user_id"), F.col("dst_id").alias("pin_id")).agg(
        F.sum("weight").alias("weight"))
    heaviest = Window.partitionBy("user_id").orderBy(F.desc("weight"), "pin_id")
    kept = (per_pin.where(F.col("weight") > 0)
            .withColumn("_n", F.row_number().over(heaviest)).where(F.col("_n") <= per_user).drop("_n"))
    return kept.withColumn("weight", F.col("weight") / F.sum("weight").over(Window.partitionBy("user_id")))


def seen_pins(edges: DataFrame) -> DataFrame:
    """(user_id, pin_id) the user engaged with beyond an impression, hides included."""
    return (_engagements(edges).where(F.col("edge_type").isin(*SEEN_EDGE_TYPES))
            .select(F.col("src_id").alias("user_id"), F.col("dst_id").alias("pin_id")).distinct())


def user_candidates(queries: DataFrame, related: DataFrame, seen: DataFrame, top_n: int) -> DataFrame:
    """Compose the query pins' walk visits with the multi-hit boost; keep each user's top N."""
    hits = queries.join(related.select("pin_id", "candidate_pin_id", "visits"), on="pin_id", how="inner")
    scored = (
        hits.groupBy("user_id", "candidate_pin_id")
        .agg(F.pow(F.sum(F.sqrt(F.col("weight") * F.col("visits"))), 2).alias("score"),
             F.count("*").alias("query_pins_hit"))
        .join(seen.withColumnRenamed("pin_id", "candidate_pin_id"), on=["user_id", "candidate_pin_id"],
              how="left_anti")
    )
    w = Window.partitionBy("user_id").orderBy(F.desc("score"), "candidate_pin_id")
    return (
        scored.withColumn("rank", F.row_number().over(w))
        .where(F.col("rank") <= top_n)
        .select("user_id", "candidate_pin_id", "rank", "score", "query_pins_hit")
    )


def run(spark: SparkSession, ds: str, settings: Settings) -> StageResult:
    inputs = versions(spark, settings, catalog.GRAPH_EDGES, catalog.RELATED_PINS)
    engaged = _engagements(edges_as_of(spark, settings, ds)).persist()  # one scan for queries and seen pins
    queries = query_pins(engaged, settings.query_pins_per_user).persist()
    related = io.read_table(spark, catalog.RELATED_PINS, settings)
    io.overwrite(user_candidates(queries, related, seen_pins(engaged), settings.user_candidates_top_n),
                 catalog.USER_CANDIDATES, settings)
    rows_in = queries.count()
    queries.unpersist()
    engaged.unpersist()
    return StageResult(
        stage="user_candidates", ds=ds, rows_in=rows_in,
        rows_out=io.read_table(spark, catalog.USER_CANDIDATES, settings).count(),
        input_versions=inputs, output_versions=versions(spark, settings, catalog.USER_CANDIDATES),
        outputs={catalog.USER_CANDIDATES.name: catalog.USER_CANDIDATES.path(settings)},
    )
