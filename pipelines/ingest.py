"""Ingest: raw JSON lines -> bronze (+ quarantine) -> silver.

Every raw line ends in exactly one of bronze or quarantine; a damaged file keeps its complete
lines and adds one quarantine row for the damage. Silver is typed, deduplicated by key, and
carries no PII: no client IP, no user agent, e-mail and IP addresses masked in every free-text
and URL field, and nothing from secret boards (or from boards whose latest line could not be
read: they are withheld until a valid line says they are public).
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipelines import catalog, contract, io, raw_files
from pipelines.raw_lines import parsed_lines
from pipelines.runs import Laps, StageResult, versions
from pipelines.settings import Settings

log = logging.getLogger(__name__)

RAW_LINE_MAX_CHARS = 1000
EMAIL_MASK = "[email]"
IP_MASK = "[ip]"
# Internationalised addresses too (letters and digits of any script), and @ written as %40 in URLs.
EMAIL_PATTERN = (r"[\p{L}\p{N}._%+'-]+(?:@|%40)[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?"
                 r"(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)+")
IPV4_PATTERN = r"(?<![0-9])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9])"
IPV6_PATTERN = (r"(?i)(?<![0-9a-z:])(?=[0-9a-f:]*[0-9a-f])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}"
                r"|(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?::(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?)"
                r"(?:%[0-9a-z]+)?(?![0-9a-z:])")


class QuarantineThresholdError(RuntimeError):
    """Too large a share of a day's lines were quarantined."""


@dataclass
class StreamCounts:
    """What one stream of one day held: lines by outcome, and the files not read."""

    by_reason: dict[str, int] = field(default_factory=dict)   # "accepted" or a reason code
    skipped_files: list[str] = field(default_factory=list)

    @property
    def read(self) -> int:
        return sum(self.by_reason.values())

    @property
    def accepted(self) -> int:
        return self.by_reason.get("accepted", 0)


def scrub(col: Column) -> Column:
    """Free text or a URL with e-mail addresses and IPv4/IPv6 addresses masked. Each pattern
    runs only on text holding the character it needs (@ or %40, a dot, a colon)."""
    masked = F.when(col.contains("@") | col.contains("%40"), F.regexp_replace(col, EMAIL_PATTERN, EMAIL_MASK)
                    ).otherwise(col)
    masked = F.when(masked.contains("."), F.regexp_replace(masked, IPV4_PATTERN, IP_MASK)).otherwise(masked)
    return F.when(masked.contains(":"), F.regexp_replace(masked, IPV6_PATTERN, IP_MASK)).otherwise(masked)


def bronze_rows(parsed: DataFrame) -> DataFrame:
    return parsed.where(F.col("reason").isNull()).drop("reason", "detail", "record_key", "value")


def quarantine_rows(parsed: DataFrame, stream: str) -> DataFrame:
    return parsed.where(F.col("reason").isNotNull()).select(
        F.lit(stream).alias("stream"), "dt", "source_file", "line_number", "reason", "detail", "record_key",
        F.substring(F.make_valid_utf8("value"), 1, RAW_LINE_MAX_CHARS).alias("raw_line"), "ingested_at",
    )


def damaged_file_rows(spark: SparkSession, day: raw_files.RawDay, ingested_at: dt.datetime) -> DataFrame:
    """One quarantine row per damaged file: the line that was cut, and where."""
    rows = [(day.stream, dt.date.fromisoformat(day.ds), f"file:{d.path}", d.cut_line, d.reason, d.detail, None,
             d.fragment.decode("utf-8", "replace")[:RAW_LINE_MAX_CHARS], ingested_at) for d in day.damaged]
    return spark.createDataFrame(rows, catalog.QUARANTINE.schema)


def _first_per_key(df: DataFrame, key: str, order: list[Column]) -> DataFrame:
    w = Window.partitionBy(key).orderBy(*order)
    return df.withColumn("_rn", F.row_number().over(w)).where(F.col("_rn") == 1).drop("_rn")


def silver_events(bronze: DataFrame, withheld_board_ids: DataFrame) -> DataFrame:
    """One row per event_id (first delivery wins), no PII, no saves/follows of withheld boards."""
    first = _first_per_key(bronze, "event_id", [F.col("dt"), F.col("source_file"), F.col("line_number")])
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
        F.col("dt").alias("ingest_dt"),
    )


