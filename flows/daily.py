"""The daily flow: ingest -> graph -> feature tables -> GX gate -> Feast apply + materialize.

One SparkSession serves the whole run (tasks run in the flow's process and share it).
Tasks retry only on transient failures; bad data or configuration fails at once with a
message that says what to fix.
"""
from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Callable

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.context import get_run_context
from py4j.protocol import Py4JNetworkError

from expectations import gate
from flows import serving
from pipelines import catalog, io
from pipelines.feature_tables import snapshot_time
from pipelines.jobs import run_stage
from pipelines.runs import StageResult, record_run, record_validation, versions
from pipelines.settings import Settings, load_settings
from pipelines.spark import get_spark

SPARK_STAGES = ("ingest", "graph", "pin_pin", "related_pins", "user_candidates", "feature_tables")
TRANSIENT_ERRORS = (ConnectionError, TimeoutError, Py4JNetworkError)
TRANSIENT_MARKERS = ("ConcurrentAppendException", "ConcurrentWriteException", "ConcurrentDeleteReadException")


def transient_only(task, task_run, state) -> bool:
    """Prefect retry condition: retry network/concurrency hiccups, never bad data or config."""
    exc = state.data if isinstance(getattr(state, "data", None), BaseException) else None
    if exc is None:
        try:
            state.result(raise_on_failure=True)
        except BaseException as raised:  # noqa: BLE001 - we only classify it
            exc = raised
    return isinstance(exc, TRANSIENT_ERRORS) or any(m in repr(exc) for m in TRANSIENT_MARKERS)


def _run_id() -> str:
    try:
        return str(get_run_context().flow_run.id)
    except Exception:  # noqa: BLE001 - outside a flow run
        return uuid.uuid4().hex


def _recorded(settings: Settings, run_id: str, stage: str, ds: str, body: Callable[[], StageResult]) -> StageResult:
    """Run a stage body, time it, and write its pipeline_runs row (success or failure)."""
    spark = get_spark(settings)
    started_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    t0 = time.perf_counter()
    try:
        result = body()
    except Exception as exc:
        failed = StageResult(stage=stage, ds=ds, seconds=time.perf_counter() - t0)
        record_run(spark, settings, run_id, failed, "failed", started_at, message=str(exc)[:2000])
        raise
    result.seconds = time.perf_counter() - t0
    record_run(spark, settings, run_id, result, "success", started_at)
    return result


@task(task_run_name="{stage} {ds}", cache_policy=NONE, retry_condition_fn=transient_only)
def spark_stage(stage: str, ds: str, settings: Settings, run_id: str) -> StageResult:
    logger = get_run_logger()
    logger.info("%s %s: starting", stage, ds)
    result = _recorded(settings, run_id, stage, ds, lambda: run_stage(stage, ds, settings, get_spark(settings)))
    logger.info("%s %s: %s rows in, %s rows out, %.1fs", stage, ds, f"{result.rows_in:,}", f"{result.rows_out:,}", result.seconds)
    if "summary" in result.details:
        logger.info("%s %s: %s", stage, ds, result.details["summary"])
    return result


def gate_frames(settings: Settings, ds: str) -> tuple[dict, dict[str, int]]:
    """The day's slice of every gated table, and the table versions that slice was read at."""
    spark = get_spark(settings)
    day = dt.date.fromisoformat(ds)
    gated = {
        catalog.SILVER_EVENTS: f"event_date = DATE'{day}'",
        catalog.PIN_STATS: f"ds = DATE'{day}'",
        catalog.USER_STATS: f"ds = DATE'{day}'",
    }
    table_versions = versions(spark, settings, *gated)
    frames = {
        t.name: io.read_table(spark, t, settings, version=table_versions[t.name]).where(where)
        for t, where in gated.items()
    }
    return frames, table_versions


@task(task_run_name="gate {ds}", cache_policy=NONE, retry_condition_fn=transient_only)
def gate_task(ds: str, settings: Settings, run_id: str) -> StageResult:
    def body() -> StageResult:
        frames, table_versions = gate_frames(settings, ds)
        results = gate.validate_all(settings, frames)
        record_validation(get_spark(settings), settings, run_id, ds, results, table_versions)
        gate.raise_if_failed(results)
        return StageResult(
            stage="gate", ds=ds, rows_in=len(results), rows_out=sum(r.evaluated for r in results),
            input_versions=table_versions, details={"suites": [r.suite for r in results]},
        )

    return _recorded(settings, run_id, "gate", ds, body)


@task(task_run_name="feast {ds}", cache_policy=NONE, retry_condition_fn=transient_only)
def feast_task(ds: str, settings: Settings, run_id: str) -> StageResult:
    def body() -> StageResult:
        applied = serving.apply(settings)
        end = serving.materialize(settings, ds)
        inputs = versions(get_spark(settings), settings, catalog.PIN_STATS, catalog.USER_STATS)
        return StageResult(
            stage="feast", ds=ds, rows_in=len(applied), input_versions=inputs,
            outputs={"online_store": str(settings.feast_dir / "online_store.db")},
            details={"materialized_until": end.isoformat(), "snapshot_time": snapshot_time(ds).isoformat()},
        )

    return _recorded(settings, run_id, "feast", ds, body)


def _configured(settings: Settings):
    opts = dict(retries=settings.task_retries, retry_delay_seconds=settings.task_retry_delay_seconds)
    return spark_stage.with_options(**opts), gate_task.with_options(**opts), feast_task.with_options(**opts)


@flow(name="daily-taste-graph", flow_run_name="daily {ds}")
def daily_taste_graph(ds: str, lake_root: str | None = None, config_file: str | None = None) -> list[StageResult]:
    """One logical day: every stage in order; the gate must pass before Feast sees anything."""
    ds = dt.date.fromisoformat(ds).isoformat()
    settings = load_settings(config_file, lake_root=lake_root)
    get_spark(settings)  # the one session of this run
    run_id = _run_id()
    stage, gate_step, feast_step = _configured(settings)
    results = [stage(name, ds, settings, run_id) for name in SPARK_STAGES]
    results.append(gate_step(ds, settings, run_id))
    results.append(feast_step(ds, settings, run_id))
    return results


@flow(name="backfill-taste-graph", flow_run_name="backfill {start}..{end}")
def backfill(start: str, end: str, lake_root: str | None = None, config_file: str | None = None) -> list[StageResult]:
    """Run the daily flow for each date from start to end inclusive, in order."""
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    if last < first:
        raise ValueError(f"backfill end {end} is before start {start}")
    results: list[StageResult] = []
    day = first
    while day <= last:
        results.extend(daily_taste_graph(day.isoformat(), lake_root=lake_root, config_file=config_file))
        day += dt.timedelta(days=1)
    return results
