"""A stage declared once, as data, and the runner that owns its bookkeeping.

A `Stage` names its function, the catalog tables it reads and writes, and the suites that
gate what it writes (Kedro's `node(func, inputs, outputs)`, Dagster's assets). The registry
(`pipelines/registry.py`) lists them in order; the Prefect flow, spark-submit, the CLI, the
benchmarks and the tests all iterate over it.

`run_stage` pins the Delta version of every declared input at the start, runs the stage body
with reads bound to those versions (a read of an undeclared table fails, see
`io.reads_of`), times it, records exactly those versions and the outputs' new versions in
`ops.pipeline_runs`, and returns the result. A stage body is pure transforms plus the writes
of its declared outputs, and returns a `StageOutput`.
"""
from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Mapping

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.core import catalog, io
from pipelines.core.runs import Laps, StageResult, record_run, versions
from pipelines.core.settings import Settings


@dataclass(frozen=True)
class StageOutput:
    """What a stage body reports: rows read and written, and details for people and benchmarks."""

    rows_in: int = 0
    rows_out: int = 0
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass
class StageContext:
    """What a stage body gets: the session, settings and day, readers bound to the pinned
    input versions, and a lap timer for its steps."""

    spark: SparkSession
    settings: Settings
    ds: str
    stage: "Stage"
    input_versions: dict[str, int | None]
    through: str | None = None  # last day of a range run (stages that can take one)
    run_id: str | None = None
    laps: Laps = field(default_factory=Laps)

    def read(self, table: catalog.Table) -> DataFrame:
        """A declared input at its pinned version, or an output at its latest version."""
        return io.read_table(self.spark, table, self.settings)

    def read_or_empty(self, table: catalog.Table) -> DataFrame:
        return io.read_or_empty(self.spark, table, self.settings)

    def version(self, table: catalog.Table) -> int | None:
        return io.table_version(self.spark, table, self.settings)

    def days(self) -> list[str]:
        """ds, or every day from ds to through."""
        first, last = dt.date.fromisoformat(self.ds), dt.date.fromisoformat(self.through or self.ds)
        return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]

    def many_dates(self, dates: list) -> bool:
        """Whether a write of `dates` is a history's (a range run, or one day that touched
        `io.MANY_PARTITIONS` dates or more): one file per date (`io.overwrite_where`'s
        `by_partition`)."""
        return self.through is not None or len(dates) >= io.MANY_PARTITIONS

    def touched_dates(self) -> list[str]:
        """The event dates the ingest of ds (or of ds..through) touched (late events touch
        earlier dates); ds itself when unknown. Stages that keep per-event-date rows rewrite these."""
        last = self.through or self.ds
        touched = self.read_or_empty(catalog.TOUCHED_DATES).where(
            F.col("ds").between(F.lit(self.ds).cast("date"), F.lit(last).cast("date")))
        dates = sorted({r["event_date"].isoformat() for r in touched.select("event_date").distinct().collect()})
        return dates or [self.ds]


@dataclass(frozen=True)
class Stage:
    """One stage, declared as data."""

    name: str
    run: Callable[[StageContext], StageOutput]
    reads: tuple[catalog.Table, ...]
    writes: tuple[catalog.Table, ...]
    suites: Mapping[str, str] = field(default_factory=dict)  # table name -> suite that gates it
    description: str = ""
    takes_range: bool = False  # the stage can process ds..through in one run

    def __post_init__(self) -> None:
        unknown = set(self.suites) - {t.name for t in self.writes}
        if unknown:
            raise ValueError(f"stage {self.name} gates tables it does not write: {sorted(unknown)}")


def new_run_id() -> str:
    return uuid.uuid4().hex


def run_stage(stage: Stage, ds: str, settings: Settings, spark: SparkSession, run_id: str | None = None,
              through: str | None = None) -> StageResult:
    """Run one stage for `ds` (through `through` for stages that take a range) with its inputs
    pinned, and record it in ops.pipeline_runs, failed or not."""
    with io.runner_scope():
        return _run_stage(stage, ds, settings, spark, run_id, through)


def _run_stage(stage: Stage, ds: str, settings: Settings, spark: SparkSession, run_id: str | None,
               through: str | None) -> StageResult:
    run_id = run_id or new_run_id()
    started_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    t0 = time.perf_counter()
    pinned = {t.name: io.table_version(spark, t, settings) for t in stage.reads}
    before = versions(spark, settings, *stage.writes)
    ctx = StageContext(spark, settings, ds, stage, pinned, through if stage.takes_range else None, run_id)
    inputs = {name: v for name, v in pinned.items() if v is not None}
    try:
        with io.reads_of(stage.name, pinned, {t.name for t in stage.writes}):
            out = stage.run(ctx)
    except Exception as exc:
        failed = StageResult(stage=stage.name, ds=ds, input_versions=inputs, seconds=time.perf_counter() - t0,
                             details={"step_seconds": ctx.laps.steps})
        record_run(spark, settings, run_id, failed, "failed", started_at, message=str(exc)[:2000])
        raise
    result = StageResult(
        stage=stage.name, ds=ds, rows_in=out.rows_in, rows_out=out.rows_out, input_versions=inputs,
        output_versions=versions(spark, settings, *stage.writes), previous_versions=before,
        outputs={t.name: t.path(settings) for t in stage.writes},
        details={**out.details, "step_seconds": ctx.laps.steps} if ctx.laps.steps else dict(out.details),
        seconds=time.perf_counter() - t0,
    )
    record_run(spark, settings, run_id, result, "success", started_at)
    return result
