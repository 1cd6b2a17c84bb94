"""Related pins (stage related_pins, table related_pins): batch Pixie walks per pin.

A candidate's score is Pixie's multi-hit boost over the seeded walks of `walks.walk_visits`,
(sum over walks of sqrt(visits in that walk))^2: a pin reached by many independent walks beats
one that a single walk kept bouncing on. Each pin keeps its top N.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.core import catalog, io
from pipelines.core.stages import StageContext, StageOutput
from pipelines.core.transforms import top_n
from pipelines.graph.shared import edges_as_of, pruned_graph
from pipelines.graph.walks import walk_visits


def related_pins(visits: DataFrame, n: int) -> DataFrame:
    """Score candidates with the multi-hit boost and keep each pin's top N."""
    per_walk = visits.groupBy("pin_id", "candidate_pin_id", "walk").agg(F.count("*").alias("v"))
    scored = per_walk.groupBy("pin_id", "candidate_pin_id").agg(
        F.pow(F.sum(F.sqrt("v")), 2).alias("score"), F.sum("v").alias("visits"), F.count("*").alias("walks_hit"))
    return top_n(scored, "pin_id", [F.desc("score"), "candidate_pin_id"], n, rank="rank").select(
        "pin_id", "candidate_pin_id", "rank", "score", "visits", "walks_hit")


def run(ctx: StageContext) -> StageOutput:
    s = ctx.settings
    pruned = pruned_graph(ctx, edges_as_of(ctx)).persist()
    visits = walk_visits(pruned, s.walks_per_pin, s.walk_length, s.walk_restart, s.walk_seed)
    written = io.overwrite(related_pins(visits, s.related_top_n), catalog.RELATED_PINS, s)
    rows_in = pruned.count()
    pruned.unpersist()
    return StageOutput(rows_in=rows_in, rows_out=written)
