"""Feature tables: daily snapshots of pin and user statistics over a trailing window, and the
taste graph around each pin on the days it changed.

Each row carries `event_timestamp` = the last instant of `ds` (UTC): the moment the
day's statistics became known, which is what Feast uses for point-in-time joins. A run writes
the snapshots of one day, or of every day of a range in one job (a history backfill): the
transforms group by `ds`, so one day is the range of one day, not a second code path.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipelines.core import catalog, contract, io
from pipelines.core.stages import StageContext, StageOutput

# The window is part of the features' meaning (the `_7d` names, feature views `_v1`):
# changing it means new columns and a new feature-view version, not a setting.
WINDOW_DAYS = 7
# The events a day's rows read: its window, and the day before it, whose events leave the window
# on that day (see `in_windows`).
READ_DAYS = WINDOW_DAYS + 1


def snapshot_time(ds: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(ds), dt.time(23, 59, 59))


def _snapshot_timestamp() -> Column:
    """The last second of each row's `ds`."""
    return F.to_timestamp(F.concat(F.col("ds").cast("string"), F.lit(" 23:59:59"))).alias("event_timestamp")


def window_filter(ds: str, days: int, through: str | None = None) -> Column:
    """Events inside the window of at least one snapshot day from ds to through."""
    end = dt.date.fromisoformat(through or ds)
    start = dt.date.fromisoformat(ds) - dt.timedelta(days=days - 1)
    return F.col("event_date").between(F.lit(start), F.lit(end))


def in_windows(events: DataFrame, ds: str, through: str | None = None) -> DataFrame:
    """Each event once for every snapshot day from ds to through whose trailing window holds
    it, that day as `ds` (silver's own ds, the ingest date, is dropped), and once more on the
    day after, with `in_window` false.

    Why the day after: a key whose window empties then gets a row of zeros. Without it, the
    counts of its last non-empty window would stay served: an online store keeps a key's last
    row, and the point-in-time join takes it for three more days (the views' TTL)."""
    first, last = F.lit(dt.date.fromisoformat(ds)), F.lit(dt.date.fromisoformat(through or ds))
    days = F.sequence(F.greatest("event_date", first), F.least(F.date_add("event_date", WINDOW_DAYS), last))
    return (events.where(window_filter(ds, READ_DAYS, through)).drop("ds")
            .withColumn("ds", F.explode(days))
            .withColumn("in_window", F.col("ds") < F.date_add("event_date", WINDOW_DAYS)))


def _count(event_type: str) -> Column:
    return F.count(F.when(F.col("in_window") & (F.col("event_type") == event_type), 1))


def _ctr(clicks: str, impressions: str) -> Column:
    return F.when(F.col(impressions) > 0, F.col(clicks) / F.col(impressions)).otherwise(F.lit(0.0))


def pin_stats(events: DataFrame, ds: str, through: str | None = None) -> DataFrame:
    """Per pin and snapshot day: impressions, closeups, clicks, saves and CTR over its window
    (zeros on the day it empties)."""
    return (
        in_windows(events, ds, through).where(F.col("pin_id").isNotNull())
        .groupBy("ds", "pin_id")
        .agg(
            _count(contract.IMPRESSION).alias("impressions_7d"),
            _count(contract.CLOSEUP).alias("closeups_7d"),
            _count(contract.CLICK).alias("clicks_7d"),
            _count(contract.SAVE).alias("saves_7d"),
        )
        .select(
            "pin_id",
            "ds",
            _snapshot_timestamp(),
            "impressions_7d",
            "closeups_7d",
            "clicks_7d",
            "saves_7d",
            _ctr("clicks_7d", "impressions_7d").alias("ctr_7d"),
        )
    )


def user_stats(events: DataFrame, ds: str, through: str | None = None) -> DataFrame:
    """Per user and snapshot day: impressions, clicks, saves, distinct pins engaged and CTR over its window."""
    return (
        in_windows(events, ds, through).groupBy("ds", "user_id")
        .agg(
            _count(contract.IMPRESSION).alias("impressions_7d"),
            _count(contract.CLICK).alias("clicks_7d"),
            _count(contract.SAVE).alias("saves_7d"),
            F.countDistinct(F.when(F.col("in_window"), F.col("pin_id"))).alias("distinct_pins_7d"),
        )
        .select(
            "user_id",
            "ds",
            _snapshot_timestamp(),
            "impressions_7d",
            "clicks_7d",
            "saves_7d",
            "distinct_pins_7d",
            _ctr("clicks_7d", "impressions_7d").alias("ctr_7d"),
        )
    )


# The user->pin edge types that count as engaging with a pin beyond a look; a hide is its own count.
ENGAGED_TYPES = tuple(t for t in contract.SEEN_EDGE_TYPES if t != contract.HIDE)
_PIN_EDGE_TYPES = (*contract.ENGAGEMENT_EDGE_TYPES, contract.SAVED_TO, contract.CO_ENGAGED)
_GRAPH_COUNTS = {"viewers": (contract.IMPRESSION,), "savers": (contract.SAVE,), "hiders": (contract.HIDE,),
                 "boards": (contract.SAVED_TO,), "co_engaged_pins": (contract.CO_ENGAGED,)}


