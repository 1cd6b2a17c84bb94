"""The project's own as-of join: each example gets, per feature view, the feature row of its
entity with the latest timestamp at or before the example's, within the view's TTL.

It is the reference Feast's point-in-time join is measured and checked against (the training
set itself is joined by Feast: `flows.training`). Instead of joining every example to every
feature row of its entity and ranking them (what Feast's Spark template does), it unions the
examples' (entity, time) points with the feature rows, sorts each entity's timeline once and
carries the last feature row forward: one shuffle and sort per view, no fan-out.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


@dataclass(frozen=True)
class FeatureFrame:
    """One feature view's rows: its name, join keys, features and TTL (None or zero: no limit)."""

    name: str
    frame: DataFrame  # join keys, event_timestamp, features
    join_keys: tuple[str, ...]
    features: tuple[str, ...]
    ttl: dt.timedelta | None = None


def _as_of(points: DataFrame, view: FeatureFrame) -> DataFrame:
    """(join keys, event_timestamp, <view>__<feature>...) for each distinct point."""
    keys = list(view.join_keys)
    values = F.struct(F.col("_ts"), *[F.col(f).alias(f) for f in view.features])
    rows = view.frame.join(points.select(*keys).distinct(), on=keys, how="left_semi").select(
        *keys, F.col("event_timestamp").alias("_ts"), F.lit(0).alias("_point"), values.alias("_row"))
    asked = points.select(*keys, F.col("event_timestamp").alias("_ts"), F.lit(1).alias("_point"),
                          F.lit(None).cast(rows.schema["_row"].dataType).alias("_row"))
    timeline = Window.partitionBy(*keys).orderBy("_ts", "_point").rowsBetween(Window.unboundedPreceding, 0)
    carried = rows.unionByName(asked).select(*keys, "_ts", "_point",
                                             F.last("_row", ignorenulls=True).over(timeline).alias("_row"))
    fresh = F.col("_row").isNotNull()
    if view.ttl:
        fresh = fresh & (F.col("_row._ts") >= F.col("_ts") - F.expr(f"INTERVAL {int(view.ttl.total_seconds())} SECONDS"))
    return carried.where(F.col("_point") == 1).select(
        *keys, F.col("_ts").alias("event_timestamp"),
        *[F.when(fresh, F.col(f"_row.{f}")).alias(f"{view.name}__{f}") for f in view.features])


def as_of_join(examples: DataFrame, views: list[FeatureFrame]) -> DataFrame:
    """`examples` (with each view's join keys and event_timestamp) plus `<view>__<feature>`
    columns: null when the entity has no row at or before the example within the TTL."""
    out = examples
    for view in views:
        points = examples.select(*view.join_keys, "event_timestamp").distinct()
        out = out.join(_as_of(points, view), on=[*view.join_keys, "event_timestamp"], how="left")
    return out
