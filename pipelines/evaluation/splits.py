"""Held-out splits of real behaviour, cut by time or by a seeded pick (pure transforms).

An interaction is a user's engagement with a pin beyond a look: a closeup, click or save
(`POSITIVE_TYPES`), one row per (user, pin) at its first time. Hides and impressions are not
interactions (on MovieLens, ratings below 2 import as hides: the literature counts every
rating, so our MovieLens interactions are the 94% of ratings at 2 stars or more).

- Protocol A (`last_interactions`): each user's last interaction by time, ties broken by the
  larger pin id, is held out; users with a single interaction keep it for training.
- Protocol B (`share_holdout`): the interactions of the cold pins (`cold_pins`: a seeded
  share of the pins with interactions) are all held out, and so is a `share` of each user's
  other interactions (at least one for a user with two or more): by default the latest by
  time (`latest`, what a platform faces: predict what comes next), or a seeded random pick
  (`random`, the 80/20 holdout of most published full-ranking figures, which is far easier on
  MovieLens because it tests the past with the future in training).

The validation split is the same cut applied to the training part of the test split, so
nothing tuned on it has seen a test interaction.

`training_events` removes every event of a held-out (user, pin) pair (its impressions and
hides too) and every event on a cold pin, so no stage trained on the split sees a trace of
what it is tested on.
"""
from __future__ import annotations

import math

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from pipelines.core import contract

POSITIVE_TYPES = (contract.CLOSEUP, contract.CLICK, contract.SAVE)
PAIR = ["user_id", "pin_id"]


def interactions(events: DataFrame) -> DataFrame:
    """(user_id, pin_id, interaction_time, merchant_click): one row per user and pin engaged with
    beyond a look, at the first such event; merchant_click when one of them was a click to a
    merchant (the product-level slice)."""
    engaged = events.where(F.col("event_type").isin(*POSITIVE_TYPES) & F.col("pin_id").isNotNull())
    merchant = (F.col("event_type") == contract.CLICK) & F.coalesce(F.col("is_merchant"), F.lit(False))
    return engaged.groupBy(*PAIR).agg(F.min("event_time").alias("interaction_time"),
                                      F.max(merchant).alias("merchant_click"))


def _latest_first(*partition: str) -> Window:
    return Window.partitionBy(*partition).orderBy(F.desc("interaction_time"), F.desc("pin_id"))


def last_interactions(pairs: DataFrame) -> DataFrame:
    """Protocol A: each user's last interaction (ties by the larger pin id), for users with two or more."""
    counted = pairs.withColumn("_n", F.count("*").over(Window.partitionBy("user_id")))
    return (counted.where(F.col("_n") >= 2).withColumn("_last", F.row_number().over(_latest_first("user_id")))
            .where(F.col("_last") == 1).drop("_n", "_last"))


def cold_pins(pairs: DataFrame, share: float, seed: int) -> DataFrame:
    """(pin_id): floor(share x pins with interactions) pins, picked by a seeded hash."""
    pins = pairs.select("pin_id").distinct()
    n = pins.count()
    keep = math.floor(share * n)
    order = Window.orderBy(F.xxhash64(F.lit(seed), F.col("pin_id")), F.col("pin_id"))
    return pins.withColumn("_r", F.row_number().over(order)).where(F.col("_r") <= keep).select("pin_id")


HOLDOUT_ORDERS = ("latest", "random")


def share_holdout(pairs: DataFrame, cold: DataFrame, share: float, order: str = "latest", seed: int = 0) -> DataFrame:
    """Protocol B: every interaction with a cold pin, and `share` (rounded up) of each user's
    other interactions, leaving at least one for training: the latest ones (`order` "latest"),
    or the first by a hash of (seed, user, pin) ("random": seeded, the same on every run)."""
    if order not in HOLDOUT_ORDERS:
        raise ValueError(f"holdout order must be one of {', '.join(HOLDOUT_ORDERS)}, got {order!r}")
    on_cold = pairs.join(cold, on="pin_id", how="left_semi")
    warm = pairs.join(cold, on="pin_id", how="left_anti")
    picked = (_latest_first("user_id") if order == "latest" else
              Window.partitionBy("user_id").orderBy(F.xxhash64(F.lit(seed), "user_id", "pin_id"), "pin_id"))
    counted = warm.withColumn("_n", F.count("*").over(Window.partitionBy("user_id"))).withColumn(
        "_r", F.row_number().over(picked))
    latest = counted.where((F.col("_n") >= 2) & (F.col("_r") <= F.least(F.ceil(F.col("_n") * share), F.col("_n") - 1)))
    return on_cold.unionByName(latest.drop("_n", "_r"))


def remaining(pairs: DataFrame, held_out: DataFrame) -> DataFrame:
    """The interactions not held out (a split's training part)."""
    return pairs.join(held_out.select(*PAIR), on=PAIR, how="left_anti")


def training_events(events: DataFrame, held_out: DataFrame, cold: DataFrame) -> DataFrame:
    """Silver events without any event of a held-out pair or of a cold pin (null pins, such as
    board follows, stay)."""
    return events.join(held_out.select(*PAIR), on=PAIR, how="left_anti").join(cold, on="pin_id", how="left_anti")
