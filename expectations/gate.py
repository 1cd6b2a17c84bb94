"""The gate: run each written table's suite through a GX checkpoint, keep the results in GX's
validation store (Data Docs), and stop the run when one fails, naming the table, the
expectation and a sample of the bad rows.

GX's own Data Docs load their styles and scripts from CDNs, so offline they show unstyled
pages with empty tables. `write_summary` renders the same validation results as one
self-contained page (inline styles, no scripts, no network) beside them.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import great_expectations as gx
from great_expectations.core.run_identifier import RunIdentifier
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from expectations.suites import KNOWN_PINS_VIEW, SUITES, WITHHELD_BOARDS_VIEW, Flag, Unique, lookup_column
from pipelines.core import catalog
from pipelines.core.settings import Settings, TastegraphError

SAMPLE_SIZE = 5


@dataclass
class GateResult:
    table: str
    suite: str
    success: bool
    evaluated: int
    rows: int
    failed: list[str] = field(default_factory=list)  # each: the expectation and a sample of bad rows
    seconds: float = 0.0


class GateFailed(TastegraphError):
    """A table broke its suite: nothing downstream may read it."""

    def __init__(self, results: list[GateResult], docs: Path | None = None):
        self.results = results
        bad = "; ".join(f"{r.table} ({r.suite}): {' | '.join(r.failed)}" for r in results if not r.success)
        where = f" See {docs}." if docs else ""
        super().__init__(f"Great Expectations gate failed, nothing downstream ran: {bad}.{where}")


def context(settings: Settings):
    """The GX project under the lake (file context: suites, results and Data Docs on disk)."""
    root = Path(settings.lake_root) / "_gx"
    root.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(root))
    bars = ctx.variables.progress_bars  # an object when set in this process, a dict once saved
    globally = bars.get("globally") if isinstance(bars, dict) else getattr(bars, "globally", None)
    if ctx.variables.config_variables_file_path:
        # No config variables file (the suites use none). GX would read and parse it on every
        # access to a setting, dozens a checkpoint run, with module-level ruamel YAML objects
        # that are not thread-safe: the gate runs checkpoints in threads (see validate_all),
        # which then parse no YAML at all (measured).
        ctx.variables.config_variables_file_path = None
        ctx.variables.save()
        ctx = gx.get_context(mode="file", project_root_dir=str(root))
    if globally is not False:  # no "Calculating Metrics" bars on the console
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        ctx.variables.save()
    return ctx


class ReferenceViews:
    """The views the suites' cross-table checks read (known pin ids, withheld board ids),
    cached while their sources keep their versions: a day's run computes them once after
    ingest (on the first check that reads them) and drops them at the end of the day."""

    def __init__(self) -> None:
        self._key: object = None
        self._frames: list[DataFrame] = []

    def ensure(self, key: object, build: Callable[[], tuple[DataFrame, DataFrame]]) -> None:
        """Register the views for `key` (for example the lake and its sources' versions),
        building them with `build()` -> (known pins, withheld boards) unless they are current."""
        if key == self._key and self._frames:
            return
        self.drop()
        known_pins, withheld_boards = build()
        views = [(known_pins.select(F.col("pin_id").alias("id")).distinct().persist(), KNOWN_PINS_VIEW),
                 (withheld_boards.select(F.col("board_id").alias("id")).distinct().persist(), WITHHELD_BOARDS_VIEW)]
        for df, name in views:
            df.createOrReplaceTempView(name)
        self._frames, self._key = [df for df, _ in views], key

    def drop(self) -> None:
        for df in self._frames:
            df.unpersist()
        self._frames, self._key = [], None


@contextlib.contextmanager
def reference_views(known_pins: DataFrame, withheld_boards: DataFrame) -> Iterator[None]:
    """The reference views for the duration of a block."""
    views = ReferenceViews()
    views.ensure(object(), lambda: (known_pins, withheld_boards))
    try:
        yield
    finally:
        views.drop()


def flagged(df: DataFrame, flags: tuple[Flag, ...], uniques: tuple[Unique, ...] = ()) -> DataFrame:
    """The batch with a boolean column per flag (true on a row that must not exist), after
    joining the reference ids the flags look up, and a struct column per compound key."""
    spark = df.sparkSession
    for column, view in sorted({lookup for flag in flags for lookup in flag.lookups}):
        # broadcast: withheld boards are few, and the known pin ids of 200,000 pins take ~5 MB
        ids = F.broadcast(spark.table(view).select(F.col("id").alias(lookup_column(view, column))))
        df = df.join(ids, on=df[column] == ids[lookup_column(view, column)], how="left")
    keys = {u.column: F.struct(*u.columns) for u in uniques if len(u.columns) > 1}
    return df.select("*", *[F.coalesce(F.expr(f.where), F.lit(False)).alias(f.column) for f in flags],
                     *[column.alias(name) for name, column in sorted(keys.items())])


def _sample(result) -> str:
    """A short sample of the rows an expectation found bad (their keys, for a flag)."""
    r = result.result or {}
    rows = ((r.get("details") or {}).get("unexpected_rows") or r.get("partial_unexpected_index_list")
            or r.get("partial_unexpected_list") or [])
    count = r.get("unexpected_count", r.get("observed_value"))
    shown = json.dumps(rows[:SAMPLE_SIZE], default=str)
    return f"{count if count is not None else '?'} bad, e.g. {shown}" if rows else f"{count} bad"


def _describe(result) -> str:
    config = result.expectation_config
    column = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list") or [])
    name = config.description or (f"{config.type}({column})" if column else config.type)
    return f"{name}: {_sample(result)}"


class _Check:
    """One table's validation in the gate's three phases: GX objects are registered one table
    at a time (they share a data source and the project's files), the checkpoints of all
    tables run side by side, and a failing table runs again, row by row, on its own."""

    def __init__(self, ctx, source, settings: Settings, table: str, suite_name: str, df: DataFrame, ds: str):
        self.ctx, self.table, self.suite_name, self.ds = ctx, table, suite_name, ds
        self.declared = SUITES[suite_name](settings)
        self.raw, self.rows = df, 0
        self.df = flagged(df, self.declared.flags, self.declared.uniques)
        asset = next((a for a in source.assets if a.name == table), None) or source.add_dataframe_asset(name=table)
        self.batch = next((b for b in asset.batch_definitions if b.name == "written"), None) or (
            asset.add_batch_definition_whole_dataframe("written"))
        self.checkpoint, self.validation = None, None
        self.seconds = 0.0

    def count(self) -> None:
        t0 = time.perf_counter()
        self.rows = self.raw.count()
        self.seconds += time.perf_counter() - t0

    def register(self, detailed: bool = False) -> None:
        """The checkpoint to run: the suite with aggregate checks and BOOLEAN_ONLY results, or
        (`detailed`) row-level checks with COMPLETE results, naming the bad rows by the table's
        keys. GX's unique proportion of no rows is 0, so an empty batch takes the row-level checks."""
        suite = self.declared.detailed if detailed or not self.rows else self.declared.suite
        result_format = "COMPLETE" if detailed else "BOOLEAN_ONLY"
        definition = self.ctx.validation_definitions.add_or_update(gx.ValidationDefinition(
            name=f"{self.table}_written", data=self.batch, suite=self.ctx.suites.add_or_update(suite)))
        keys = [k for k in catalog.by_name(self.table).keys if k in self.df.columns]
        self.checkpoint = self.ctx.checkpoints.add_or_update(gx.Checkpoint(
            name=f"{self.table}_gate{'_detail' if detailed else ''}", validation_definitions=[definition],
            result_format={"result_format": result_format, "partial_unexpected_count": SAMPLE_SIZE,
                           **({"unexpected_index_column_names": keys} if keys and detailed else {})}))

    def run(self) -> None:
        """Run the registered checkpoint (the run is named after the table and the day)."""
        t0 = time.perf_counter()
        run = self.checkpoint.run(batch_parameters={"dataframe": self.df},
                                  run_id=RunIdentifier(run_name=f"{self.table} {self.ds}"))
        self.validation = next(iter(run.run_results.values()))
        self.seconds += time.perf_counter() - t0

    def result(self) -> GateResult:
        v = self.validation
        return GateResult(table=self.table, suite=self.suite_name, success=bool(v.success), rows=self.rows,
                          evaluated=len(v.results), failed=[_describe(r) for r in v.results if not r.success],
                          seconds=round(self.seconds, 2))


def validate_all(settings: Settings, frames: dict[str, tuple[str, DataFrame]], ds: str) -> list[GateResult]:
    """Validate every written table (table -> (suite, its written rows)); results for all.

    GX folds a suite's column checks into a few aggregate queries (BOOLEAN_ONLY computes only
    whether each expectation holds, about half the Spark jobs of the default). A failing table
    runs again row by row, keeping samples of the bad rows (a failure is rare).

    The tables' counts and checkpoints run in threads, as many as the session has cores: each
    table's queries are short Spark jobs between stretches of driver work (GX's Python, query
    planning), which another table's jobs fill. GX's objects are registered one table at a time
    first; each run has its own batch id, validator and result file.

    For a partition or a whole table the queries re-scan the pruned Parquet columns, which is
    cheaper than building Spark's in-memory cache of every column first (GX's own batch caching
    is off). Rows read from a Change Data Feed (the latest change per key, a window over the
    feed) are cached: computing them once beats recomputing them for every query."""
    ctx = context(settings)
    source = ctx.data_sources.add_or_update_spark(name="tastegraph", persist=False)
    cached = [df.persist() for table, (_, df) in frames.items() if catalog.by_name(table).written == "changes"]
    try:
        checks = [_Check(ctx, source, settings, table, suite, df, ds) for table, (suite, df) in frames.items()]
        cores = checks[0].raw.sparkSession.sparkContext.defaultParallelism if checks else 1
        workers = min(len(checks), cores)
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="gate") as pool:
            # with one worker, run in this thread: a new Python thread costs a new JVM thread in py4j
            each = pool.map if workers > 1 else map
            list(each(_Check.count, checks))
            for check in checks:
                check.register()
            list(each(_Check.run, checks))
        for check in checks:
            if not check.validation.success:
                check.register(detailed=True)
                check.run()
        return [check.result() for check in checks]
    finally:
        for df in cached:
            df.unpersist()


def raise_if_failed(results: list[GateResult], docs: Path | None = None) -> None:
    if not all(r.success for r in results):
        raise GateFailed(results, docs)


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}h1{font-size:20px}
table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}.ok{color:#176f2c}.bad{color:#b00020;font-weight:600}
code{font-size:12px;white-space:pre-wrap}
"""


def _run_of(result) -> tuple[str, str]:
    """(run name, run time as ISO text) of a stored validation result."""
    run_id = (result.meta or {}).get("run_id")
    if isinstance(run_id, dict):
        return str(run_id.get("run_name") or "-"), str(run_id.get("run_time") or "")
    when = getattr(run_id, "run_time", None)
    return str(getattr(run_id, "run_name", None) or "-"), when.isoformat() if when else ""


def write_summary(settings: Settings, limit: int = 300) -> Path:
    """One self-contained HTML page of the latest validation results (newest first): per run,
    table, suite, rows, success, and every failed expectation with a sample of its bad rows."""
    store = context(settings).validation_results_store
    # the newest `limit` keys first (a key carries its run time): reading every stored result
    # would grow with the lake's history, one file per table and day
    keys = sorted(store.list_keys(), key=lambda k: k.run_id.run_time, reverse=True)[:limit]
    results = [store.get(k) for k in keys]
    rows = []
    for r in results:
        name, when = _run_of(r)
        failed = [_describe(x) for x in r.results if not x.success]
        status = '<span class="ok">passed</span>' if r.success else '<span class="bad">failed</span>'
        detail = "<br>".join(f"<code>{html.escape(f)}</code>" for f in failed) or "-"
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(when[:19])}</td>"
                    f"<td>{html.escape(r.suite_name)}</td><td>{status}</td>"
                    f"<td>{r.statistics.get('evaluated_expectations', '')}</td><td>{detail}</td></tr>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>tastegraph validations</title>"
            f"<style>{_STYLE}</style></head><body><h1>tastegraph: Great Expectations validations</h1>"
            f"<p>{len(results)} most recent validation results, newest first, written "
            f"{dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.</p>"
            f"<table><thead><tr><th>run (table, day)</th><th>validated at</th><th>suite</th><th>result</th>"
            f"<th>expectations</th><th>failed expectations, with a sample of bad rows</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></body></html>")
    path = Path(settings.lake_root) / "_gx" / "validations.html"
    path.write_text(page, encoding="utf-8")
    return path.resolve()
