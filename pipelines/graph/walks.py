"""Seeded random walks on the pruned pin-board graph, shared by related_pins and the graph
embeddings.

From every pin, `walks_per_pin` walkers each take `walk_length` hops pin -> board -> pin; after
each hop a walker jumps back to its query pin with probability `walk_restart`. Choices come
from a hash of (seed, query pin, walk, step), not from a random generator, so the result is the
same whatever the partitioning or the cluster.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


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


def walk_steps(pruned: DataFrame, walks_per_pin: int, walk_length: int, restart: float, seed: int) -> DataFrame:
    """Every step of every walker: (pin_id = query pin, walk, step, next = the pin it landed on)."""
    pin_boards, board_pins = adjacency(pruned)
    pin_boards = pin_boards.persist()
    board_pins = board_pins.persist()
    walkers = pin_boards.select("pin_id", F.explode(F.sequence(F.lit(0), F.lit(walks_per_pin - 1))).alias("walk"),
                                F.col("pin_id").alias("at"))
    steps = None
    for step in range(1, walk_length + 1):
        here = walkers.join(pin_boards.select(F.col("pin_id").alias("at"), "boards"), on="at", how="inner")
        to_board = here.select("pin_id", "walk",
                               F.element_at("boards", _choice(seed, step, "board", F.size("boards"))).alias("board_id"))
        landed = to_board.join(board_pins, on="board_id", how="inner").select(
            "pin_id", "walk", F.element_at("pins", _choice(seed, step, "pin", F.size("pins"))).alias("next"))
        landed = landed.localCheckpoint()  # cut the lineage: each step builds on the last one only
        at_step = landed.select("pin_id", "walk", F.lit(step).alias("step"), "next")
        steps = at_step if steps is None else steps.unionByName(at_step)
        walkers = landed.select("pin_id", "walk", F.when(_chance(seed, step, "restart") < restart, F.col("pin_id"))
                                .otherwise(F.col("next")).alias("at"))
    pin_boards.unpersist()
    board_pins.unpersist()
    return steps


def walk_visits(pruned: DataFrame, walks_per_pin: int, walk_length: int, restart: float, seed: int) -> DataFrame:
    """Every visit of every walker to a pin other than its query pin: (pin_id = query pin, walk,
    candidate_pin_id)."""
    steps = walk_steps(pruned, walks_per_pin, walk_length, restart, seed)
    return steps.where(F.col("next") != F.col("pin_id")).select("pin_id", "walk", F.col("next").alias("candidate_pin_id"))
