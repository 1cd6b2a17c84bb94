"""Ingest, first half: raw lines -> bronze (accepted lines) + quarantine (the rest, with a reason).

Every raw line ends in exactly one of bronze or quarantine; a damaged file keeps its complete
lines and adds one quarantine row for the damage. A day whose quarantined share is above the
limit stops here: bronze and quarantine are written, silver is not.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.core import catalog, contract, io, raw_files
from pipelines.core.runs import Laps
from pipelines.core.settings import Settings, TastegraphError
from pipelines.ingest.raw_lines import parsed_lines

log = logging.getLogger(__name__)

RAW_LINE_MAX_CHARS = 1000


class QuarantineThresholdError(TastegraphError, RuntimeError):
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


def bronze_rows(parsed: DataFrame) -> DataFrame:
    return parsed.where(F.col("reason").isNull()).drop("reason", "detail", "record_key", "value")


def quarantine_rows(parsed: DataFrame, stream: str) -> DataFrame:
    return parsed.where(F.col("reason").isNotNull()).select(
        F.lit(stream).alias("stream"), "ds", "source_file", "line_number", "reason", "detail", "record_key",
        F.substring(F.make_valid_utf8("value"), 1, RAW_LINE_MAX_CHARS).alias("raw_line"), "ingested_at",
    )


def damaged_file_rows(spark: SparkSession, days: list[raw_files.RawDay], ingested_at: dt.datetime) -> DataFrame:
    """One quarantine row per damaged file: the line that was cut, and where."""
    rows = [(day.stream, dt.date.fromisoformat(day.ds), f"file:{d.path}", d.cut_line, d.reason, d.detail, None,
             d.fragment.decode("utf-8", "replace")[:RAW_LINE_MAX_CHARS], ingested_at)
            for day in days for d in day.damaged]
    return spark.createDataFrame(rows, catalog.QUARANTINE.schema)


STREAMS = ("boards", "pins", "events")


@dataclass
class StreamBatch:
    """One stream of one day (or of each day of a range) after bronze and quarantine are
    written: its counts per day, and its accepted lines, cached, for the silver step (so
    bronze is not read back)."""

    by_day: dict[str, StreamCounts]
    parsed: DataFrame

    @property
    def counts(self) -> StreamCounts:
        """The counts of all its days together."""
        total = StreamCounts()
        for counts in self.by_day.values():
            total.skipped_files += counts.skipped_files
            for reason, n in counts.by_reason.items():
                total.by_reason[reason] = total.by_reason.get(reason, 0) + n
        return total

    @property
    def accepted(self) -> DataFrame:
        return bronze_rows(self.parsed)


def _listed(settings: Settings, stream: str, ds: str) -> raw_files.RawDay:
    day = raw_files.list_day(settings.raw_dir, stream, ds)
    if stream == "events" and day.input_files == 0:
        where = "its folder does not exist" if not day.exists else "it holds no *.jsonl.gz files"
        raise io.MissingInputError(
            f"no raw events for {ds} under {day.folder} ({where}); generate logs with "
            f"`tastegraph generate --out {settings.raw_dir}` or point TASTEGRAPH_RAW_ROOT at the raw folder")
    for name in day.skipped:
        log.warning("ingest %s %s: skipped %s (only *%s files are input)", ds, stream, name, contract.FILE_SUFFIX)
    for damage in day.damaged:
        log.warning("ingest %s %s: %s is damaged (%s): %s", ds, stream, damage.path, damage.reason, damage.detail)
    return day


def _bronze(spark: SparkSession, settings: Settings, stream: str, listed: list[raw_files.RawDay],
            ingested_at: dt.datetime) -> DataFrame:
    """Raw -> bronze for one stream; returns its parsed lines, cached. The bronze write parses
    every line once and fills the cache; the rest of the ingest reads the cache."""
    parsed = parsed_lines(io.read_raw_lines(spark, listed), stream, ingested_at,
                          settings.earliest_event_date).persist()
    io.overwrite_where(bronze_rows(parsed), catalog.BRONZE_BY_STREAM[stream], settings,
                       io.days_predicate([day.ds for day in listed]))
    return parsed


def ingest_streams(spark: SparkSession, settings: Settings, days: list[str], ingested_at: dt.datetime,
                   laps: Laps) -> dict[str, StreamBatch]:
    """Raw -> bronze + quarantine for every stream over a contiguous run of days (one day, or a
    history backfill's range, in one scan per stream); the parsed lines stay cached (dropped
    again if anything here fails). One quarantine write and one count cover all three streams
    (each write and job has a fixed cost of its own, which is most of the time of a small day)."""
    listed = {stream: [_listed(settings, stream, ds) for ds in days] for stream in STREAMS}
    laps("files")
    parsed: dict[str, DataFrame] = {}
    try:
        for stream in STREAMS:
            parsed[stream] = _bronze(spark, settings, stream, listed[stream], ingested_at)
            laps(f"{stream}_parse_bronze")
        damaged = [day for stream in STREAMS for day in listed[stream] if day.damaged]
        quarantined = reduce(DataFrame.unionByName, [quarantine_rows(parsed[s], s) for s in STREAMS])
        if damaged:
            quarantined = quarantined.unionByName(damaged_file_rows(spark, damaged, ingested_at))
        io.overwrite_where(quarantined, catalog.QUARANTINE, settings, io.days_predicate(days))
        by_day = _counts(days, listed, parsed)
    except BaseException:
        for frame in parsed.values():
            frame.unpersist()
        raise
    laps("quarantine")
    return {stream: StreamBatch(by_day[stream], parsed[stream]) for stream in STREAMS}


def _counts(days: list[str], listed: dict[str, list[raw_files.RawDay]],
            parsed: dict[str, DataFrame]) -> dict[str, dict[str, StreamCounts]]:
    """Lines by outcome per stream and day (one Spark job for all streams), damaged files
    counted under their reason, and the files each day skipped."""
    by_day = {stream: {day.ds: StreamCounts(skipped_files=[name if len(days) == 1 else f"dt={day.ds}/{name}"
                                                           for name in day.skipped]) for day in listed[stream]}
              for stream in STREAMS}
    outcomes = reduce(DataFrame.unionByName, [parsed[stream].select(F.lit(stream).alias("stream"), "ds", "reason")
                                              for stream in STREAMS])
    for row in outcomes.groupBy("stream", "ds", "reason").agg(F.count("*").alias("n")).collect():
        by_day[row["stream"]][row["ds"].isoformat()].by_reason[row["reason"] or "accepted"] = row["n"]
    for stream in STREAMS:
        for day in listed[stream]:
            for damage in day.damaged:
                counts = by_day[stream][day.ds].by_reason
                counts[damage.reason] = counts.get(damage.reason, 0) + 1
    return by_day


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
