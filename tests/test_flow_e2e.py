"""End to end through the real engines: generated logs -> Prefect flow (Spark + Delta, GX, Feast)
-> online lookup, plus the gate stopping a bad day before anything is materialized."""
import datetime as dt
import hashlib
import subprocess

import pytest
from pyspark.sql import functions as F

from flows.cli import submit_command
from flows.daily import backfill
from flows.serving import lookup
from pipelines import catalog, cooccurrence, io
from pipelines.quality import (popular_pins, popularity_recs, precision_at_k, user_interests,
                                user_precision_at_k)
from pipelines.generate import GenerateConfig, generate
from pipelines.settings import load_settings
from tests.conftest import rows, write_raw

DAYS = ["2026-01-01", "2026-01-02"]


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    settings = load_settings(env={}, lake_root=tmp_path_factory.mktemp("e2e") / "lake", shuffle_partitions=2)
    generate(GenerateConfig(out=settings.raw_dir, users=150, pins=450, days=2, events_per_day=20000, seed=3,
                            start_date=dt.date(2026, 1, 1)))
    results = backfill(DAYS[0], DAYS[-1], lake_root=str(settings.lake_root))
    return settings, results


def test_flow_runs_every_stage_for_every_day(spark, lake):
    settings, results = lake
    assert [(r.stage, r.ds) for r in results] == [
        (stage, ds) for ds in DAYS
        for stage in ("ingest", "graph", "pin_pin", "related_pins", "user_candidates", "feature_tables", "gate",
                      "feast")
    ]
    runs = io.read_table(spark, catalog.PIPELINE_RUNS, settings)
    assert runs.where("status = 'success'").count() == len(results)
    checks = rows(io.read_table(spark, catalog.VALIDATION_RESULTS, settings), "ds", "table_name")
    assert [(c["ds"].isoformat(), c["table_name"], c["success"]) for c in checks] == [
        (ds, t, True) for ds in DAYS for t in ("events", "pin_stats", "user_stats")
    ]


def test_online_lookup_equals_delta_table(spark, lake):
    settings, _ = lake
    snapshot = io.read_table(spark, catalog.PIN_STATS, settings).where(F.col("ds") == F.lit(DAYS[-1]).cast("date"))
    top = snapshot.orderBy(F.desc("impressions_7d"), "pin_id").limit(3).collect()
    user = io.read_table(spark, catalog.USER_STATS, settings).where(
        F.col("ds") == F.lit(DAYS[-1]).cast("date")).orderBy("user_id").first()
    online = lookup(settings, user["user_id"], [r["pin_id"] for r in top])
    for i, row in enumerate(top):
        assert online["pin_id"][i] == row["pin_id"]
        for feature in ("impressions_7d", "closeups_7d", "clicks_7d", "saves_7d", "ctr_7d"):
            assert online[f"pin_stats_v1__{feature}"][i] == pytest.approx(row[feature]), feature
    assert online["user_stats_v1__distinct_pins_7d"][0] == user["distinct_pins_7d"]
    assert online["user_stats_v1__impressions_7d"][0] == user["impressions_7d"]


def test_taste_graph_beats_popularity_on_planted_interests(spark, lake):
    settings, _ = lake
    main = cooccurrence.pin_main_interest(io.read_table(spark, catalog.SILVER_PINS, settings))
    related = io.read_table(spark, catalog.RELATED_PINS, settings)
    neighbours = io.read_table(spark, catalog.PIN_PIN_EDGES, settings).withColumnRenamed("other_pin_id",
                                                                                        "candidate_pin_id")
    saved = cooccurrence.saved_to_links(io.read_table(spark, catalog.GRAPH_EDGES, settings))
    popular = popularity_recs(saved, related.select("pin_id"), 10)
    assert related.select("pin_id").distinct().count() >= 200
    p_related = precision_at_k(related, main, 10, "candidate_pin_id")
    p_neighbours = precision_at_k(neighbours, main, 10, "candidate_pin_id")
    p_popular = precision_at_k(popular, main, 10, "candidate_pin_id")
    print(f"precision@10 related={p_related:.3f} pin_pin={p_neighbours:.3f} popularity={p_popular:.3f}")
    assert p_related >= 0.8
    assert p_neighbours >= 0.8
    assert p_popular < 0.3


