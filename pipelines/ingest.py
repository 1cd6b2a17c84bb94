"""Ingest: raw JSON lines -> bronze (+ quarantine) -> silver.

Every raw line ends in exactly one of bronze or quarantine. Silver is typed, deduplicated by
key, and carries no PII: no client IP, no user agent, e-mails masked in free text, and
nothing from secret boards.
"""
from __future__ import annotations

import datetime as dt
import logging

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F, types as T

from pipelines import catalog, contract, io
from pipelines.runs import StageResult, versions
from pipelines.settings import Settings

log = logging.getLogger(__name__)

EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
EMAIL_MASK = "[email]"
RAW_LINE_MAX_CHARS = 1000

# Limits on accepted strings: ids and free text.
ID_MAX_CHARS = 128
TEXT_MAX_CHARS = 4096
# An event more than this many days after its file's dt is a client clock error.
FUTURE_TOLERANCE_DAYS = 1

# Reason codes, in the order they are checked.
INVALID_UTF8 = "invalid_utf8"
MALFORMED_JSON = "malformed_json"
WRONG_TYPE = "wrong_type"
MISSING_REQUIRED = "missing_required_field"
OVERSIZE_FIELD = "oversize_field"
BAD_TIMESTAMP = "bad_timestamp"
FUTURE_TIMESTAMP = "future_timestamp"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
REASONS = (INVALID_UTF8, MALFORMED_JSON, WRONG_TYPE, MISSING_REQUIRED, OVERSIZE_FIELD, BAD_TIMESTAMP,
           FUTURE_TIMESTAMP, UNKNOWN_EVENT_TYPE)

_META = {"extra_fields", "dt", "source_file", "line_number", "ingested_at"}
_TIME_FIELDS = {"event_time", "created_at", "updated_at"}


class QuarantineThresholdError(RuntimeError):
    """Too large a share of a day's lines were quarantined."""


def json_schema(stream: str) -> T.StructType:
    """The schema raw lines are parsed with: bronze columns, times as strings, plus a corrupt column."""
    bronze = catalog.BRONZE_BY_STREAM[stream].schema
    fields = [
        T.StructField(f.name, T.StringType() if f.name in _TIME_FIELDS else f.dataType)
        for f in bronze.fields
        if f.name not in _META
    ]
    return T.StructType(fields + [T.StructField("_corrupt_record", T.StringType())])


def _required_present(stream: str) -> Column:
    ok = F.lit(True)
    for name in contract.required_fields(stream):
        ok = ok & F.col(f"p.{name}").isNotNull()
    if stream == "events":
        needs_pin = F.col("p.event_type").isin("impression", "closeup", "click", "save", "hide")
        needs_board = F.col("p.event_type").isin("save", "follow")
        ok = ok & ~(needs_pin & F.col("p.pin_id").isNull()) & ~(needs_board & F.col("p.board_id").isNull())
    return ok


