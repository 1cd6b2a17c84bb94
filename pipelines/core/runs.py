"""What a stage returns, and the ops record of it (pipeline_runs)."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator

from pyspark.sql import SparkSession

from pipelines.core import catalog, io
from pipelines.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class StageResult:
    stage: str
    ds: str
    rows_in: int = 0
    rows_out: int = 0
    input_versions: dict[str, int] = field(default_factory=dict)
    output_versions: dict[str, int] = field(default_factory=dict)
    previous_versions: dict[str, int] = field(default_factory=dict)  # outputs before the run
    outputs: dict[str, str] = field(default_factory=dict)  # table name -> path
    details: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0


class Laps:
    """Seconds per named step of a stage (for its details, the logs and the benchmarks):
    `laps("parse")` records the time since the previous lap."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self._last = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.steps[step] = round(self.steps.get(step, 0.0) + now - self._last, 2)
        self._last = now


def versions(spark: SparkSession, settings: Settings, *tables: catalog.Table) -> dict[str, int]:
    """Current Delta version of each existing table (lineage for what a stage read or wrote)."""
    found = {t.name: io.table_version(spark, t, settings) for t in tables}
    return {name: v for name, v in found.items() if v is not None}


def record_run(
    spark: SparkSession,
    settings: Settings,
    run_id: str,
    result: StageResult,
    status: str,
    started_at: dt.datetime,
    message: str | None = None,
) -> None:
    row = {
        "run_id": run_id,
        "ds": dt.date.fromisoformat(result.ds),
        "stage": result.stage,
        "status": status,
        "rows_in": result.rows_in,
        "rows_out": result.rows_out,
        "input_versions": result.input_versions,
        "output_versions": result.output_versions,
        "started_at": started_at,
        "seconds": float(result.seconds),
        "message": message,
        "details": json.dumps(result.details, default=str, sort_keys=True) if result.details else None,
    }
    _record(lambda: io.append(spark.createDataFrame([row], catalog.PIPELINE_RUNS.schema), catalog.PIPELINE_RUNS,
                              settings))


def record_validation(
    spark: SparkSession,
    settings: Settings,
    run_id: str,
    ds: str,
    results: list,
    table_versions: dict[str, int],
) -> None:
    """Append one validation_results row per gated table (results: expectations.gate.GateResult)."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    rows = [
        {
            "run_id": run_id,
            "ds": dt.date.fromisoformat(ds),
            "table_name": r.table,
            "suite": r.suite,
            "success": r.success,
            "evaluated": r.evaluated,
            "failed_expectations": list(r.failed),
            "table_version": table_versions.get(r.table),
            "validated_at": now,
        }
        for r in results
    ]
    _record(lambda: io.append(spark.createDataFrame(rows, catalog.VALIDATION_RESULTS.schema),
                              catalog.VALIDATION_RESULTS, settings))


class _Writer:
    """One thread that appends ops rows in the order they were recorded."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ops-records")
        self.pending: list[Future] = []

    def wait(self) -> list[BaseException]:
        """Wait for every append recorded so far; the errors of those that failed."""
        done, self.pending = self.pending, []
        return [e for e in (f.exception() for f in done) if e is not None]


_WRITER: list[_Writer] = []  # the writer of the outermost records_in_background block, if any


def _record(append: Callable[[], object]) -> None:
    if _WRITER:
        _WRITER[0].pending.append(_WRITER[0].pool.submit(append))
    else:
        append()


@contextlib.contextmanager
def records_in_background() -> Iterator[None]:
    """Within the block, ops rows (pipeline_runs, validation_results) are appended by one
    background thread, in order, while the run goes on; leaving the block waits for them (also
    when the block raises) and raises the first append that failed. A nested block shares the
    thread and waits for everything recorded so far on its way out.

    Why: each record is a Delta commit of one small file, ~0.35 s (1.3 s on every tenth
    commit, which writes a checkpoint), and a day records 37 of them, after every stage and
    gate step: on a small day that was 12-15 s of 81-90 s, in series (BENCHMARKS.md). A kill
    can lose the records of the last steps, as it could always lose the one of the step it
    interrupted; the tables those steps wrote are committed either way."""
    outermost = not _WRITER
    if outermost:
        _WRITER.append(_Writer())
    writer = _WRITER[0]
    try:
        yield
    except BaseException:
        for error in writer.wait():
            log.warning("an ops record was not written: %s", error)
        raise
    else:
        errors = writer.wait()
        if errors:
            raise errors[0]
    finally:
        if outermost:
            _WRITER.clear()
            writer.pool.shutdown(wait=True)
