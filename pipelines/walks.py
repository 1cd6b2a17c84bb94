"""Related pins: batch random walks with restart on the pruned pin-board graph (Pixie-style).

From every pin, `walks_per_pin` walkers each take `walk_length` hops pin -> board -> pin; after
each hop a walker jumps back to its query pin with probability `walk_restart`. Choices come
from a hash of (seed, query pin, walk, step), not from a random generator, so the result is the
same whatever the partitioning or the cluster. A candidate's score is Pixie's multi-hit boost,
(sum over walks of sqrt(visits in that walk))^2: a pin reached by many independent walks beats
one that a single walk kept bouncing on. Each pin keeps its top N.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipelines import catalog, io
from pipelines.cooccurrence import edges_as_of, pruned_graph
from pipelines.runs import StageResult, versions
from pipelines.settings import Settings


def _choice(seed: int, step: int, salt: str, size: Column) -> Column:
    """A 1-based index into an array of `size`, from a hash of the walker and the step."""
    h = F.xxhash64(F.lit(seed), F.col("pin_id"), F.col("walk"), F.lit(step), F.lit(salt))
    return (F.pmod(h, size) + 1).cast("int")


def _chance(seed: int, step: int, salt: str) -> Column:
    """A uniform number in [0, 1) from a hash of the walker and the step."""
    h = F.xxhash64(F.lit(seed), F.col("pin_id"), F.col("walk"), F.lit(step), F.lit(salt))
    return F.pmod(h, F.lit(1_000_000)).cast("double") / 1_000_000


def adjacency(pruned: DataFrame) -> tuple[DataFrame, DataFrame]:
    """pin -> sorted array of boards, board -> sorted array of pins."""
    pin_boards = pruned.groupBy("pin_id").agg(F.array_sort(F.collect_list("board_id")).alias("boards"))
    board_pins = pruned.groupBy("board_id").agg(F.array_sort(F.collect_list("pin_id")).alias("pins"))
    return pin_boards, board_pins


def walk_visits(pruned: DataFrame, walks_per_pin: int, walk_length: int, restart: float, seed: int) -> DataFrame:
    """Every visit of every walker: (pin_id = query pin, walk, candidate_pin_id)."""
    pin_boards, board_pins = adjacency(pruned)
    pin_boards = pin_boards.persist()
    board_pins = board_pins.persist()
    walkers = pin_boards.select("pin_id", F.explode(F.sequence(F.lit(0), F.lit(walks_per_pin - 1))).alias("walk"),
                                F.col("pin_id").alias("at"))
    visits = None
    for step in range(1, walk_length + 1):
        here = walkers.join(pin_boards.select(F.col("pin_id").alias("at"), "boards"), on="at", how="inner")
        to_board = here.select("pin_id", "walk",
                               F.element_at("boards", _choice(seed, step, "board", F.size("boards"))).alias("board_id"))
        landed = to_board.join(board_pins, on="board_id", how="inner").select(
            "pin_id", "walk", F.element_at("pins", _choice(seed, step, "pin", F.size("pins"))).alias("next"))
        landed = landed.localCheckpoint()  # cut the lineage: each step builds on the last one only
        seen = landed.where(F.col("next") != F.col("pin_id")).select("pin_id", "walk",
                                                                     F.col("next").alias("candidate_pin_id"))
        visits = seen if visits is None else visits.unionByName(seen)
        walkers = landed.select("pin_id", "walk", F.when(_chance(seed, step, "restart") < restart, F.col("pin_id"))
                                .otherwise(F.col("next")).alias("at"))
    pin_boards.unpersist()
    board_pins.unpersist()
    return visits


def related_pins(visits: DataFrame, top_n: int) -> DataFrame:
    """Score candidates with the multi-hit boost and keep each pin's top N."""
    per_walk = visits.groupBy("pin_id", "candidate_pin_id", "walk").agg(F.count("*").alias("v"))
    scored = per_walk.groupBy("pin_id", "candidate_pin_id").agg(
        F.pow(F.sum(F.sqrt("v")), 2).alias("score"), F.sum("v").alias("visits"), F.count("*").alias("walks_hit"))
    w = Window.partitionBy("pin_id").orderBy(F.desc("score"), "candidate_pin_id")
    return (
        scored.withColumn("rank", F.row_number().over(w))
        .where(F.col("rank") <= top_n)
        .select("pin_id", "candidate_pin_id", "rank", "score", "visits", "walks_hit")
    )


def run(spark: SparkSession, ds: str, settings: Settings) -> StageResult:
    inputs = versions(spark, settings, catalog.GRAPH_EDGES, catalog.SILVER_PINS)
    pruned = pruned_graph(spark, settings, edges_as_of(spark, settings, ds)).persist()
    visits = walk_visits(pruned, settings.walks_per_pin, settings.walk_length, settings.walk_restart,
                         settings.walk_seed)
    io.overwrite(related_pins(visits, settings.related_top_n), catalog.RELATED_PINS, settings)
    rows_in = pruned.count()
    pruned.unpersist()
    return StageResult(
        stage="related_pins", ds=ds, rows_in=rows_in,
        rows_out=io.read_table(spark, catalog.RELATED_PINS, settings).count(),
        input_versions=inputs, output_versions=versions(spark, settings, catalog.RELATED_PINS),
        outputs={catalog.RELATED_PINS.name: catalog.RELATED_PINS.path(settings)},
    )