def test_user_candidates_follow_the_users_planted_interests(spark, lake):
    settings, _ = lake
    main = cooccurrence.pin_main_interest(io.read_table(spark, catalog.SILVER_PINS, settings))
    interests = user_interests(io.read_table(spark, catalog.SILVER_BOARDS, settings))
    recs = io.read_table(spark, catalog.USER_CANDIDATES, settings)
    users = recs.select("user_id").distinct()
    saved = cooccurrence.saved_to_links(io.read_table(spark, catalog.GRAPH_EDGES, settings))
    popular = users.crossJoin(popular_pins(saved, 10))
    assert users.count() >= 100
    p_users = user_precision_at_k(recs, interests, main, 10)
    p_popular = user_precision_at_k(popular, interests, main, 10)
    print(f"user precision@10 candidates={p_users:.3f} popularity={p_popular:.3f}")
    # At this scale (15 pins per interest) a user has already engaged most pins of their
    # interests, and those are never recommended back, so the bar is far above popularity
    # rather than the 0.8 of related pins (the benchmark reports the 1M-event figure).
    assert p_users >= 0.4
    assert p_users >= 5 * p_popular
    engaged = io.read_table(spark, catalog.GRAPH_EDGES, settings).where(
        F.col("edge_type").isin("closeup", "click", "merchant_click", "save", "hide")).select(
        F.col("src_id").alias("user_id"), F.col("dst_id").alias("candidate_pin_id"))
    assert recs.join(engaged, on=["user_id", "candidate_pin_id"], how="inner").count() == 0


def test_tables_are_valid_delta_for_an_independent_reader(spark, lake):
    from deltalake import DeltaTable

    settings, _ = lake
    for table in (catalog.BRONZE_EVENTS, catalog.QUARANTINE, catalog.SILVER_EVENTS, catalog.SILVER_PINS,
                  catalog.GRAPH_EDGE_DAYS, catalog.GRAPH_EDGES, catalog.GRAPH_NODES, catalog.PIN_PIN_EDGES,
                  catalog.RELATED_PINS, catalog.PIN_STATS, catalog.USER_STATS, catalog.PIPELINE_RUNS):
        independent = DeltaTable(table.path(settings)).to_pyarrow_table().num_rows
        assert independent == io.read_table(spark, table, settings).count(), table.name


def test_spark_submit_stage_gives_the_flow_result(spark, lake):
    settings, _ = lake
    ds = DAYS[-1]
    before = rows(io.read_table(spark, catalog.PIN_STATS, settings).where(f"ds = '{ds}'"), "pin_id")
    version = io.table_version(spark, catalog.PIN_STATS, settings)
    command, env = submit_command("feature_tables", ds, settings)
    done = subprocess.run(command, env={**__import__("os").environ, **env}, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"stage": "feature_tables"' in done.stdout
    assert io.table_version(spark, catalog.PIN_STATS, settings) > version  # it really wrote
    after = rows(io.read_table(spark, catalog.PIN_STATS, settings).where(f"ds = '{ds}'"), "pin_id")
    assert after == before


def test_failing_gate_stops_the_flow_and_leaves_the_online_store_unchanged(spark, lake):
    settings, _ = lake
    store = settings.feast_dir / "online_store.db"
    digest = hashlib.sha256(store.read_bytes()).hexdigest()
    bad_day = "2026-01-03"
    t = "2026-01-03T09:00:00.000Z"
    # A pin clicked more often than it was shown: ctr_7d = 3.0 breaks pin_stats_v1.
    events = [{"schema_version": 1, "event_id": f"bad{i}", "event_type": kind, "event_time": t,
               "user_id": "u000001", "pin_id": "p9999999"}
              for i, kind in enumerate(["impression", "click", "click", "click"])]
    write_raw(settings, "events", bad_day, events)
    write_raw(settings, "pins", bad_day, [])
    write_raw(settings, "boards", bad_day, [])
    with pytest.raises(Exception, match=r"pin_stats.*ctr_7d"):
        backfill(bad_day, bad_day, lake_root=str(settings.lake_root))
    assert hashlib.sha256(store.read_bytes()).hexdigest() == digest
    failed = io.read_table(spark, catalog.VALIDATION_RESULTS, settings).where(f"ds = '{bad_day}' AND NOT success")
    assert [r["table_name"] for r in failed.collect()] == ["pin_stats"]
    assert any("ctr_7d" in e for e in failed.first()["failed_expectations"])
    gate_runs = io.read_table(spark, catalog.PIPELINE_RUNS, settings).where(f"ds = '{bad_day}' AND stage = 'gate'")
    assert [r["status"] for r in gate_runs.collect()] == ["failed"]
    assert lookup(settings, "u000001", ["p9999999"])["pin_stats_v1__ctr_7d"][0] is None
