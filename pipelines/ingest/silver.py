"""Ingest, second half: the day's accepted lines -> silver events, pins and boards.

Silver is typed, deduplicated by key, and carries no PII: no client IP, no user agent, e-mail
and IP addresses masked in every free-text and URL field, and nothing from secret boards (or
from boards whose latest line could not be read: they are withheld until a valid line says
they are public).
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipelines.core import catalog, io
from pipelines.core.runs import Laps
from pipelines.core.settings import Settings
from pipelines.core.transforms import first_per_key
from pipelines.ingest.bronze import StreamBatch

EMAIL_MASK = "[email]"
IP_MASK = "[ip]"
# Internationalised addresses too (letters and digits of any script), and @ written as %40 in URLs.
EMAIL_PATTERN = (r"[\p{L}\p{N}._%+'-]+(?:@|%40)[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?"
                 r"(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)+")
IPV4_PATTERN = r"(?<![0-9])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9])"
IPV6_PATTERN = (r"(?i)(?<![0-9a-z:])(?=[0-9a-f:]*[0-9a-f])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}"
                r"|(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?::(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?)"
                r"(?:%[0-9a-z]+)?(?![0-9a-z:])")


def scrub(col: Column) -> Column:
    """Free text or a URL with e-mail addresses and IPv4/IPv6 addresses masked. Each pattern
    runs only on text that can hold a match: @ or %40, a dot, and '::' or seven colons."""
    masked = F.when(col.contains("@") | col.contains("%40"), F.regexp_replace(col, EMAIL_PATTERN, EMAIL_MASK)
                    ).otherwise(col)
    masked = F.when(masked.contains("."), F.regexp_replace(masked, IPV4_PATTERN, IP_MASK)).otherwise(masked)
    colons = F.length(masked) - F.length(F.replace(masked, F.lit(":"), F.lit("")))
    return F.when(masked.contains("::") | (colons >= 7), F.regexp_replace(masked, IPV6_PATTERN, IP_MASK)
                  ).otherwise(masked)


def silver_events(bronze: DataFrame, withheld_board_ids: DataFrame) -> DataFrame:
    """One row per event_id (first delivery wins), no PII, no saves/follows of withheld boards."""
    first = first_per_key(bronze, "event_id", [F.col("ds"), F.col("source_file"), F.col("line_number")])
    public = first.join(
        withheld_board_ids.select(F.col("board_id").alias("_withheld")),
        on=F.col("board_id") == F.col("_withheld"),
        how="left_anti",
    )
    return public.select(
        "event_id",
        "event_type",
        "event_time",
        F.to_date("event_time").alias("event_date"),
        "user_id",
        "pin_id",
        "board_id",
        "session_id",
        "is_outbound",
        "is_merchant",
        "ds",
    )


def _latest_version(bronze: DataFrame, key: str) -> DataFrame:
    """The newest version of each key in a batch, with the batch's first/last seen times. On a
    tie of updated_at the earliest day wins (a later day with the same time is not newer: what
    the daily upsert keeps), then the last line."""
    seen = Window.partitionBy(key)
    return first_per_key(
        bronze.withColumn("first_seen", F.min("updated_at").over(seen)).withColumn("last_seen", F.max("updated_at").over(seen)),
        key,
        [F.col("updated_at").desc(), F.col("ds").asc(), F.col("line_number").desc()],
    )


def silver_pins(bronze: DataFrame) -> DataFrame:
    """Latest version of each pin seen in this batch, free text scrubbed."""
    return _latest_version(bronze, "pin_id").select(
        "pin_id", "creator_id", "created_at", "updated_at",
        scrub(F.col("title")).alias("title"),
        scrub(F.col("description")).alias("description"),
        scrub(F.col("link")).alias("link"),
        scrub(F.col("domain")).alias("domain"),
        F.transform("interests", lambda a: F.struct(scrub(a["interest"]).alias("interest"), a["score"].alias("score")))
        .alias("interests"),
        scrub(F.col("merchant")).alias("merchant"),
        "price", "first_seen", "last_seen",
    )


def silver_boards(bronze: DataFrame, withheld_board_ids: DataFrame) -> DataFrame:
    """Latest version of each board that is not withheld, free text scrubbed."""
    return _latest_version(bronze, "board_id").join(withheld_board_ids, on="board_id", how="left_anti").select(
        "board_id", "owner_id", "created_at", "updated_at",
        scrub(F.col("name")).alias("name"),
        scrub(F.col("description")).alias("description"),
        scrub(F.col("category")).alias("category"),
        "first_seen", "last_seen",
    )


def withheld_board_ids(bronze_boards: DataFrame, quarantined_boards: DataFrame) -> DataFrame:
    """Boards nothing may leave the restricted zone from: those whose latest valid version is
    secret, and those with a quarantined line (whose secrecy is unknown) delivered after their
    latest valid version. Fails closed: a board stays withheld until a valid line says public."""
    delivered = F.struct("ds", "source_file", "line_number")
    valid = first_per_key(bronze_boards, "board_id", [F.col("updated_at").desc(), F.col("ds").desc(),
                                                       F.col("source_file").desc(), F.col("line_number").desc()])
    valid = valid.select("board_id", F.coalesce("is_secret", F.lit(False)).alias("_secret"),
                         delivered.alias("_valid_at"))
    unreadable = quarantined_boards.where(F.col("record_key").isNotNull()).groupBy(
        F.col("record_key").alias("board_id")).agg(F.max(delivered).alias("_bad_at"))
    both = valid.join(unreadable, on="board_id", how="full_outer")
    return both.where(
        F.coalesce("_secret", F.lit(False)) | (F.col("_bad_at").isNotNull()
                                               & (F.col("_valid_at").isNull() | (F.col("_bad_at") > F.col("_valid_at"))))
    ).select("board_id")


def touched_dates(events: DataFrame) -> DataFrame:
    """The event dates each day's silver events landed in, with counts."""
    return events.groupBy("ds", "event_date").agg(F.count("*").alias("events")).select("ds", "event_date", "events")