def pin_graph_stats(edges: DataFrame, ds: str, through: str | None = None,
                    served: DataFrame | None = None) -> DataFrame:
    """The taste graph around each pin at the end of a day, on the days it changed: distinct
    users who saw it, engaged with it, saved it and hid it; the boards it was saved to; the
    pins co-engaged with it. A pin's row holds until its next row (served with no TTL).

    Why change rows and not a daily snapshot of every pin: a pin's counts change on few days,
    and a snapshot writes pins x days rows: 65 million for 9,500 movies over 22 years, in a
    generated release of MovieLens's shape (BENCHMARKS.md). Each edge (and each engaged user) adds one from the day it was first
    seen; a running sum over the days that add something gives the counts on those days.

    The range's first day is compared with what the table already serves (`served`, its rows
    before ds): a pin gets a row there when its counts differ, so late events folded since,
    and edges a corrected day removed, reach the served counts on the next run. On a fresh
    table every pin known by the end of ds gets a row; one that lost every edge gets zeros.
    Each later day of the range gets a row for each pin that gained something that day, as
    running it day by day would. Only edges first seen by the end of a day count, so a day's
    counts are what the graph held then, whatever was folded since. Decayed weights are left
    out on purpose: the state holds them only as of its latest fold.
    """
    first = dt.date.fromisoformat(ds)
    last = dt.date.fromisoformat(through or ds)
    known = edges.where(F.col("edge_type").isin(*_PIN_EDGE_TYPES)
                        & (F.col("first_seen") < F.lit(dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))))
    ends = (known.where(F.col("dst_type") == "pin").select(F.col("dst_id").alias("pin_id"), "edge_type",
                                                           F.col("src_id").alias("other"), "first_seen")
            .unionByName(known.where(F.col("src_type") == "pin").select(
                F.col("src_id").alias("pin_id"), "edge_type", F.col("dst_id").alias("other"), "first_seen")))
    day = F.to_date("first_seen").alias("ds")
    per_edge = ends.select("pin_id", day, *[F.col("edge_type").isin(*types).cast("long").alias(name)
                                            for name, types in _GRAPH_COUNTS.items()],
                           F.lit(0).cast("long").alias("engaged_users"))
    per_user = (ends.where(F.col("edge_type").isin(*ENGAGED_TYPES)).groupBy("pin_id", "other")
                .agg(F.min("first_seen").alias("first_seen"))
                .select("pin_id", day, *[F.lit(0).cast("long").alias(name) for name in _GRAPH_COUNTS],
                        F.lit(1).cast("long").alias("engaged_users")))
    counts = [*_GRAPH_COUNTS, "engaged_users"]
    added = (per_edge.unionByName(per_user).groupBy("pin_id", "ds").agg(*[F.sum(c).alias(c) for c in counts])
             .where(F.greatest(*counts) > 0))
    to_date = Window.partitionBy("pin_id").orderBy("ds").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    running = added.select("pin_id", "ds", *[F.sum(c).over(to_date).alias(c) for c in counts])
    later = running.where(F.col("ds") > F.lit(first))
    by_first = added.where(F.col("ds") <= F.lit(first)).groupBy("pin_id").agg(*[F.sum(c).alias(c) for c in counts])
    before = _latest_per_pin(served.where(F.col("ds") < F.lit(first))) if served is not None else None
    on_first = _changed_on(by_first, before, counts, first)
    return on_first.unionByName(later).select("pin_id", "ds", _snapshot_timestamp(), "viewers", "engaged_users",
                                              "savers", "hiders", "boards", "co_engaged_pins")


def _latest_per_pin(rows: DataFrame) -> DataFrame:
    """Each pin's row of its latest ds."""
    latest = Window.partitionBy("pin_id").orderBy(F.col("ds").desc())
    return rows.withColumn("_n", F.row_number().over(latest)).where(F.col("_n") == 1).drop("_n", "ds")


def _changed_on(now: DataFrame, before: DataFrame | None, counts: list[str], day: dt.date) -> DataFrame:
    """The pins whose counts `now` differ from those served `before` (a pin missing from
    either side counts zero there), as rows of `day`."""
    if before is None:
        return now.select("pin_id", F.lit(day).alias("ds"), *counts)
    both = now.alias("n").join(before.select("pin_id", *counts).alias("b"), on="pin_id", how="full")
    value = {side: [F.coalesce(F.col(f"{side}.{c}"), F.lit(0).cast("long")) for c in counts] for side in "nb"}
    return both.where(F.array(*value["n"]) != F.array(*value["b"])).select(
        "pin_id", F.lit(day).alias("ds"), *[v.alias(c) for v, c in zip(value["n"], counts)])


def run(ctx: StageContext) -> StageOutput:
    """The rows of ds (through `through` on a range run): pin and user statistics over their
    trailing windows and the graph around each pin where it changed (partition overwrite of
    those days)."""
    last = ctx.through or ctx.ds
    events = ctx.read(catalog.SILVER_EVENTS).where(window_filter(ctx.ds, READ_DAYS, last)).persist()
    days = io.days_predicate(sorted({ctx.ds, last}))
    graph = pin_graph_stats(ctx.read(catalog.GRAPH_EDGES), ctx.ds, last, ctx.read_or_empty(catalog.PIN_GRAPH_STATS))
    many = ctx.many_dates(ctx.days())
    written = (io.overwrite_where(pin_stats(events, ctx.ds, last), catalog.PIN_STATS, ctx.settings, days, by_partition=many)
               + io.overwrite_where(user_stats(events, ctx.ds, last), catalog.USER_STATS, ctx.settings, days,
                                    by_partition=many)
               + io.overwrite_where(graph, catalog.PIN_GRAPH_STATS, ctx.settings, days, by_partition=many))
    rows_in = events.count()
    events.unpersist()
    return StageOutput(rows_in=rows_in, rows_out=written)
