"""Feature tables: daily snapshots of pin and user statistics over a trailing window.

Each snapshot row carries `event_timestamp` = the last instant of `ds` (UTC): the moment the
day's statistics became known, which is what Feast uses for point-in-time joins.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.core import catalog, contract, io
from pipelines.core.stages import StageContext, StageOutput

# The window is part of the features' meaning (the `_7d` names, feature views `_v1`):
# changing it means new columns and a new feature-view version, not a setting.
WINDOW_DAYS = 7


def snapshot_time(ds: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(ds), dt.time(23, 59, 59))


def window_filter(ds: str, days: int) -> Column:
    end = dt.date.fromisoformat(ds)
    start = end - dt.timedelta(days=days - 1)
    return F.col("event_date").between(F.lit(start), F.lit(end))


def _count(event_type: str) -> Column:
    return F.count(F.when(F.col("event_type") == event_type, 1))


def _ctr(clicks: str, impressions: str) -> Column:
    return F.when(F.col(impressions) > 0, F.col(clicks) / F.col(impressions)).otherwise(F.lit(0.0))


def pin_stats(events: DataFrame, ds: str) -> DataFrame:
    """Per pin: impressions, closeups, clicks, saves and CTR over the given events."""
    return (
        events.where(F.col("pin_id").isNotNull())
        .groupBy("pin_id")
        .agg(
            _count(contract.IMPRESSION).alias("impressions_7d"),
            _count(contract.CLOSEUP).alias("closeups_7d"),
            _count(contract.CLICK).alias("clicks_7d"),
            _count(contract.SAVE).alias("saves_7d"),
        )
        .select(
            "pin_id",
            F.lit(dt.date.fromisoformat(ds)).alias("ds"),
            F.lit(snapshot_time(ds)).alias("event_timestamp"),
            "impressions_7d",
            "closeups_7d",
            "clicks_7d",
            "saves_7d",
            _ctr("clicks_7d", "impressions_7d").alias("ctr_7d"),
        )
    )


def user_stats(events: DataFrame, ds: str) -> DataFrame:
    """Per user: impressions, clicks, saves, distinct pins engaged and CTR over the given events."""
    return (
        events.groupBy("user_id")
        .agg(
            _count(contract.IMPRESSION).alias("impressions_7d"),
            _count(contract.CLICK).alias("clicks_7d"),
            _count(contract.SAVE).alias("saves_7d"),
            F.countDistinct("pin_id").alias("distinct_pins_7d"),
        )
        .select(
            "user_id",
            F.lit(dt.date.fromisoformat(ds)).alias("ds"),
            F.lit(snapshot_time(ds)).alias("event_timestamp"),
            "impressions_7d",
            "clicks_7d",
            "saves_7d",
            "distinct_pins_7d",
            _ctr("clicks_7d", "impressions_7d").alias("ctr_7d"),
        )
    )


def run(ctx: StageContext) -> StageOutput:
    """The day's pin and user snapshots over the trailing window (partition overwrite of ds)."""
    events = ctx.read(catalog.SILVER_EVENTS).where(window_filter(ctx.ds, WINDOW_DAYS)).persist()
    day = f"ds = '{ctx.ds}'"
    written = (io.overwrite_where(pin_stats(events, ctx.ds), catalog.PIN_STATS, ctx.settings, day)
               + io.overwrite_where(user_stats(events, ctx.ds), catalog.USER_STATS, ctx.settings, day))
    rows_in = events.count()
    events.unpersist()
    return StageOutput(rows_in=rows_in, rows_out=written)
