"""spark-submit entry point: one sub-command per Spark stage.

    PYSPARK_PYTHON=.venv/bin/python .venv/bin/spark-submit \
        --jars "$(ls .jars/*.jar | paste -sd,)" pipelines/jobs.py ingest --ds 2026-01-01

`tastegraph submit STAGE --ds D` prints and runs that command for you.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from typing import Callable

from pipelines import cooccurrence, feature_tables, graph, ingest, user_candidates, walks
from pipelines.runs import StageResult
from pipelines.settings import SettingsError, load_settings
from pipelines.spark import get_spark

STAGES: dict[str, Callable] = {
    "ingest": ingest.run,
    "graph": graph.run,
    "pin_pin": cooccurrence.run,
    "related_pins": walks.run,
    "user_candidates": user_candidates.run,
    "feature_tables": feature_tables.run,
}


def valid_ds(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ds must be a date like 2026-01-01, got {value!r}") from None


def run_stage(stage: str, ds: str, settings, spark=None) -> StageResult:
    spark = spark or get_spark(settings, app_name=f"tastegraph-{stage}")
    started = time.perf_counter()
    result = STAGES[stage](spark, ds, settings)
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pipelines/jobs.py", description="Run one tastegraph Spark stage.")
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("--ds", required=True, type=valid_ds, help="logical date, YYYY-MM-DD")
    parser.add_argument("--config", help="TOML settings file (else TASTEGRAPH_CONFIG / env / defaults)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        parser.error(str(exc))
    result = run_stage(args.stage, args.ds, settings)
    print(json.dumps({
        "stage": result.stage, "ds": result.ds, "rows_in": result.rows_in, "rows_out": result.rows_out,
        "seconds": round(result.seconds, 2), "output_versions": result.output_versions, "outputs": result.outputs,
        "step_seconds": result.details.get("step_seconds", {}),
    }, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
