"""The ingest stage: one day of raw logs, or every day of a range in one batch (a history
backfill) -> bronze + quarantine -> silver (see bronze.py and silver.py). Boards go first, so
that withheld boards are known when events reach silver."""
from __future__ import annotations

import datetime as dt
import logging

from pipelines.core.stages import StageContext, StageOutput
from pipelines.ingest.bronze import check_quarantine_share, ingest_streams, summary
from pipelines.ingest.silver import write_silver

log = logging.getLogger(__name__)


def run(ctx: StageContext) -> StageOutput:
    """Ingest one day (or each day of a range) of all streams. Every day's quarantined share is
    checked before anything reaches silver."""
    ingested_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    days = ctx.days()
    batches = ingest_streams(ctx.spark, ctx.settings, days, ingested_at, ctx.laps)
    counts = {stream: batch.counts for stream, batch in batches.items()}
    log.info("ingest %s: %s", ctx.ds, summary(counts))
    try:
        for day in days:
            check_quarantine_share({stream: batch.by_day[day] for stream, batch in batches.items()},
                                   ctx.settings.quarantine_max_share, day)
        dates = write_silver(ctx.spark, ctx.settings, days, batches, ctx.laps)
    finally:
        for batch in batches.values():
            batch.parsed.unpersist()
    return StageOutput(
        rows_in=sum(c.read for c in counts.values()),
        rows_out=sum(c.accepted for c in counts.values()),
        details={"counts": {s: c.by_reason for s, c in counts.items()}, "event_dates": dates,
                 "skipped_files": {s: c.skipped_files for s, c in counts.items() if c.skipped_files},
                 "summary": summary(counts)},
    )