def _sync_silver_boards(spark: SparkSession, settings: Settings, days: list[str], boards: StreamBatch) -> DataFrame:
    """Upsert the days' boards; boards that became withheld on these days take their history
    out of silver. Returns the boards withheld by everything ingested so far, which is what
    keeps them out of silver even when an older day is re-run."""
    bronze = io.read_or_empty(spark, catalog.BRONZE_BOARDS, settings)
    quarantined = io.read_or_empty(spark, catalog.QUARANTINE, settings).where(
        (F.col("stream") == "boards") & F.col("record_key").isNotNull())
    withheld = withheld_board_ids(bronze, quarantined).persist()
    # A board can become withheld on these days only if it is withheld now and has a line on
    # one of them; for those few, compare with what the days before said.
    day = F.col("ds").between(F.lit(days[0]).cast("date"), F.lit(days[-1]).cast("date"))
    touched = bronze.where(day).select("board_id").unionByName(
        quarantined.where(day).select(F.col("record_key").alias("board_id")))
    candidates = withheld.join(touched, on="board_id", how="left_semi").distinct()
    mine_b = bronze.join(candidates, on="board_id", how="left_semi")
    mine_q = quarantined.join(candidates.withColumnRenamed("board_id", "record_key"), on="record_key",
                              how="left_semi")
    before = F.col("ds") < F.lit(days[0]).cast("date")
    newly = candidates.join(withheld_board_ids(mine_b.where(before), mine_q.where(before)), on="board_id",
                            how="left_anti").persist()
    if boards.counts.accepted:
        io.upsert(silver_boards(boards.accepted, withheld), catalog.SILVER_BOARDS, settings,
                  newer="s.updated_at > t.updated_at", keep_on_update=("first_seen",))
    else:
        io.ensure_table(spark, catalog.SILVER_BOARDS, settings)
    if not newly.isEmpty():
        # Recomputed from bronze and quarantine on every run of the day, so a re-run or a run
        # after a crash deletes the same boards again (a no-op when they are gone already).
        io.delete_matching(newly, catalog.SILVER_BOARDS, settings, "board_id")
        io.delete_matching(newly, catalog.SILVER_EVENTS, settings, "board_id")
    newly.unpersist()
    return withheld


def _insert_silver_events(spark: SparkSession, settings: Settings, events: DataFrame, dates: list[str]) -> None:
    """Insert events whose event_id is not in silver within the redelivery window of their date.

    The MERGE reads only the partitions within `redelivery_window_days` of the batch's dates,
    so its cost follows the day's volume and the window, not the table's history."""
    window = settings.redelivery_window_days
    lo = dt.date.fromisoformat(dates[0]) - dt.timedelta(days=window)
    hi = dt.date.fromisoformat(dates[-1]) + dt.timedelta(days=window)
    io.insert_new(events, catalog.SILVER_EVENTS, settings,
                  prune=f"t.event_date BETWEEN DATE'{lo}' AND DATE'{hi}' "
                        f"AND abs(datediff(t.event_date, s.event_date)) <= {window}")


def write_silver(spark: SparkSession, settings: Settings, days: list[str], batches: dict[str, StreamBatch],
                 laps: Laps) -> list[str]:
    """The days' accepted lines -> silver boards, pins and events; returns the event dates touched."""
    withheld = _sync_silver_boards(spark, settings, days, batches["boards"])
    laps("silver_boards")
    if batches["pins"].counts.accepted:
        io.upsert(silver_pins(batches["pins"].accepted), catalog.SILVER_PINS, settings,
                  newer="s.updated_at > t.updated_at", keep_on_update=("first_seen",))
    else:
        io.ensure_table(spark, catalog.SILVER_PINS, settings)
    laps("silver_pins")
    events = silver_events(batches["events"].accepted, withheld).persist()
    touched = touched_dates(events).persist()
    dates = sorted({r["event_date"].isoformat() for r in touched.collect()})
    if dates:
        _insert_silver_events(spark, settings, events, dates)
    else:
        io.ensure_table(spark, catalog.SILVER_EVENTS, settings)
    io.overwrite_where(touched, catalog.TOUCHED_DATES, settings, io.days_predicate(days))
    for frame in (events, touched, withheld):
        frame.unpersist()
    laps("silver_events")
    return dates
