"""`tastegraph submit`: one stage through spark-submit, in its own JVM, on a small lake of its
own (a module apart from the end-to-end flow, so that the two run side by side)."""
import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from pyspark.sql import functions as F

from pipelines.core import catalog, io
from pipelines.core.settings import load_settings
from pipelines.synthetic.generate import GenerateConfig, generate
from tests.conftest import rows, run

TASTEGRAPH = str(Path(sys.executable).parent / "tastegraph")


def test_spark_submit_under_another_time_zone_gives_the_flow_result(spark, tmp_path):
    """`tastegraph submit` re-runs a day's ingest through spark-submit, on a host whose time zone
    is not UTC and with a --config file: the same tables as the ingest in this session, a
    pipeline_runs row, the configured shuffle partitions and a UTC session."""
    settings = load_settings(env={}, lake_root=tmp_path / "lake", shuffle_partitions=2)
    ds = "2026-01-01"
    generate(GenerateConfig(out=settings.raw_dir, users=40, pins=120, days=1, events_per_day=3000, seed=11,
                            start_date=dt.date.fromisoformat(ds)))
    run(spark, settings, "ingest", ds)
    tables = (catalog.BRONZE_EVENTS, catalog.QUARANTINE, catalog.SILVER_EVENTS)

    def content(t):
        return sorted(map(repr, rows(io.read_table(spark, t, settings).where(f"ds = '{ds}'").drop("ingested_at"))))

    before = {t.name: content(t) for t in tables}
    assert before[catalog.SILVER_EVENTS.name]
    version = io.table_version(spark, catalog.BRONZE_EVENTS, settings)
    config = tmp_path / "submit.toml"
    config.write_text("shuffle_partitions = 3\n")
    env = {**os.environ, "TZ": "America/Los_Angeles"}
    env.pop("TASTEGRAPH_LAKE_ROOT", None)
    done = subprocess.run([TASTEGRAPH, "submit", "ingest", "--ds", ds, "--lake", str(settings.lake_root),
                           "--config", str(config)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    assert summary["stage"] == "ingest"
    assert summary["spark_conf"] == {"spark.sql.session.timeZone": "UTC", "spark.sql.shuffle.partitions": "3"}
    assert io.table_version(spark, catalog.BRONZE_EVENTS, settings) > version  # it really ran
    assert {t.name: content(t) for t in tables} == before
    runs = io.read_table(spark, catalog.PIPELINE_RUNS, settings).where(f"stage = 'ingest' AND ds = '{ds}'")
    latest = runs.orderBy(F.desc("started_at")).first()
    assert latest["status"] == "success"
    assert latest["output_versions"] == summary["output_versions"]
    assert not re.search(r"\b(WARN|INFO)\b", done.stderr), done.stderr[-2000:]
