"""End to end through the real engines: generated logs -> Prefect flow (Spark + Delta, GX, Feast)
-> online lookup, plus the gate stopping a bad day before anything is materialized."""
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from flows import training
from flows.daily import backfill, data_docs_index, history_batch
from flows.serving import lookup
from pipelines.core import catalog, io
from pipelines.core.settings import load_settings
from pipelines.evaluation.planted import (
    popular_pins,
    popularity_recs,
    precision_at_k,
    user_interests,
    user_precision_at_k,
)
from pipelines.graph import shared
from pipelines.registry import STAGES
from pipelines.synthetic.generate import GenerateConfig, generate
from pipelines.training import sets
from tests.conftest import comparable, headless_dom, rows, write_raw

DAYS = ["2026-01-01", "2026-01-02"]
TASTEGRAPH = str(Path(sys.executable).parent / "tastegraph")


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    settings = load_settings(env={}, lake_root=tmp_path_factory.mktemp("e2e") / "lake", shuffle_partitions=2)
    generate(GenerateConfig(out=settings.raw_dir, users=150, pins=450, days=2, events_per_day=20000, seed=3,
                            start_date=dt.date(2026, 1, 1)))
    results = backfill(DAYS[0], DAYS[0], lake_root=str(settings.lake_root))
    # After the first day alone the online store already serves that day's snapshot.
    first_user = io.read_table(spark, catalog.USER_STATS, settings).orderBy("user_id").first()["user_id"]
    first_lookup = lookup(settings, first_user, [])
    # A training set of day one, with its test split frozen as a gold set, before day two
    # changes every feature table.
    built = training.build(settings, dt.date.fromisoformat(DAYS[0]), dt.date.fromisoformat(DAYS[0]), gold="gold-e2e")
    results += backfill(DAYS[1], DAYS[1], lake_root=str(settings.lake_root))
    return settings, results, (first_user, first_lookup, built)


def test_flow_runs_every_stage_and_gates_every_table_it_writes(spark, lake):
    settings, results, (_, _, built) = lake
    one_day = [step for stage in STAGES for step in (stage.name, f"gate:{stage.name}")] + ["feast"]
    assert [(r.stage, r.ds) for r in results] == [(step, ds) for ds in DAYS for step in one_day]
    runs = io.read_table(spark, catalog.PIPELINE_RUNS, settings)
    assert runs.where("status = 'success'").count() == len(results)
    checks = rows(io.read_table(spark, catalog.VALIDATION_RESULTS, settings), "ds", "table_name")
    written = sorted(t.name for stage in STAGES for t in stage.writes)
    flow_checks = [c for c in checks if c["run_id"] != built.training_set_id]
    assert [(c["ds"].isoformat(), c["table_name"], c["suite"], c["success"]) for c in flow_checks] == [
        (ds, t, f"{t}_v1", True) for ds in DAYS for t in written
    ]
    # The training-set build between the two days is gated too, under its own id.
    assert [(c["table_name"], c["success"]) for c in checks if c["run_id"] == built.training_set_id] == [
        (catalog.TRAINING_SETS.name, True)
    ]
    feast = [r for r in results if r.stage == "feast"]
    assert all(r.rows_out > 0 and r.rows_out == r.rows_in for r in feast), [(r.rows_in, r.rows_out) for r in feast]


# What a history batch must reproduce exactly. The embedding families are trained once, on the
# graph at the range's end (day by day they train on their cadence); ingested_at is the clock.
SAME_AS_DAY_BY_DAY = (
    catalog.BRONZE_EVENTS, catalog.BRONZE_PINS, catalog.BRONZE_BOARDS, catalog.QUARANTINE, catalog.SILVER_EVENTS,
    catalog.SILVER_PINS, catalog.SILVER_BOARDS, catalog.TOUCHED_DATES, catalog.GRAPH_EDGE_DAYS, catalog.GRAPH_EDGES,
    catalog.GRAPH_NODES, catalog.PIN_PIN_EDGES, catalog.RELATED_PINS, catalog.USER_CANDIDATES, catalog.PIN_STATS,
    catalog.USER_STATS, catalog.PIN_GRAPH_STATS, catalog.TRAINING_EXAMPLES,
)


