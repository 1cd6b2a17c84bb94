"""spark-submit entry point: one sub-command per declared stage (pipelines/registry.py).

    PYSPARK_PYTHON=.venv/bin/python .venv/bin/spark-submit \\
        --jars "$(ls .jars/*.jar | paste -sd,)" pipelines/jobs.py ingest --ds 2026-01-01

`tastegraph submit STAGE --ds D` prints and runs that command with the settings the flow uses.
The stage runs through the same runner as in the flow: inputs pinned, a pipeline_runs row
written, the same tables. It prints one progress line per stage on stderr and a JSON summary
on stdout.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys

from pipelines.core.settings import TastegraphError, load_settings
from pipelines.core.spark import get_spark
from pipelines.core.stages import run_stage
from pipelines.registry import BY_NAME

REPORTED_CONF = ("spark.sql.session.timeZone", "spark.sql.shuffle.partitions")


def valid_ds(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-01-01, got {value!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pipelines/jobs.py", description="Run one tastegraph Spark stage.")
    parser.add_argument("stage", choices=list(BY_NAME))
    parser.add_argument("--ds", required=True, type=valid_ds, help="logical date, YYYY-MM-DD")
    parser.add_argument("--through", type=valid_ds, help="last day of a range (stages that take one)")
    parser.add_argument("--config", help="TOML settings file (else TASTEGRAPH_CONFIG / env / defaults)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(args.config)
        spark = get_spark(settings, app_name=f"tastegraph-{args.stage}")
        print(f"{args.stage} {args.ds}: starting", file=sys.stderr, flush=True)
        result = run_stage(BY_NAME[args.stage], args.ds, settings, spark, through=args.through)
    except TastegraphError as exc:
        print(f"tastegraph: {exc}", file=sys.stderr)
        return 1
    print(f"{args.stage} {args.ds}: {result.rows_in:,} rows in, {result.rows_out:,} rows out, {result.seconds:.1f}s",
          file=sys.stderr, flush=True)
    print(json.dumps({
        "stage": result.stage, "ds": result.ds, "rows_in": result.rows_in, "rows_out": result.rows_out,
        "seconds": round(result.seconds, 2), "input_versions": result.input_versions,
        "output_versions": result.output_versions, "outputs": result.outputs,
        "step_seconds": result.details.get("step_seconds", {}),
        "spark_conf": {key: spark.conf.get(key) for key in REPORTED_CONF},
    }, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
