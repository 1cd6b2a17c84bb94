"""The daily flow: every declared stage in order (pipelines/registry.py), each followed by the
gate on what it wrote, then Feast apply + materialize of the day.

One SparkSession serves the whole run (tasks run in the flow's process and share it). Tasks
retry only on transient failures; bad data or configuration fails at once with a message that
says what to fix, and a failed gate stops the run before anything downstream reads the table.
"""
from __future__ import annotations

import datetime as dt
import time
import uuid

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.context import get_run_context
from py4j.protocol import Py4JNetworkError

from expectations import gate
from features.definitions import PER_ENTITY, VIEW_TABLES
from flows import console, serving
from pipelines.core import catalog, io
from pipelines.core.runs import Laps, StageResult, record_run, record_validation, records_in_background
from pipelines.core.settings import Settings, load_settings
from pipelines.core.spark import get_spark
from pipelines.core.stages import Stage, run_stage
from pipelines.ingest.silver import withheld_board_ids
from pipelines.registry import STAGES
from pipelines.registry import stage as declared

TRANSIENT_ERRORS = (ConnectionError, TimeoutError, Py4JNetworkError)
TRANSIENT_MARKERS = ("ConcurrentAppendException", "ConcurrentWriteException", "ConcurrentDeleteReadException",
                     "ConcurrentTransactionException", "MetadataChangedException")


def is_transient(exc: BaseException) -> bool:
    """A network hiccup or a Delta write conflict (worth a retry), not bad data or config."""
    return isinstance(exc, TRANSIENT_ERRORS) or any(m in repr(exc) for m in TRANSIENT_MARKERS)


def transient_only(task, task_run, state) -> bool:
    """Prefect retry condition: retry network/concurrency hiccups, never bad data or config."""
    exc = state.data if isinstance(getattr(state, "data", None), BaseException) else None
    if exc is None:
        try:
            state.result(raise_on_failure=True)
        except BaseException as raised:  # noqa: BLE001 - we only classify it
            exc = raised
    return is_transient(exc)


def _run_id() -> str:
    try:
        return str(get_run_context().flow_run.id)
    except Exception:  # noqa: BLE001 - outside a flow run
        return uuid.uuid4().hex


def _recorded(settings: Settings, run_id: str, name: str, ds: str, body) -> StageResult:
    """Run a step that is not a Spark stage (gate, feast), time it, write its pipeline_runs row."""
    spark = get_spark(settings)
    started_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    t0 = time.perf_counter()
    try:
        result = body()
    except Exception as exc:
        failed = StageResult(stage=name, ds=ds, seconds=time.perf_counter() - t0)
        record_run(spark, settings, run_id, failed, "failed", started_at, message=str(exc)[:2000])
        raise
    result.seconds = time.perf_counter() - t0
    record_run(spark, settings, run_id, result, "success", started_at)
    return result


@task(task_run_name="{name} {ds}", cache_policy=NONE, retry_condition_fn=transient_only)
def stage_task(name: str, ds: str, settings: Settings, run_id: str, through: str | None = None) -> StageResult:
    say = console.progress().info
    say(f"{name} {ds}: starting")
    result = run_stage(declared(name), ds, settings, get_spark(settings), run_id, through=through)
    get_run_logger().info("%s %s: %s rows in, %s rows out, %.1fs", name, ds, result.rows_in, result.rows_out,
                          result.seconds)
    say(f"{name} {ds}: {result.rows_in:,} rows in, {result.rows_out:,} rows out, {result.seconds:.1f}s"
        + (f" ({result.details['summary']})" if "summary" in result.details else ""))
    return result


def gate_frames(settings: Settings, stage: Stage, written: StageResult, ds: str, through: str | None = None) -> dict:
    """table -> (suite, the rows the stage wrote to it), read at the version it wrote."""
    spark = get_spark(settings)
    return {
        t.name: (stage.suites[t.name], io.written_rows(spark, t, settings, ds, written.previous_versions.get(t.name),
                                                       written.output_versions.get(t.name), through))
        for t in stage.writes if t.name in stage.suites
    }