def test_one_batch_backfill_equals_running_day_by_day(spark, lake, tmp_path):
    settings, _, _ = lake
    batch = load_settings(env={}, lake_root=tmp_path / "lake", shuffle_partitions=2)
    shutil.copytree(settings.raw_dir, batch.raw_dir)
    results = history_batch(DAYS[0], DAYS[-1], lake_root=str(batch.lake_root))
    one_batch = [step for stage in STAGES for step in (stage.name, f"gate:{stage.name}")] + ["feast"]
    assert [r.stage for r in results] == one_batch
    assert {r.ds for r in results if r.stage == "ingest"} == {DAYS[0]}  # one ingest for both days

    def content(s, table):
        frame = io.read_table(spark, table, s)
        if table is catalog.GRAPH_EDGES:  # the weights as of one day (each row stores its own weight_date)
            frame = shared.weight_as_of(frame, DAYS[-1], s.decay_half_life_days)
        return comparable(frame)

    for table in SAME_AS_DAY_BY_DAY:
        assert content(batch, table) == content(settings, table), table.name
    # Every pin the graph holds has a fused embedding, and the online store serves the last day.
    embedded = io.read_table(spark, catalog.PIN_EMBEDDINGS, batch).select("pin_id")
    pins = io.read_table(spark, catalog.GRAPH_NODES, batch).where("node_type = 'pin'").select(F.col("node_id").alias("pin_id"))
    assert pins.join(embedded, "pin_id", "left_anti").count() == 0
    user = io.read_table(spark, catalog.USER_STATS, batch).where(f"ds = '{DAYS[-1]}'").orderBy("user_id").first()
    found = lookup(batch, user["user_id"], [])
    assert found.user["impressions_7d"] == user["impressions_7d"]


def test_first_single_day_fills_the_online_store(spark, lake):
    settings, _, (user, found, _) = lake
    day_one = io.read_table(spark, catalog.USER_STATS, settings).where(f"ds = '{DAYS[0]}' AND user_id = '{user}'")
    expected = day_one.first()
    assert found.user is not None
    assert found.user["impressions_7d"] == expected["impressions_7d"]
    assert found.user["distinct_pins_7d"] == expected["distinct_pins_7d"]


def test_lookup_reports_unknown_entities_as_not_found(spark, lake):
    settings, _, _ = lake
    pin = io.read_table(spark, catalog.PIN_STATS, settings).orderBy("pin_id").first()["pin_id"]
    found = lookup(settings, "u_nobody", [pin, "p_nothing"])
    assert found.user is None
    assert found.pins["p_nothing"] is None
    assert found.pins[pin] is not None and "impressions_7d" in found.pins[pin]


def test_online_lookup_equals_delta_table(spark, lake):
    settings, _, _ = lake
    snapshot = io.read_table(spark, catalog.PIN_STATS, settings).where(F.col("ds") == F.lit(DAYS[-1]).cast("date"))
    top = snapshot.orderBy(F.desc("impressions_7d"), "pin_id").limit(3).collect()
    user = io.read_table(spark, catalog.USER_STATS, settings).where(
        F.col("ds") == F.lit(DAYS[-1]).cast("date")).orderBy("user_id").first()
    online = lookup(settings, user["user_id"], [r["pin_id"] for r in top])
    for row in top:
        for feature in ("impressions_7d", "closeups_7d", "clicks_7d", "saves_7d", "ctr_7d"):
            assert online.pins[row["pin_id"]][feature] == pytest.approx(row[feature]), feature
    assert online.user["distinct_pins_7d"] == user["distinct_pins_7d"]
    assert online.user["impressions_7d"] == user["impressions_7d"]


def test_taste_graph_beats_popularity_on_planted_interests(spark, lake):
    settings, _, _ = lake
    main = shared.pin_main_interest(io.read_table(spark, catalog.SILVER_PINS, settings))
    related = io.read_table(spark, catalog.RELATED_PINS, settings)
    neighbours = io.read_table(spark, catalog.PIN_PIN_EDGES, settings).withColumnRenamed("other_pin_id",
                                                                                        "candidate_pin_id")
    saved = shared.saved_to_links(io.read_table(spark, catalog.GRAPH_EDGES, settings))
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
    settings, _, _ = lake
    main = shared.pin_main_interest(io.read_table(spark, catalog.SILVER_PINS, settings))
    interests = user_interests(io.read_table(spark, catalog.SILVER_BOARDS, settings))
    recs = io.read_table(spark, catalog.USER_CANDIDATES, settings)
    users = recs.select("user_id").distinct()
    saved = shared.saved_to_links(io.read_table(spark, catalog.GRAPH_EDGES, settings))
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


