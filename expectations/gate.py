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


def _run(ctx, table: str, definition, df: DataFrame, ds: str, result_format: str):
    """One checkpoint run, named after the table and the day. BOOLEAN_ONLY computes only
    whether each expectation holds (about half the Spark jobs of the default); COMPLETE adds
    the bad rows, identified by the table's keys."""
    detail = "" if result_format == "BOOLEAN_ONLY" else "_detail"
    keys = [k for k in catalog.by_name(table).keys if k in df.columns]
    checkpoint = ctx.checkpoints.add_or_update(gx.Checkpoint(
        name=f"{table}_gate{detail}", validation_definitions=[definition],
        result_format={"result_format": result_format, "partial_unexpected_count": SAMPLE_SIZE,
                       **({"unexpected_index_column_names": keys} if keys and detail else {})}))
    run = checkpoint.run(batch_parameters={"dataframe": df}, run_id=RunIdentifier(run_name=f"{table} {ds}"))
    return next(iter(run.run_results.values()))


def validate(ctx, settings: Settings, table: str, suite_name: str, df: DataFrame, ds: str) -> GateResult:
    """Validate one table's rows with its suite through a checkpoint named after the table;
    the run is named after the table and the day."""
    declared = SUITES[suite_name](settings)
    rows = df.count()
    df = flagged(df, declared.flags, declared.uniques)
    source = ctx.data_sources.add_or_update_spark(name="tastegraph", persist=False)  # see validate_all
    asset = next((a for a in source.assets if a.name == table), None) or source.add_dataframe_asset(name=table)
    batch = next((b for b in asset.batch_definitions if b.name == "written"), None) or (
        asset.add_batch_definition_whole_dataframe("written"))

    def definition(suite: gx.ExpectationSuite):
        return ctx.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"{table}_written", data=batch, suite=ctx.suites.add_or_update(suite)))

    # (GX's unique proportion of no rows is 0: an empty batch takes the row-level checks)
    validation = _run(ctx, table, definition(declared.suite if rows else declared.detailed), df, ds, "BOOLEAN_ONLY")
    if not validation.success:  # again, row by row, keeping samples of the bad rows (a failure is rare)
        validation = _run(ctx, table, definition(declared.detailed), df, ds, "COMPLETE")
    failed = [_describe(r) for r in validation.results if not r.success]
    return GateResult(table=table, suite=suite_name, success=bool(validation.success), rows=rows,
                      evaluated=len(validation.results), failed=failed)


def validate_all(settings: Settings, frames: dict[str, tuple[str, DataFrame]], ds: str) -> list[GateResult]:
    """Validate every written table (table -> (suite, its written rows)); results for all.

    GX folds a suite's column checks into a few aggregate queries. For a partition or a whole
    table those re-scan the pruned Parquet columns, which is cheaper than building Spark's
    in-memory cache of every column first (GX's own batch caching is off). Rows read from a
    Change Data Feed (the latest change per key, a window over the feed) are cached: computing
    them once beats recomputing them for every query."""
    ctx = context(settings)
    results = []
    for table, (suite, df) in frames.items():
        derived = catalog.by_name(table).written == "changes"
        batch = df.persist() if derived else df
        try:
            results.append(validate(ctx, settings, table, suite, batch, ds))
        finally:
            if derived:
                batch.unpersist()
    return results


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