def _latest_version(bronze: DataFrame, key: str) -> DataFrame:
    """The newest version of each key in a batch, with the batch's first/last seen times."""
    seen = Window.partitionBy(key)
    return _first_per_key(
        bronze.withColumn("first_seen", F.min("updated_at").over(seen)).withColumn("last_seen", F.max("updated_at").over(seen)),
        key,
        [F.col("updated_at").desc(), F.col("line_number").desc()],
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
    delivered = F.struct("dt", "source_file", "line_number")
    valid = _first_per_key(bronze_boards, "board_id", [F.col("updated_at").desc(), F.col("dt").desc(),
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


@dataclass
class StreamBatch:
    """One stream of one day after bronze and quarantine are written: its counts, and its
    accepted lines, cached, for the silver step (so bronze is not read back)."""

    counts: StreamCounts
    parsed: DataFrame

    @property
    def accepted(self) -> DataFrame:
        return bronze_rows(self.parsed)


def _ingest_stream(spark: SparkSession, settings: Settings, stream: str, ds: str,
                   ingested_at: dt.datetime, laps: Laps) -> StreamBatch:
    """Raw -> bronze + quarantine for one stream and day; the parsed lines stay cached."""
    day = raw_files.list_day(settings.raw_dir, stream, ds)
    counts = StreamCounts(skipped_files=list(day.skipped))
    if stream == "events" and day.input_files == 0:
        where = "its folder does not exist" if not day.exists else "it holds no *.jsonl.gz files"
        raise io.MissingInputError(
            f"no raw events for {ds} under {day.folder} ({where}); generate logs with "
            f"`tastegraph generate --out {settings.raw_dir}` or point TASTEGRAPH_RAW_ROOT at the raw folder")
    for name in day.skipped:
        log.warning("ingest %s %s: skipped %s (only *%s files are input)", ds, stream, name, contract.FILE_SUFFIX)
    for damage in day.damaged:
        log.warning("ingest %s %s: %s is damaged (%s): %s", ds, stream, damage.path, damage.reason, damage.detail)
    laps(f"{stream}_files")
    parsed = parsed_lines(io.read_raw_lines(spark, day), stream, ds, ingested_at,
                          settings.earliest_event_date).persist()
    # The bronze write parses every line once and fills the cache; the rest reads the cache.
    io.overwrite_where(bronze_rows(parsed), catalog.BRONZE_BY_STREAM[stream], settings, f"dt = '{ds}'")
    laps(f"{stream}_parse_bronze")
    quarantined = quarantine_rows(parsed, stream)
    if day.damaged:
        quarantined = quarantined.unionByName(damaged_file_rows(spark, day, ingested_at))
    io.overwrite_where(quarantined, catalog.QUARANTINE, settings, f"stream = '{stream}' AND dt = '{ds}'")
    counts.by_reason = {row["reason"] or "accepted": row["n"]
                        for row in parsed.groupBy("reason").agg(F.count("*").alias("n")).collect()}
    for damage in day.damaged:
        counts.by_reason[damage.reason] = counts.by_reason.get(damage.reason, 0) + 1
    laps(f"{stream}_quarantine")
    return StreamBatch(counts, parsed)


def check_quarantine_share(counts: dict[str, StreamCounts], max_share: float, ds: str) -> None:
    read = sum(c.read for c in counts.values())
    bad = {
        f"{stream}:{reason}": n
        for stream, c in counts.items()
        for reason, n in c.by_reason.items()
        if reason != "accepted"
    }
    share = sum(bad.values()) / read if read else 0.0
    if share > max_share:
        top = ", ".join(f"{k} ({v:,})" for k, v in sorted(bad.items(), key=lambda kv: -kv[1])[:3])
        raise QuarantineThresholdError(
            f"ingest {ds}: {share:.2%} of {read:,} lines were quarantined, above the "
            f"{max_share:.2%} limit (TASTEGRAPH_QUARANTINE_MAX_SHARE). Top reasons: {top}. "
            f"Inspect them in the quarantine table; bronze and quarantine were written, silver was not."
        )


def touched_dates(events: DataFrame, ds: str) -> DataFrame:
    """The event dates a day's silver events landed in, with counts."""
    return events.groupBy("event_date").agg(F.count("*").alias("events")).select(
        F.lit(dt.date.fromisoformat(ds)).alias("ds"), "event_date", "events"
    )


def summary(counts: dict[str, StreamCounts]) -> str:
    """Lines read, accepted and quarantined by reason, and files skipped, per stream: for people."""
    parts = []
    for stream, c in counts.items():
        bad = ", ".join(f"{r}={n:,}" for r, n in sorted(c.by_reason.items()) if r != "accepted")
        part = (f"{stream}: {c.read:,} read, {c.accepted:,} accepted, {c.read - c.accepted:,} quarantined"
                + (f" ({bad})" if bad else ""))
        if c.skipped_files:
            part += f", {len(c.skipped_files)} file(s) skipped: {', '.join(c.skipped_files)}"
        parts.append(part)
    return "; ".join(parts)


def _sync_silver_boards(spark: SparkSession, settings: Settings, ds: str, boards: StreamBatch) -> DataFrame:
    """Upsert the day's boards; boards that became withheld on this day take their history
    out of silver. Returns the boards withheld by everything ingested so far, which is what
    keeps them out of silver even when an older day is re-run."""
    bronze = io.read_or_empty(spark, catalog.BRONZE_BOARDS, settings)
    quarantined = io.read_or_empty(spark, catalog.QUARANTINE, settings).where(
        (F.col("stream") == "boards") & F.col("record_key").isNotNull())
    withheld = withheld_board_ids(bronze, quarantined).persist()
    # A board can become withheld on this day only if it is withheld now and has a line on
    # this day; for those few, compare with what the days before said.
    day = F.col("dt") == F.lit(ds).cast("date")
    touched = bronze.where(day).select("board_id").unionByName(
        quarantined.where(day).select(F.col("record_key").alias("board_id")))
    candidates = withheld.join(touched, on="board_id", how="left_semi").distinct()
    mine_b = bronze.join(candidates, on="board_id", how="left_semi")
    mine_q = quarantined.join(candidates.withColumnRenamed("board_id", "record_key"), on="record_key",
                              how="left_semi")
    before = F.col("dt") < F.lit(ds).cast("date")
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


def _write_silver(spark: SparkSession, settings: Settings, ds: str, batches: dict[str, StreamBatch],
                  laps: Laps) -> list[str]:
    """The day's accepted lines -> silver boards, pins and events; returns the event dates touched."""
    withheld = _sync_silver_boards(spark, settings, ds, batches["boards"])
    laps("silver_boards")
    if batches["pins"].counts.accepted:
        io.upsert(silver_pins(batches["pins"].accepted), catalog.SILVER_PINS, settings,
                  newer="s.updated_at > t.updated_at", keep_on_update=("first_seen",))
    else:
        io.ensure_table(spark, catalog.SILVER_PINS, settings)
    laps("silver_pins")
    events = silver_events(batches["events"].accepted, withheld).persist()
    touched = touched_dates(events, ds).persist()
    dates = sorted(r["event_date"].isoformat() for r in touched.collect())
    if dates:
        _insert_silver_events(spark, settings, events, dates)
    else:
        io.ensure_table(spark, catalog.SILVER_EVENTS, settings)
    io.overwrite_where(touched, catalog.TOUCHED_DATES, settings, f"ds = '{ds}'")
    for frame in (events, touched, withheld):
        frame.unpersist()
    laps("silver_events")
    return dates


def run(spark: SparkSession, ds: str, settings: Settings) -> StageResult:
    """Ingest one day of all streams (boards first, so withheld boards are known for events)."""
    ingested_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    laps = Laps()
    batches: dict[str, StreamBatch] = {}
    for stream in ("boards", "pins", "events"):
        batches[stream] = _ingest_stream(spark, settings, stream, ds, ingested_at, laps)
        log.info("ingest %s %s: %s", ds, stream, batches[stream].counts.by_reason)
    counts = {stream: batch.counts for stream, batch in batches.items()}
    log.info("ingest %s: %s", ds, summary(counts))
    try:
        check_quarantine_share(counts, settings.quarantine_max_share, ds)
        dates = _write_silver(spark, settings, ds, batches, laps)
    finally:
        for batch in batches.values():
            batch.parsed.unpersist()

    outputs = (catalog.BRONZE_EVENTS, catalog.BRONZE_PINS, catalog.BRONZE_BOARDS, catalog.QUARANTINE,
               catalog.SILVER_EVENTS, catalog.SILVER_PINS, catalog.SILVER_BOARDS, catalog.TOUCHED_DATES)
    return StageResult(
        stage="ingest",
        ds=ds,
        rows_in=sum(c.read for c in counts.values()),
        rows_out=sum(c.accepted for c in counts.values()),
        output_versions=versions(spark, settings, *outputs),
        outputs={t.name: t.path(settings) for t in outputs},
        details={"counts": {s: c.by_reason for s, c in counts.items()}, "event_dates": dates,
                 "skipped_files": {s: c.skipped_files for s, c in counts.items() if c.skipped_files},
                 "summary": summary(counts), "step_seconds": laps.steps},
    )