def test_embeddings_beat_popularity_and_are_recorded(spark, lake):
    from pipelines.evaluation import embeddings as quality

    settings, _, _ = lake
    rows_ = quality.measure(spark, settings, DAYS[-1], queries=500)
    quality.record(spark, settings, rows_)
    got = {r["family"]: r for r in rows_}
    print({f: (round(r["value"], 3), round(r["baseline_value"], 3)) for f, r in got.items()})
    popularity = got["graph (Word2Vec on walks)"]["baseline_value"]
    assert popularity < 0.1
    # Floors at this scale (~10 walked pins per interest, see BENCHMARKS.md for 1M events);
    # random vectors score about the base rate of an interest, ~0.05.
    floors = {"graph (Word2Vec on walks)": 0.2, "collaborative (implicit ALS)": 0.4,
              "content (TF-IDF + SVD, off the shelf)": 0.7, "aligned content": 0.6, "fused (graph, else aligned)": 0.4}
    for family, floor in floors.items():
        assert got[family]["value"] >= floor, (family, got[family]["value"])
        assert got[family]["value"] >= 4 * popularity, family
    cold = got["aligned content (cold start)"]
    assert cold["pins"] >= 40 and cold["value"] >= 0.5          # held-out pins still land near their interest
    recorded = io.read_table(spark, catalog.EMBEDDING_QUALITY, settings).where(F.col("ds") == DAYS[-1])
    assert recorded.count() == len(rows_)


def test_daily_flow_reuses_models_and_encodes_only_changed_pins(spark, lake):
    settings, results, _ = lake
    by = {(r.stage, r.ds): r for r in results}
    for name in ("graph_embeddings", "collaborative_embeddings"):
        assert by[(name, DAYS[0])].details["trained"] is True
        assert by[(name, DAYS[1])].details["trained"] is False      # within embedding_retrain_days: reused
        assert by[(name, DAYS[1])].details["model_version"] == by[(name, DAYS[0])].details["model_version"]
    day_one, day_two = by[("content_embeddings", DAYS[0])], by[("content_embeddings", DAYS[1])]
    assert day_one.details["encoded"] == day_one.rows_in                 # every pin on the first day
    assert 0 < day_two.details["encoded"] < day_two.rows_in              # then new and changed pins only
    fused = io.read_table(spark, catalog.PIN_EMBEDDINGS, settings)
    pins = io.read_table(spark, catalog.SILVER_PINS, settings)
    assert fused.count() == pins.count()                                 # every pin has a vector
    sources = {r["source"] for r in fused.select("source").distinct().collect()}
    assert sources == {"graph", "aligned_content"}
    graph = io.read_table(spark, catalog.PIN_GRAPH_EMBEDDINGS, settings).select("pin_id", F.col("embedding").alias("g"))
    mismatched = fused.where("source = 'graph'").join(graph, on="pin_id", how="left").where(~F.col("g").eqNullSafe(
        F.col("embedding")))
    assert mismatched.count() == 0
    clusters = io.read_table(spark, catalog.USER_INTEREST_EMBEDDINGS, settings)
    per_user = clusters.groupBy("user_id").agg(F.count("*").alias("n"), F.max("cluster").alias("top"))
    assert per_user.count() >= 100 and per_user.where(f"n > {settings.user_interests_max} OR top <> n").count() == 0


def test_walk_embeddings_are_reproducible_and_als_within_tolerance(spark, lake):
    from pyspark.ml.recommendation import ALS

    from pipelines.embeddings import collaborative, vectors
    from pipelines.embeddings.graph_embeddings import fit_word2vec, walk_sentences
    from pipelines.graph.walks import walk_steps

    settings, _, _ = lake
    s = settings
    edges = shared.weight_as_of(io.read_table(spark, catalog.GRAPH_EDGES, s), DAYS[-1], s.decay_half_life_days)
    pins = io.read_table(spark, catalog.SILVER_PINS, s)
    pruned = shared.pruned_pin_boards(shared.saved_to_links(edges), shared.pin_main_interest(pins),
                                      s.board_entropy_max, s.pin_board_keep, s.board_pin_cap, s.pin_board_min_share)

    def graph_vectors():
        sentences = walk_sentences(walk_steps(pruned.repartition(3), 2, 5, 0.0, 1))
        return {r["word"]: list(r["vector"]) for r in fit_word2vec(sentences, 8, 3, 1, 1).getVectors().collect()}

    assert graph_vectors() == graph_vectors()                          # bit for bit, whatever the partitioning
    pairs = vectors.engagement(edges)
    users = collaborative.numbered(pairs, "user_id", "user")
    items = collaborative.numbered(pairs, "pin_id", "item")
    ratings = pairs.join(users, on="user_id").join(items, on="pin_id").select("user", "item",
                                                                               F.col("weight").alias("rating"))

    def als_vectors():
        model = ALS(rank=8, maxIter=5, implicitPrefs=True, seed=3, userCol="user", itemCol="item",
                    ratingCol="rating").fit(ratings)
        return {r["id"]: list(r["features"]) for r in model.itemFactors.collect()}

    a, b = als_vectors(), als_vectors()
    assert a.keys() == b.keys()
    # MLlib's ALS sums blocks in shuffle order: the same inputs and seed agree to 1e-4, not bitwise.
    assert max(abs(x - y) for k in a for x, y in zip(a[k], b[k])) <= 1e-4


