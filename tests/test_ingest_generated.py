"""Ingestion of generated noisy logs: conservation, every noise kind caught, kill-and-rerun."""
import datetime as dt
import gzip
import os
import signal
import subprocess
import sys
import time

import pytest

from pipelines.core import catalog, io
from pipelines.core.settings import load_settings
from pipelines.ingest import silver
from pipelines.synthetic.generate import NOISE_KINDS, GenerateConfig, generate
from tests.conftest import rows, run

DS = "2026-01-02"  # the second day: it also carries yesterday's redeliveries
NOISE = {kind: 0.01 for kind in NOISE_KINDS}


def _settings(root, **kw):
    return load_settings(env={}, lake_root=root, shuffle_partitions=2, quarantine_max_share=1.0, **kw)


def _generate(settings):
    generate(GenerateConfig(out=settings.raw_dir, users=30, pins=200, days=2, events_per_day=1500, seed=5,
                            start_date=dt.date(2026, 1, 1), noise=NOISE))


@pytest.fixture(scope="module")
def noisy(spark, tmp_path_factory):
    settings = _settings(tmp_path_factory.mktemp("noisy") / "lake")
    _generate(settings)
    run(spark, settings, "ingest", "2026-01-01")  # day 1 carries the boards, some of them secret
    result = run(spark, settings, "ingest", DS)
    for stage in ("graph", "pin_pin", "related_pins", "user_candidates", "feature_tables"):  # gold, for the privacy scan
        run(spark, settings, stage, DS)
    return settings, result


def _raw_lines(settings, stream):
    total = 0
    for path in (settings.raw_dir / stream / f"dt={DS}").glob("*.gz"):
        with gzip.open(path, "rb") as fh:
            total += sum(1 for _ in fh)
    return total


def test_every_line_lands_in_bronze_or_quarantine_exactly_once(spark, noisy):
    settings, result = noisy
    for stream, bronze in catalog.BRONZE_BY_STREAM.items():
        in_bronze = io.read_table(spark, bronze, settings).where(f"ds = '{DS}'")
        in_quarantine = io.read_table(spark, catalog.QUARANTINE, settings).where(f"ds = '{DS}' AND stream = '{stream}'")
        assert in_bronze.count() + in_quarantine.count() == _raw_lines(settings, stream), stream
        both = in_bronze.select("source_file", "line_number").intersect(in_quarantine.select("source_file", "line_number"))
        assert both.count() == 0, stream
    assert result.rows_in == sum(_raw_lines(settings, s) for s in catalog.BRONZE_BY_STREAM)


def test_each_generated_noise_kind_is_caught(spark, noisy):
    settings, result = noisy
    reasons = set(result.details["counts"]["events"]) - {"accepted"}
    assert reasons == {"invalid_utf8", "malformed_json", "wrong_type", "missing_required_field", "oversize_field",
                       "future_timestamp", "unknown_event_type"}
    silver = io.read_table(spark, catalog.SILVER_EVENTS, settings)
    assert silver.count() == silver.select("event_id").distinct().count()       # duplicates and redeliveries once
    assert silver.where(f"event_date < DATE'{DS}'").count() > 0                  # late events kept, in their date
    bronze = io.read_table(spark, catalog.BRONZE_EVENTS, settings)
    assert bronze.where("extra_fields['client_version'] IS NOT NULL").count() > 0  # newer schema kept in bronze


def test_silver_and_gold_hold_no_pii_and_nothing_from_secret_boards(spark, noisy):
    settings, _ = noisy
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    quarantined = io.read_table(spark, catalog.QUARANTINE, settings).where("stream = 'boards'")
    secret = {r["board_id"] for r in silver.withheld_board_ids(
        io.read_table(spark, catalog.BRONZE_BOARDS, settings), quarantined).collect()}
    assert secret, "the generator should have made secret boards"
    raw_saves_to_secret = io.read_table(spark, catalog.BRONZE_EVENTS, settings).where(F.col("board_id").isin(*secret))
    assert raw_saves_to_secret.count() > 0
    ip = r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b"
    scanned = set()
    for table in catalog.ALL_TABLES:
        if table.zone not in ("silver", "gold") or not io.table_exists(spark, table, settings):
            continue
        df = io.read_table(spark, table, settings)
        assert not {"client_ip", "user_agent"} & set(df.columns), table.name
        strings = [f.name for f in df.schema.fields if isinstance(f.dataType, T.StringType)]
        for column in strings:
            bad = df.where(F.col(column).rlike(ip) | F.col(column).rlike(silver.EMAIL_PATTERN)
                           | F.col(column).isin(*secret))
            assert bad.count() == 0, f"{table.name}.{column}"
        scanned.add(table.name)
    assert {"events", "pins", "boards", "graph_edges", "graph_nodes", "pin_pin_edges", "related_pins",
            "pin_stats", "user_stats"} <= scanned
    masked = io.read_table(spark, catalog.SILVER_PINS, settings).where(F.col("description").contains("[email]"))
    assert masked.count() > 0


def test_kill_part_way_then_rerun_gives_the_clean_tables(spark, tmp_path):
    clean = _settings(tmp_path / "clean")
    killed = _settings(tmp_path / "killed")
    _generate(clean)
    _generate(killed)
    run(spark, clean, "ingest", DS)

    env = {**os.environ, "TASTEGRAPH_LAKE_ROOT": str(killed.lake_root), "TASTEGRAPH_QUARANTINE_MAX_SHARE": "1.0"}
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.jobs", "ingest", "--ds", DS], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    marker = killed.lake_root / "bronze" / "bronze_events" / "_delta_log"
    deadline = time.time() + 240
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # mid-way: bronze events written, silver not yet
    proc.wait()
    assert not (killed.lake_root / "silver" / "events" / "_delta_log").exists()

    run(spark, killed, "ingest", DS)
    for table in (catalog.BRONZE_EVENTS, catalog.QUARANTINE, catalog.SILVER_EVENTS, catalog.SILVER_PINS,
                  catalog.SILVER_BOARDS):
        keep = [c for c in table.columns if c not in ("ingested_at", "source_file")]
        assert rows(io.read_table(spark, table, killed).select(keep), *keep[:4]) == rows(
            io.read_table(spark, table, clean).select(keep), *keep[:4]), table.name