_REFERENCES = gate.ReferenceViews()


def end_of_gates(settings: Settings) -> None:
    """After a run's last gate (or a failed one): drop the reference views and write the
    validations page once (not per step: it reads the newest results of the whole store)."""
    _REFERENCES.drop()
    with console.to_log():
        gate.write_summary(settings)


def _reference_views(settings: Settings) -> None:
    """Known pins and withheld boards for the gate, rebuilt only when their sources changed."""
    spark = get_spark(settings)
    sources = (catalog.SILVER_PINS, catalog.BRONZE_BOARDS, catalog.QUARANTINE)
    key = (str(settings.lake_root.resolve()), *(io.table_version(spark, t, settings) for t in sources))

    def build():
        quarantined = io.read_or_empty(spark, catalog.QUARANTINE, settings).where(
            "stream = 'boards' AND record_key IS NOT NULL")
        return (io.read_or_empty(spark, catalog.SILVER_PINS, settings),
                withheld_board_ids(io.read_or_empty(spark, catalog.BRONZE_BOARDS, settings), quarantined))

    _REFERENCES.ensure(key, build)


@task(task_run_name="gate {name} {ds}", cache_policy=NONE, retry_condition_fn=transient_only)
def gate_task(name: str, ds: str, settings: Settings, run_id: str, written: StageResult,
              through: str | None = None) -> StageResult:
    """Validate every table the stage wrote; stop the run when one breaks its suite."""
    stage = declared(name)

    def body() -> StageResult:
        laps = Laps()
        _reference_views(settings)
        frames = gate_frames(settings, stage, written, ds, through)
        laps("read")
        with console.to_log():
            results = gate.validate_all(settings, frames, ds)
        laps("validate")
        record_validation(get_spark(settings), settings, run_id, ds, results, written.output_versions)
        laps("record")
        gate.raise_if_failed(results, data_docs_index(settings))  # the run writes the page on its way out
        return StageResult(
            stage=f"gate:{name}", ds=ds, rows_in=sum(r.rows for r in results),
            rows_out=sum(r.rows for r in results if r.success), input_versions=written.output_versions,
            details={"suites": [r.suite for r in results], "rows": {r.table: r.rows for r in results},
                     "expectations": {r.table: r.evaluated for r in results}, "step_seconds": laps.steps,
                     "table_seconds": {r.table: r.seconds for r in results}},
        )

    result = _recorded(settings, run_id, f"gate:{name}", ds, body)
    tables = len(result.details["suites"])
    console.progress().info(f"gate {name} {ds}: {tables} table{'' if tables == 1 else 's'} passed, "
                            f"{result.rows_in:,} rows checked, {result.seconds:.1f}s")
    return result


def _entities(settings: Settings, view: str, table: catalog.Table, ds: str, through: str | None) -> int:
    """Online rows a view must write: the entities among the gated rows (one per row for a
    daily snapshot's day)."""
    rows = io.written_rows(get_spark(settings), table, settings, ds, None, None, through)
    return rows.select(PER_ENTITY.get(view, table.keys[0])).distinct().count()