def test_lookup_shows_embeddings(spark, lake):
    from flows.cli import _fmt

    settings, _, _ = lake
    user = io.read_table(spark, catalog.USER_INTEREST_EMBEDDINGS, settings).orderBy("user_id").first()
    pin = io.read_table(spark, catalog.PIN_EMBEDDINGS, settings).orderBy("pin_id").first()
    found = lookup(settings, user["user_id"], [pin["pin_id"]])
    assert found.pins[pin["pin_id"]]["embedding"] == pytest.approx(list(pin["embedding"]), abs=1e-6)
    assert found.pins[pin["pin_id"]]["source"] == pin["source"]
    clusters = io.read_table(spark, catalog.USER_INTEREST_EMBEDDINGS, settings).where(
        F.col("user_id") == user["user_id"]).orderBy("cluster").collect()
    assert found.user["interests"] == len(clusters)
    assert found.user["interest_medoids"] == [c["medoid_pin_id"] for c in clusters]
    assert found.user["interest_embeddings"] == pytest.approx([x for c in clusters for x in c["embedding"]], abs=1e-6)
    shown = _fmt(found.pins[pin["pin_id"]]["embedding"])
    assert shown.endswith(f"({settings.embedding_dim} values)") and shown.count(",") == 4


def test_tables_are_valid_delta_for_an_independent_reader(spark, lake):
    from deltalake import DeltaTable

    settings, _, _ = lake
    for table in (catalog.BRONZE_EVENTS, catalog.QUARANTINE, catalog.SILVER_EVENTS, catalog.SILVER_PINS,
                  catalog.GRAPH_EDGE_DAYS, catalog.GRAPH_EDGES, catalog.GRAPH_NODES, catalog.PIN_PIN_EDGES,
                  catalog.RELATED_PINS, catalog.PIN_STATS, catalog.USER_STATS, catalog.PIPELINE_RUNS,
                  catalog.PIN_GRAPH_EMBEDDINGS, catalog.PIN_CONTENT_EMBEDDINGS, catalog.PIN_EMBEDDINGS,
                  catalog.USER_INTEREST_EMBEDDINGS):
        independent = DeltaTable(table.path(settings)).to_pyarrow_table().num_rows
        assert independent == io.read_table(spark, table, settings).count(), table.name