def parsed_lines(lines: DataFrame, stream: str, ds: str, ingested_at: dt.datetime) -> DataFrame:
    """Parse raw lines into the bronze columns plus a `reason` (null when the line is accepted)."""
    schema = json_schema(stream)
    time_fields = [f.name for f in schema.fields if f.name in _TIME_FIELDS]
    parsed = lines.select(
        "value", "source_file", "line_number",
        F.from_json("value", schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt_record"}).alias("p"),
        F.json_object_keys("value").alias("keys"),
    )
    is_corrupt = F.col("p").isNull() | F.col("p._corrupt_record").isNotNull()
    bad_time = F.lit(False)
    for name in time_fields:
        bad_time = bad_time | (F.col(f"p.{name}").isNotNull() & F.try_to_timestamp(F.col(f"p.{name}")).isNull())
    oversize = F.lit(False)
    for f in schema.fields:
        if isinstance(f.dataType, T.StringType) and f.name != "_corrupt_record":
            limit = ID_MAX_CHARS if f.name.endswith("_id") else TEXT_MAX_CHARS
            oversize = oversize | (F.length(F.col(f"p.{f.name}")) > limit)
    day = F.lit(dt.date.fromisoformat(ds))
    reason = (
        F.when(~F.is_valid_utf8("value"), F.lit(INVALID_UTF8))
        .when(is_corrupt & F.col("keys").isNull(), F.lit(MALFORMED_JSON))
        .when(is_corrupt, F.lit(WRONG_TYPE))
        .when(~_required_present(stream), F.lit(MISSING_REQUIRED))
        .when(oversize, F.lit(OVERSIZE_FIELD))
        .when(bad_time, F.lit(BAD_TIMESTAMP))
    )
    if stream == "events":
        event_day = F.to_date(F.try_to_timestamp(F.col("p.event_time")))
        reason = (
            reason.when(F.date_diff(event_day, day) > FUTURE_TOLERANCE_DAYS, F.lit(FUTURE_TIMESTAMP))
            .when(~F.col("p.event_type").isin(*contract.EVENT_TYPES), F.lit(UNKNOWN_EVENT_TYPE))
        )
    known = F.array(*[F.lit(f.name) for f in schema.fields])
    # The map parse runs only for the few lines that carry fields the contract does not know.
    has_extra = F.size(F.array_except(F.col("keys"), known)) > 0
    extra = F.map_filter(F.from_json("value", T.MapType(T.StringType(), T.StringType())),
                         lambda k, _: ~F.array_contains(known, k))
    columns = [
        (F.try_to_timestamp(F.col(f"p.{f.name}")) if f.name in _TIME_FIELDS else F.col(f"p.{f.name}")).alias(f.name)
        for f in catalog.BRONZE_BY_STREAM[stream].schema.fields
        if f.name not in _META
    ]
    return parsed.select(
        *columns,
        F.when(has_extra, extra).alias("extra_fields"),
        day.alias("dt"),
        "source_file",
        "line_number",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
        reason.alias("reason"),
        # Only quarantined lines need their raw text: accepted ones drop it before caching.
        F.when(reason.isNotNull(), F.col("value")).alias("value"),
    )


def bronze_rows(parsed: DataFrame) -> DataFrame:
    return parsed.where(F.col("reason").isNull()).drop("reason", "value")


def quarantine_rows(parsed: DataFrame, stream: str) -> DataFrame:
    return parsed.where(F.col("reason").isNotNull()).select(
        F.lit(stream).alias("stream"),
        "dt",
        "source_file",
        "line_number",
        "reason",
        F.substring(F.make_valid_utf8("value"), 1, RAW_LINE_MAX_CHARS).alias("raw_line"),
        "ingested_at",
    )


def mask_emails(col: Column) -> Column:
    return F.regexp_replace(col, EMAIL_PATTERN, EMAIL_MASK)


def _first_per_key(df: DataFrame, key: str, order: list[Column]) -> DataFrame:
    w = Window.partitionBy(key).orderBy(*order)
    return df.withColumn("_rn", F.row_number().over(w)).where(F.col("_rn") == 1).drop("_rn")


def silver_events(bronze: DataFrame, secret_board_ids: DataFrame) -> DataFrame:
    """One row per event_id (first delivery wins), no PII, no saves/follows of secret boards."""
    first = _first_per_key(bronze, "event_id", [F.col("dt"), F.col("source_file"), F.col("line_number")])
    public = first.join(
        secret_board_ids.select(F.col("board_id").alias("_secret")),
        on=F.col("board_id") == F.col("_secret"),
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
    """Latest version of each pin seen in this batch, with the batch's first/last seen times."""
    return _latest_version(bronze, "pin_id").select(
        "pin_id", "creator_id", "created_at", "updated_at",
        mask_emails(F.col("title")).alias("title"),
        mask_emails(F.col("description")).alias("description"),
        "link", "domain", "interests", "merchant", "price", "first_seen", "last_seen",
    )


def silver_boards(bronze: DataFrame) -> DataFrame:
    """Latest version of each public board; a board whose latest version is secret is dropped."""
    return _latest_version(bronze, "board_id").where(~F.coalesce(F.col("is_secret"), F.lit(False))).select(
        "board_id", "owner_id", "created_at", "updated_at",
        mask_emails(F.col("name")).alias("name"),
        mask_emails(F.col("description")).alias("description"),
        "category", "first_seen", "last_seen",
    )


def secret_board_ids(bronze_boards: DataFrame) -> DataFrame:
    """Boards whose latest known version is secret (restricted zone input)."""
    latest = _first_per_key(bronze_boards, "board_id", [F.col("updated_at").desc(), F.col("dt").desc()])
    return latest.where(F.coalesce(F.col("is_secret"), F.lit(False))).select("board_id")


def _ingest_stream(spark: SparkSession, settings: Settings, stream: str, ds: str, ingested_at: dt.datetime):
    """Raw -> bronze + quarantine for one stream/day. Returns (bronze_df, counts by reason)."""
    lines = io.read_raw_lines(spark, settings, stream, ds)
    parsed = parsed_lines(lines, stream, ds, ingested_at).persist()
    counts = {row["reason"] or "accepted": row["n"] for row in parsed.groupBy("reason").agg(F.count("*").alias("n")).collect()}
    io.overwrite_where(bronze_rows(parsed), catalog.BRONZE_BY_STREAM[stream], settings, f"dt = '{ds}'")
    io.overwrite_where(
        quarantine_rows(parsed, stream), catalog.QUARANTINE, settings, f"stream = '{stream}' AND dt = '{ds}'"
    )
    parsed.unpersist()
    return counts


def check_quarantine_share(counts: dict[str, dict[str, int]], max_share: float, ds: str) -> None:
    read = sum(sum(c.values()) for c in counts.values())
    bad = {
        f"{stream}:{reason}": n
        for stream, c in counts.items()
        for reason, n in c.items()
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


def summary(counts: dict[str, dict[str, int]]) -> str:
    """Lines read, accepted and quarantined by reason, per stream: for people."""
    parts = []
    for stream, c in counts.items():
        read = sum(c.values())
        bad = ", ".join(f"{r}={n:,}" for r, n in sorted(c.items()) if r != "accepted")
        parts.append(f"{stream}: {read:,} read, {c.get('accepted', 0):,} accepted, "
                     f"{read - c.get('accepted', 0):,} quarantined" + (f" ({bad})" if bad else ""))
    return "; ".join(parts)


def run(spark: SparkSession, ds: str, settings: Settings) -> StageResult:
    """Ingest one day of all streams (boards first, so secret boards are known for events)."""
    ingested_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    counts: dict[str, dict[str, int]] = {}
    for stream in ("boards", "pins", "events"):
        counts[stream] = _ingest_stream(spark, settings, stream, ds, ingested_at)
        log.info("ingest %s %s: %s", ds, stream, counts[stream])
    log.info("ingest %s: %s", ds, summary(counts))
    check_quarantine_share(counts, settings.quarantine_max_share, ds)

    day = f"dt = '{ds}'"
    bronze_boards_all = io.read_table(spark, catalog.BRONZE_BOARDS, settings)
    if counts["boards"].get("accepted"):
        boards_today = bronze_boards_all.where(day)
        io.upsert(silver_boards(boards_today), catalog.SILVER_BOARDS, settings,
                  newer="s.updated_at > t.updated_at", keep_on_update=("first_seen",))
        turned_secret = secret_board_ids(boards_today).persist()
        if turned_secret.count():
            # A board made secret later takes its history with it: nothing of it stays downstream.
            io.delete_matching(turned_secret, catalog.SILVER_BOARDS, settings, "board_id")
            io.delete_matching(turned_secret, catalog.SILVER_EVENTS, settings, "board_id")
        turned_secret.unpersist()
    else:
        io.ensure_table(spark, catalog.SILVER_BOARDS, settings)
    if counts["pins"].get("accepted"):
        pins_today = io.read_table(spark, catalog.BRONZE_PINS, settings).where(day)
        io.upsert(silver_pins(pins_today), catalog.SILVER_PINS, settings,
                  newer="s.updated_at > t.updated_at", keep_on_update=("first_seen",))
    else:
        io.ensure_table(spark, catalog.SILVER_PINS, settings)

    events = silver_events(
        io.read_table(spark, catalog.BRONZE_EVENTS, settings).where(day), secret_board_ids(bronze_boards_all)
    ).persist()
    touched = touched_dates(events, ds).persist()
    dates = sorted(r["event_date"].isoformat() for r in touched.collect())
    if dates:
        in_dates = ", ".join(f"DATE'{d}'" for d in dates)
        io.insert_new(events, catalog.SILVER_EVENTS, settings, prune=f"t.event_date IN ({in_dates})")
    else:
        io.ensure_table(spark, catalog.SILVER_EVENTS, settings)
    io.overwrite_where(touched, catalog.TOUCHED_DATES, settings, f"ds = '{ds}'")
    events.unpersist()
    touched.unpersist()

    outputs = (catalog.BRONZE_EVENTS, catalog.BRONZE_PINS, catalog.BRONZE_BOARDS, catalog.QUARANTINE,
               catalog.SILVER_EVENTS, catalog.SILVER_PINS, catalog.SILVER_BOARDS, catalog.TOUCHED_DATES)
    read = sum(sum(c.values()) for c in counts.values())
    accepted = sum(c.get("accepted", 0) for c in counts.values())
    return StageResult(
        stage="ingest",
        ds=ds,
        rows_in=read,
        rows_out=accepted,
        output_versions=versions(spark, settings, *outputs),
        outputs={t.name: t.path(settings) for t in outputs},
        details={"counts": counts, "event_dates": dates, "summary": summary(counts)},
    )