@task(task_run_name="feast {ds}", cache_policy=NONE, retry_condition_fn=transient_only)
def feast_task(ds: str, settings: Settings, run_id: str, gated: dict[str, int], through: str | None = None) -> StageResult:
    """Apply the feature repository and materialize the day (or the days ds..through); every
    gated entity must arrive."""
    def body() -> StageResult:
        with console.to_log():
            applied = serving.apply(settings)
            done = serving.materialize(settings, ds, through=through)
        expected = {view: _entities(settings, view, table, ds, through)
                    if view in PER_ENTITY or through else gated.get(table.name, 0)
                    for view, table in VIEW_TABLES.items()}
        serving.check_arrived(done, expected)
        return StageResult(
            stage="feast", ds=ds, rows_in=sum(expected.values()), rows_out=sum(done.rows.values()),
            outputs={"online_store": str(settings.feast_dir / "online_store.db")},
            details={"applied": applied, "rows_written": done.rows, "window": [done.start.isoformat(),
                                                                                 done.end.isoformat()]},
        )

    result = _recorded(settings, run_id, "feast", ds, body)
    console.progress().info(f"feast {ds}: {result.rows_out:,} rows materialized ({result.details['rows_written']}), "
                            f"{result.seconds:.1f}s")
    return result


def _configured(settings: Settings):
    opts = dict(retries=settings.task_retries, retry_delay_seconds=settings.task_retry_delay_seconds)
    return stage_task.with_options(**opts), gate_task.with_options(**opts), feast_task.with_options(**opts)


def _every_stage(settings: Settings, first: str, last: str) -> list[StageResult]:
    """Every stage in order, each gated before the next reads its tables; Feast last. One day
    when first == last; otherwise a batch, where the stages that take a range process
    first..last and the others run once, for last."""
    get_spark(settings)  # the one session of this run
    run_id = _run_id()
    run, check, materialize = _configured(settings)
    through = last if last != first else None
    results: list[StageResult] = []
    gated: dict[str, int] = {}
    with records_in_background():
        try:
            for stage in STAGES:
                ds, upto = (first, through) if stage.takes_range else (last, None)
                written = run(stage.name, ds, settings, run_id, through=upto)
                checked = check(stage.name, ds, settings, run_id, written, upto)
                gated.update(checked.details["rows"])
                results += [written, checked]
        finally:
            end_of_gates(settings)
        results.append(materialize(first, settings, run_id, gated, through=through))
    return results


def _range(start: str, end: str) -> tuple[str, str]:
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    if last < first:
        raise ValueError(f"range end {end} is before start {start}")
    return first.isoformat(), last.isoformat()


@flow(name="daily-taste-graph", flow_run_name="daily {ds}")
def daily_taste_graph(ds: str, lake_root: str | None = None, config_file: str | None = None) -> list[StageResult]:
    """One logical day: every stage in order, each gated before the next reads its tables;
    Feast last."""
    ds = dt.date.fromisoformat(ds).isoformat()
    return _every_stage(load_settings(config_file, lake_root=lake_root), ds, ds)


@flow(name="backfill-taste-graph", flow_run_name="backfill {start}..{end}")
def backfill(start: str, end: str, lake_root: str | None = None, config_file: str | None = None) -> list[StageResult]:
    """Run the daily flow for each date from start to end inclusive, in order."""
    first, last = (dt.date.fromisoformat(d) for d in _range(start, end))
    results: list[StageResult] = []
    day = first
    while day <= last:
        results.extend(daily_taste_graph(day.isoformat(), lake_root=lake_root, config_file=config_file))
        day += dt.timedelta(days=1)
    return results


@flow(name="history-batch", flow_run_name="batch {start}..{end}")
def history_batch(start: str, end: str, lake_root: str | None = None,
                  config_file: str | None = None) -> list[StageResult]:
    """Every day from start to end in one run (a history backfill): the stages that take a
    range (ingest, graph, feature tables, training examples) process start..end in one job
    each, with the same result as one run per day; the others hold the graph's current state
    (neighbours, walks, embeddings) and run once, for end. Each stage's tables are gated once;
    Feast materializes the range once."""
    first, last = _range(start, end)
    return _every_stage(load_settings(config_file, lake_root=lake_root), first, last)


def data_docs_index(settings: Settings):
    """The page to open for the gate's results (self-contained, readable offline; written by
    `gate.write_summary` at the end of every run)."""
    return (settings.lake_root / "_gx" / "validations.html").resolve()
