"""The evaluation flow: the `evaluate` stage (pipelines/evaluation/stage.py) gated like every
stage, then the report page written from what the gate passed.

`tastegraph evaluate` runs it; `tastegraph report` rewrites the page from eval_results_v1
without evaluating again.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
from prefect import flow
from pyspark.sql import functions as F

from flows.daily import _configured, _run_id, end_of_gates
from pipelines.core import catalog, io
from pipelines.core.runs import StageResult, records_in_background
from pipelines.core.settings import Settings, load_settings
from pipelines.core.spark import get_spark
from pipelines.evaluation import report
from pipelines.evaluation.requirements import NothingToEvaluate, require_events, require_results


def latest_event_date(settings: Settings) -> str:
    """The last event date in silver: what `evaluate` evaluates by default."""
    require_events(settings)
    spark = get_spark(settings)
    last = io.read_table(spark, catalog.SILVER_EVENTS, settings).agg(F.max("event_date")).first()[0]
    if last is None:
        raise NothingToEvaluate(f"silver events under {settings.lake_root} are empty: nothing to evaluate")
    return last.isoformat()


def report_path(settings: Settings) -> Path:
    return (settings.lake_root / "_reports" / "evaluation.html").resolve()


def results_frame(settings: Settings, ds: str | None = None) -> tuple[str, pd.DataFrame]:
    """(ds, the eval_results rows of ds) as pandas; the latest evaluated day by default."""
    require_results(settings)
    spark = get_spark(settings)
    table = io.read_table(spark, catalog.EVAL_RESULTS, settings)
    if ds is None:
        last = table.agg(F.max("ds")).first()[0]
        if last is None:
            raise NothingToEvaluate("eval_results_v1 is empty: run `tastegraph evaluate` first")
        ds = last.isoformat()
    rows = table.where(F.col("ds") == F.lit(ds).cast("date")).toPandas()
    if rows.empty:
        raise NothingToEvaluate(f"no evaluation of {ds} in eval_results_v1: run `tastegraph evaluate --ds {ds}`")
    return ds, rows


def write_report(settings: Settings, ds: str | None = None, out: Path | None = None) -> Path:
    """Write the report page of one evaluated day; its path."""
    ds, rows = results_frame(settings, ds)
    lineage = json.loads(rows.lineage.iloc[0])
    context = {"evaluated day": ds, "evaluated at (UTC)": str(rows.evaluated_at.max()), "lake": str(settings.lake_root.resolve()),
               "input versions": lineage.get("inputs"), "run id": rows.run_id.iloc[0]}
    page = report.report_html(rows, f"tastegraph offline evaluation, {ds}", context)
    path = (out or report_path(settings)).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a page
    return path


@flow(name="evaluate", flow_run_name="evaluate {ds}")
def evaluate(ds: str | None = None, lake_root: str | None = None, config_file: str | None = None) -> list[StageResult]:
    """Evaluate every method on held-out behaviour up to ds (default: the last event date), gate
    eval_results_v1, and write the report."""
    settings = load_settings(config_file, lake_root=lake_root)
    ds = dt.date.fromisoformat(ds).isoformat() if ds else latest_event_date(settings)
    run, check, _ = _configured(settings)
    run_id = _run_id()
    with records_in_background():
        try:
            written = run("evaluate", ds, settings, run_id)
            checked = check("evaluate", ds, settings, run_id, written)
        finally:
            end_of_gates(settings)
    return [written, checked]