def test_data_docs_page_reads_offline_in_headless_chromium(lake, tmp_path):
    """The page the run prints renders in a real browser with no network: one row per
    validation, named after the table and the day, and nothing fetched from elsewhere."""
    settings, _, _ = lake
    page = data_docs_index(settings)
    assert page.is_file() and page.is_absolute()
    html_text = page.read_text()
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", html_text), "the page loads something from the network"
    dom = headless_dom(page, tmp_path / "profile")
    cells = re.findall(r"<tr><td>([^<]+)</td>", dom)
    written = sorted(t.name for stage in STAGES for t in stage.writes)
    training_set = f"{catalog.TRAINING_SETS.name} {DAYS[0]}"  # the build between the two days
    assert sorted(cells) == sorted([f"{t} {ds}" for ds in DAYS for t in written] + [training_set])
    assert dom.count('class="ok">passed') == len(cells)
    assert "<style>" in dom


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_feast_cli_works_in_the_feature_repository(spark, lake, tmp_path):
    """The feast CLI as a Feast user runs it, in a copy of features/ beside a copy of the lake:
    apply, list, materialize a first day, materialize-incremental the next, serve over HTTP."""
    settings, _, _ = lake
    repo = Path(__file__).resolve().parents[1]
    shutil.copytree(repo / "features", tmp_path / "features", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(settings.lake_root, tmp_path / "lake", ignore=shutil.ignore_patterns("_feast", "_gx", "raw"))
    (tmp_path / ".jars").symlink_to(repo / ".jars")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASTEGRAPH_")}
    feast = str(Path(sys.executable).parent / "feast")

    def cli(*args: str) -> str:
        done = subprocess.run([feast, *args], cwd=tmp_path / "features", env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-3000:])
        return done.stdout

    cli("apply")
    assert (tmp_path / "lake" / "_feast" / "registry.db").is_file()
    assert not list(tmp_path.rglob("*${*")), "a configuration variable was taken literally"
    listed = cli("feature-views", "list")
    assert "pin_stats_v1" in listed and "user_stats_v1" in listed
    cli("materialize", f"{DAYS[0]}T00:00:00", f"{DAYS[1]}T00:00:00")
    cli("materialize-incremental", f"{DAYS[1]}T23:59:59")  # from where the first one ended

    user = io.read_table(spark, catalog.USER_STATS, settings).where(f"ds = '{DAYS[1]}'").orderBy("user_id").first()
    port = _free_port()
    server = subprocess.Popen([feast, "serve", "-p", str(port), "--no-access-log"], cwd=tmp_path / "features",
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        body = json.dumps({"feature_service": "ranking_v1",
                           "entities": {"user_id": [user["user_id"]], "pin_id": ["p_unknown"]},
                           "full_feature_names": True}).encode()
        deadline = time.monotonic() + 120
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/get-online-features", data=body,
                                                 headers={"Content-Type": "application/json"})
                served = json.load(urllib.request.urlopen(request, timeout=10))
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.stderr.read().decode()[-3000:]
                assert time.monotonic() < deadline, "feast serve did not answer within 120 s"
                time.sleep(1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    names = served["metadata"]["feature_names"]
    values = {name: result["values"][0] for name, result in zip(names, served["results"])}
    assert values["user_stats_v1__impressions_7d"] == user["impressions_7d"]  # day 2: the incremental run
    assert values["user_stats_v1__distinct_pins_7d"] == user["distinct_pins_7d"]
    assert values["pin_stats_v1__impressions_7d"] is None  # an unknown pin


def test_daily_flow_labels_examples_and_never_samples_an_engaged_pin(spark, lake):
    settings, _, _ = lake
    examples = io.read_table(spark, catalog.TRAINING_EXAMPLES, settings)
    by_type = {(r["event_date"].isoformat(), r["label_type"]): r["count"]
               for r in examples.groupBy("event_date", "label_type").count().collect()}
    for day in DAYS:
        for label_type in ("save", "click", "impression_negative", "sampled_negative"):
            assert by_type.get((day, label_type), 0) > 0, (day, label_type, by_type)
    events = io.read_table(spark, catalog.SILVER_EVENTS, settings)
    positives = events.where("event_type IN ('save', 'click') AND pin_id IS NOT NULL").count()
    assert examples.where("label = 1").count() == positives
    engaged = events.where("event_type IN ('closeup', 'click', 'save', 'hide')").select(
        "user_id", "pin_id", F.col("event_date").alias("engaged_on"))
    sampled = examples.where("label_type = 'sampled_negative'")
    clash = sampled.join(engaged, on=["user_id", "pin_id"], how="inner").where("engaged_on <= event_date")
    assert clash.count() == 0


def test_training_set_rebuilds_exactly_after_later_days_changed_its_inputs(spark, lake):
    settings, _, (_, _, built) = lake
    recorded = sets.manifest(spark, settings, built.training_set_id)
    assert recorded["content_hash"] == built.content_hash and recorded["rows"] == built.rows > 0
    now = training.pinned_versions(settings, recorded["feature_service"])
    changed = [t for t, v in recorded["input_versions"].items() if now[t] > v]
    assert {"user_stats", "pin_stats", "training_examples_v1"} <= set(changed), (recorded["input_versions"], now)
    assert sorted(recorded["feature_refs"]) == sorted(r.replace("__", ":") for r in sets.feature_columns(
        sets.read_training_set(spark, settings, built.training_set_id)))
    rebuilt = training.rebuild(settings, built.training_set_id)
    assert rebuilt.content_hash == recorded["content_hash"]
    assert training.stored_hash(settings, built.training_set_id) == recorded["content_hash"]
    # The same range built from today's versions is another training set, not an overwrite.
    again = training.build(settings, dt.date.fromisoformat(DAYS[0]), dt.date.fromisoformat(DAYS[0]))
    assert again.training_set_id != built.training_set_id


def test_gold_set_is_the_frozen_test_split_and_is_never_overwritten(spark, lake):
    settings, _, (_, _, built) = lake
    gold = io.read_table(spark, catalog.GOLD_SET, settings).where("gold_version = 'gold-e2e'")
    test_split = sets.read_training_set(spark, settings, built.training_set_id).where("split = 'test'")
    assert gold.count() == test_split.count() > 0
    assert sets.content_hash(gold.drop("gold_version")) == sets.content_hash(test_split)
    version = io.table_version(spark, catalog.GOLD_SET, settings)
    assert sets.freeze_gold_set(spark, settings, test_split, "gold-e2e") == 0  # the same build again: a no-op
    other = test_split.withColumn("training_set_id", F.lit("ts-another"))
    with pytest.raises(sets.TrainingSetError, match="never overwritten"):
        sets.freeze_gold_set(spark, settings, other, "gold-e2e")
    assert io.table_version(spark, catalog.GOLD_SET, settings) == version


def test_training_set_reads_without_spark_as_the_readme_shows(spark, lake):
    """The README's deltalake snippet, run as written (its path and id swapped for this lake's),
    then the same calls on the split this one-day set has."""
    settings, _, (_, _, built) = lake
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    snippet = readme.split("**Reading a training set without Spark**")[1].split("```python\n")[1].split("```")[0]
    path, ts = str(catalog.TRAINING_SETS.path(settings)), built.training_set_id
    snippet = snippet.replace('"lake/gold/training_sets_v1"', repr(path))
    snippet = re.sub(r'ts = "ts-[^"]+"', f"ts = {ts!r}", snippet)
    scope: dict = {}
    exec(compile(snippet, "README.md", "exec"), scope)  # noqa: S102 - the documented snippet itself
    expected = sets.read_training_set(spark, settings, ts)
    assert len(scope["train"]) == expected.where("split = 'train'").count()
    import pyarrow.dataset as pads
    streamed = [batch.num_rows for batch in scope["dataset"].to_batches(
        columns=["user_id", "pin_id", "label", "user_stats_v1__ctr_7d"], filter=pads.field("split") == "test",
        batch_size=1000)]
    assert sum(streamed) == expected.where("split = 'test'").count() > 1000
    test = scope["table"].to_pandas(partitions=[("training_set_id", "=", ts)], filters=[("split", "=", "test")])
    assert sorted(test["example_id"]) == sorted(r["example_id"] for r in expected.where("split = 'test'").collect())


def test_failing_gate_stops_the_flow_and_leaves_the_online_store_unchanged(spark, lake):
    settings, _, _ = lake
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
    done = subprocess.run([TASTEGRAPH, "run", "--lake", str(settings.lake_root), "--ds", bad_day],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 1, done.stderr[-3000:]
    *progress, last = done.stderr.strip().splitlines()
    assert re.match(r"tastegraph: Great Expectations gate failed.*pin_stats.*ctr_7d.*validations\.html", last), last
    # Quiet: progress lines and the one error line; the rest went to the log file it names.
    everything = done.stdout + done.stderr
    for noise in ("Traceback", "WARN", "\x1b[", "Calculating Metrics", "RuntimeWarning", "INFO"):
        assert noise not in everything, noise
    assert any("gate ingest 2026-01-03" in line for line in progress), progress
    log_file = Path(re.search(r"\(log: (\S+)\)", done.stderr).group(1))
    assert "pin_stats" in log_file.read_text()
    assert hashlib.sha256(store.read_bytes()).hexdigest() == digest
    failed = io.read_table(spark, catalog.VALIDATION_RESULTS, settings).where(f"ds = '{bad_day}' AND NOT success")
    assert [r["table_name"] for r in failed.collect()] == ["pin_stats"]
    assert any("ctr_7d" in e for e in failed.first()["failed_expectations"])
    gate_runs = io.read_table(spark, catalog.PIPELINE_RUNS, settings).where(f"ds = '{bad_day}' AND stage = 'gate:feature_tables'")
    assert [r["status"] for r in gate_runs.collect()] == ["failed"]
    assert lookup(settings, "u000001", ["p9999999"]).pins["p9999999"] is None
