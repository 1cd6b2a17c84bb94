"""Offline evaluation: the splits, the metrics, the stage on a generated lake (every method
trained in its own training lake, gated results with lineage), bad input, and the report in
headless Chromium."""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import functions as F

from flows.evaluation import evaluate, results_frame, write_report
from pipelines.core import catalog, io, scratch
from pipelines.core.settings import load_settings
from pipelines.evaluation import methods, metrics, splits
from pipelines.evaluation import stage as evaluation_stage
from pipelines.evaluation.stage import PROTOCOL_A, PROTOCOL_B, TRAINING_STAGES, Split, _rows_of, evaluate_method
from pipelines.synthetic.generate import GenerateConfig, generate
from tests.conftest import headless_dom, rows, run

TASTEGRAPH = str(Path(sys.executable).parent / "tastegraph")
T0 = dt.datetime(2026, 1, 1, 10)


def _pairs(spark, data):
    return spark.createDataFrame([(u, p, T0 + dt.timedelta(minutes=t), m) for u, p, t, m in data],
                                 "user_id string, pin_id string, interaction_time timestamp, merchant_click boolean")


def test_interactions_are_first_engagements_beyond_a_look(spark):
    events = spark.createDataFrame([
        ("u1", "p1", "impression", T0, False), ("u1", "p1", "click", T0 + dt.timedelta(hours=1), True),
        ("u1", "p1", "save", T0 + dt.timedelta(hours=2), False), ("u1", "p2", "hide", T0, False),
        ("u1", "p3", "impression", T0, False), ("u2", "p2", "closeup", T0, None), ("u2", None, "follow", T0, None),
    ], "user_id string, pin_id string, event_type string, event_time timestamp, is_merchant boolean")
    got = rows(splits.interactions(events), "user_id", "pin_id")
    assert got == [
        {"user_id": "u1", "pin_id": "p1", "interaction_time": T0 + dt.timedelta(hours=1), "merchant_click": True},
        {"user_id": "u2", "pin_id": "p2", "interaction_time": T0, "merchant_click": False},
    ]


def test_last_interaction_held_out_with_ties_broken_by_pin_id(spark):
    pairs = _pairs(spark, [("u1", "a", 1, False), ("u1", "c", 5, False), ("u1", "b", 5, False),
                           ("u2", "a", 1, False), ("u3", "a", 1, False), ("u3", "b", 2, False)])
    held = {(r["user_id"], r["pin_id"]) for r in splits.last_interactions(pairs).collect()}
    assert held == {("u1", "c"), ("u3", "b")}  # u2 has one interaction: it stays for training


def test_share_holdout_holds_out_cold_pins_and_each_users_latest_or_random_share(spark):
    data = [("u1", p, t, False) for t, p in enumerate("abcdefghij")] + [("u2", "a", 0, False), ("u2", "z", 1, False),
                                                                      ("u3", "b", 0, False)]
    pairs = _pairs(spark, data)
    cold = spark.createDataFrame([("z",)], "pin_id string")
    held = {(r["user_id"], r["pin_id"]) for r in splits.share_holdout(pairs, cold, 0.2).collect()}
    # u1: the latest ceil(0.2 * 10) = 2; u2: z is cold, its one warm pin stays; u3: one pin stays.
    assert held == {("u1", "j"), ("u1", "i"), ("u2", "z")}
    # random: as many, picked by the seed (not the latest every time), the same on every run.
    picks = {seed: {(r["user_id"], r["pin_id"]) for r in splits.share_holdout(pairs, cold, 0.2, "random", seed).collect()}
             for seed in range(6)}
    for seed, got in picks.items():
        assert ("u2", "z") in got and len(got) == 3 and {u for u, _ in got} == {"u1", "u2"}, (seed, got)
        assert got == {(r["user_id"], r["pin_id"]) for r in splits.share_holdout(pairs, cold, 0.2, "random", seed).collect()}
    assert len({frozenset(got) for got in picks.values()}) > 1 and any(got != held for got in picks.values())
    with pytest.raises(ValueError, match="latest, random"):
        splits.share_holdout(pairs, cold, 0.2, "oldest")
    picked = {r["pin_id"] for r in splits.cold_pins(pairs, 0.5, 7).collect()}
    assert len(picked) == 5 and picked == {r["pin_id"] for r in splits.cold_pins(pairs, 0.5, 7).collect()}
    assert picked != {r["pin_id"] for r in splits.cold_pins(pairs, 0.5, 8).collect()} or len(picked) == 0


def test_training_events_keep_no_trace_of_held_out_pairs_or_cold_pins(spark):
    events = spark.createDataFrame([
        ("e1", "u1", "p1", "impression"), ("e2", "u1", "p1", "save"), ("e3", "u2", "p1", "save"),
        ("e4", "u1", "p2", "click"), ("e5", "u2", "p9", "impression"), ("e6", "u1", None, "follow"),
    ], "event_id string, user_id string, pin_id string, event_type string")
    held = spark.createDataFrame([("u1", "p1")], "user_id string, pin_id string")
    cold = spark.createDataFrame([("p9",)], "pin_id string")
    kept = sorted(r["event_id"] for r in splits.training_events(events, held, cold).collect())
    assert kept == ["e3", "e4", "e6"]


def test_full_ranking_metrics_exact():
    top = np.array([[3, 1, 2, 0], [0, 1, 2, 3], [1, 0, -1, -1]])
    got = metrics.full_ranking(top, [{1, 2}, set(), {5}], (1, 2, 4))
    d = 1 / np.log2(np.arange(2, 6))
    assert got["recall@2"][0] == pytest.approx(0.5) and got["recall@4"][0] == pytest.approx(1.0)
    assert got["ndcg@2"][0] == pytest.approx(d[1] / (d[0] + d[1]))
    assert got["ndcg@4"][0] == pytest.approx((d[1] + d[2]) / (d[0] + d[1]))
    assert np.isnan(got["recall@4"][1]) and np.isnan(got["ndcg@4"][1])  # nothing held out: no value, no 0/0
    assert got["recall@4"][2] == 0.0 and got["ndcg@4"][2] == 0.0


def test_sampled_rank_breaks_ties_by_the_shared_order_and_ranks_unscored_positives_last():
    u = metrics.UNSCORED
    neg = np.array([[0.9, 0.5, 0.1], [0.5, 0.5, 0.5], [u, u, 0.1], [0.2, u, metrics.EXCLUDED]])
    pos = np.array([0.5, 0.5, u, 0.3])
    ranks = metrics.sampled_rank(pos, neg, np.array([1, 1, 0, 0]), np.array([[0, 0, 0], [0, 2, 3], [1, 2, 3], [1, 2, 3]]))
    # 0.9 above; the tie at 0.5 ranks above (tie 0 < 1). Row 2: unscored positive is last of its 4.
    # Row 4: an excluded slot (fewer negatives than asked) is no candidate.
    assert ranks.tolist() == [3, 2, 4, 1]
    got = metrics.sampled_metrics(ranks, (1, 3))
    assert got["hr@1"].tolist() == [0, 0, 0, 1] and got["hr@3"].tolist() == [1, 1, 0, 1]
    assert got["ndcg@3"][1] == pytest.approx(1 / np.log2(3))


def test_top_k_breaks_ties_by_the_seeded_order_not_by_id():
    scores = np.zeros((1, 6), dtype=np.float32)
    tie = metrics.tie_order(6, 13)
    assert metrics.top_k(scores, tie, 6)[0].tolist() == np.argsort(tie).tolist()
    assert metrics.mean_and_interval(np.array([np.nan]), 50, 1) == (None, None, None, 0)
    value, lo, hi, n = metrics.mean_and_interval(np.array([0.0, 1.0, 1.0, 0.0]), 200, 1)
    assert value == 0.5 and lo <= value <= hi and n == 4


def test_top_k_of_many_rows_is_the_full_sort_cut_at_k():
    rng = np.random.default_rng(4)
    values = np.array([0.1, 0.5, 1.0, metrics.UNSCORED, metrics.EXCLUDED], dtype=np.float32)
    for n, k in ((40, 7), (40, 40), (40, 45), (300, 50), (5, 1)):
        scores = rng.choice(values, size=(12, n))                   # many ties, unscored and excluded items
        scores[1] = metrics.UNSCORED
        scores[2] = rng.random(n).astype(np.float32)
        tie = rng.permutation(n)
        full = np.lexsort((np.broadcast_to(tie, scores.shape), -scores.astype(np.float64)), axis=-1)[:, :k]
        np.testing.assert_array_equal(metrics.top_k(scores, tie, k), full)


def test_the_walk_scores_the_same_with_a_dense_or_a_sparse_pin_pin_matrix(monkeypatch):
    rng = np.random.default_rng(2)
    train = [np.unique(rng.choice(60, rng.integers(2, 15))) for _ in range(40)]
    data = methods.Data([f"p{i}" for i in range(60)], [f"u{u}" for u in range(40)], train)
    engaged = [(f"u{u}", f"p{p}", float(rng.random() + 0.1), float(rng.integers(0, 1000)))
               for u, pins in enumerate(train) for p in pins]
    rows = np.arange(40)
    got = {}
    for share in (0.0, 2.0):                                       # always dense, never dense
        monkeypatch.setattr(methods, "DENSE_SHARE", share)
        score = methods.walk(data, engaged)
        got[share] = [score(rows, g) for g in methods.GRID["walk"][::5]]
    for dense, sparse_ in zip(got[0.0], got[2.0]):
        np.testing.assert_array_equal(dense, sparse_)
        assert (dense > metrics.UNSCORED).any()


def _toy_split(protocol):
    data = methods.Data(["a", "b", "c", "d"], ["u1", "u2"], [np.array([0]), np.array([1])])
    return Split(protocol, "test", "toy", data, [{2}, {3}], [set(), set()], np.array([3]), [{0, 2}, {1, 3}])


def test_a_method_without_candidates_is_reported_and_scores_zero_not_nan():
    split = _toy_split(PROTOCOL_B)
    nothing = lambda rows_, params: np.full((len(rows_), 4), metrics.UNSCORED, dtype=np.float32)  # noqa: E731
    result = evaluate_method(split, nothing, {}, metrics.tie_order(4, 1), None)
    assert result["scored_users"] == 0 and result["coverage@20"] == 0.0
    s = load_settings(env={})
    out = _rows_of(split, "pixie", result, {}, s, {"family": "taste graph"})
    recall = next(r for r in out if r["metric"] == "recall" and r["k"] == 20 and r["slice"] == "all")
    assert recall["value"] == 0.0 and recall["users"] == 2
    assert recall["note"] == "the method produced no candidates for any user"
    merchant = next(r for r in out if r["slice"] == "merchant_clicks" and r["metric"] == "recall")
    assert merchant["value"] is None and merchant["users"] == 0 and "no held-out" in merchant["note"]


def test_popularity_ranks_the_held_out_item_by_training_counts():
    # Training counts: a 3, b 2, c 1, d 0. u1 trained on a ranks b, c, d: its held-out b comes
    # first. u2 trained on a and b ranks c, d: its held-out d comes second.
    data = methods.Data(["a", "b", "c", "d"], ["u1", "u2", "u3"],
                        [np.array([0]), np.array([0, 1]), np.array([0, 1, 2])])
    split = Split(PROTOCOL_B, "test", "toy", data, [{1}, {3}, {3}], [set()] * 3, np.array([], dtype=np.int64),
                  [set()] * 3)
    result = evaluate_method(split, methods.popularity(data), {}, metrics.tie_order(4, 1), None)
    ndcg = result["per_user"]["all"]["ndcg@5"]
    assert ndcg[0] == pytest.approx(1.0) and ndcg[1] == pytest.approx(1 / np.log2(3))
    assert result["per_user"]["all"]["recall@5"].tolist() == [1.0, 1.0, 1.0]  # training pins never come back


def test_graph_walk_is_the_exact_three_step_walk_over_every_users_edges():
    # u1 -> a -> {u1, u2} -> pins: a 1/2 + 1/4, b 1/4; c is never reached. u2 -> {a, b} ->
    # {u1 1/4, u2 1/4 + 1/4, u3 1/4} -> a 1/2, b 3/8, c 1/8.
    # Zero weights are no edge; u4 has none and gets no score. The last field is when the user
    # last engaged with the pin (u2 saw a before b).
    data = methods.Data(["a", "b", "c"], ["u1", "u2", "u4"], [np.array([0]), np.array([0, 1]), np.array([], dtype=np.int64)])
    engaged = [("u1", "a", 1.0, 5.0), ("u2", "a", 1.0, 10.0), ("u2", "b", 1.0, 20.0), ("u3", "b", 1.0, 1.0),
               ("u3", "c", 1.0, 2.0), ("u4", "c", 0.0, 3.0), ("x", "not-in-catalogue", 5.0, 4.0)]
    score = methods.walk(data, engaged)
    plain = score(np.array([0, 1, 2]), {"alpha": 1.0, "beta": 0.0, "neighbours": None})
    assert plain[0, :2] == pytest.approx([0.75, 0.25]) and plain[0, 2] == metrics.UNSCORED
    assert plain[1] == pytest.approx([0.5, 0.375, 0.125])
    assert (plain[2] == metrics.UNSCORED).all()
    # beta divides by the pin's degree (users who engaged with it: a 2, b 2, c 1) ** beta.
    damped = score(np.array([1]), {"alpha": 1.0, "beta": 1.0})
    assert damped[0] == pytest.approx([0.25, 0.1875, 0.125])
    # alpha raises each step's probabilities: sqrt(1/2) twice from u1 through u2 back to a.
    sharp = score(np.array([0]), {"alpha": 0.5, "beta": 0.0})
    assert sharp[0, :2] == pytest.approx([np.sqrt(0.5) + 0.5, 0.5])
    # Weights set the probabilities: u1 saving a twice as much sends a's walkers back to u1 2/3;
    # a binary walk takes every edge alike again.
    heavier = methods.walk(data, [("u1", "a", 2.0, 5.0)] + engaged[1:])
    assert heavier(np.array([0]), {"alpha": 1.0, "beta": 0.0})[0, :2] == pytest.approx([2 / 3 + 1 / 6, 1 / 6])
    assert heavier(np.array([0]), {"alpha": 1.0, "beta": 0.0, "binary": True}) == pytest.approx(plain[:1])
    # One neighbour per pin: a -> a 3/4, b -> b 1/2, c -> b 1/2 (a tie with c, broken by index).
    pruned = score(np.array([1]), {"alpha": 1.0, "beta": 0.0, "neighbours": 1})
    assert pruned[0, :2] == pytest.approx([0.375, 0.25]) and pruned[0, 2] == metrics.UNSCORED
    assert score(np.array([1]), {"alpha": 1.0, "beta": 0.0, "neighbours": 3}) == pytest.approx(plain[1:2])
    # recent 1: u2 starts from b (latest) with twice a's weight, 2/3 and 1/3; a -> a 3/4, b 1/4 and
    # b -> a 1/4, b 1/2, c 1/4 as before: only the first step is weighted by recency.
    recent = {"alpha": 1.0, "beta": 0.0, "recent": 1}
    assert score(np.array([1]), recent)[0] == pytest.approx([5 / 12, 5 / 12, 1 / 6])
    # Seen at the same time, the larger pin counts as the later one; seen the other way round,
    # a is the latest.
    tied = methods.walk(data, [e[:3] + (7.0,) if e[0] == "u2" else e for e in engaged])
    assert tied(np.array([1]), recent)[0] == pytest.approx([5 / 12, 5 / 12, 1 / 6])
    swapped = methods.walk(data, [("u2", "a", 1.0, 30.0)] + [e for e in engaged if e[:2] != ("u2", "a")])
    assert swapped(np.array([1]), recent)[0] == pytest.approx([7 / 12, 1 / 3, 1 / 12])  # a 2/3, b 1/3
    assert score(np.array([0]), recent) == pytest.approx(plain[:1])  # one pin: nothing to weigh


def test_itemknn_sums_cosine_neighbours_learnt_from_every_users_training_pins():
    # Tested: u1 trained on a, u2 on a and b. Not tested (no held-out pin) but training: u3 on b
    # and c, listed twice. Users per pin: a 2, b 2, c 1, d 0; co-interactions: a-b 1 (u2),
    # b-c 1 (u3). Cosine a-b 1/(sqrt2 sqrt2) = 1/2, b-c 1/sqrt2; d is never reached.
    data = methods.Data(["a", "b", "c", "d"], ["u1", "u2"], [np.array([0]), np.array([0, 1])],
                        [np.array([1, 2, 2])])
    assert data.popularity.tolist() == [2.0, 2.0, 1.0, 0.0]  # the untested user's pins count, once each
    score = methods.itemknn(data)
    u = metrics.UNSCORED
    plain = score(np.array([0, 1]), {"shrink": 0.0, "neighbours": None})
    assert plain[0] == pytest.approx([u, 0.5, u, u])  # a pin is not its own neighbour
    assert plain[1] == pytest.approx([0.5, 0.5, 1 / np.sqrt(2), u])  # c only through u3's b and c
    shrunk = score(np.array([1]), {"shrink": 1.0, "neighbours": None})
    assert shrunk[0] == pytest.approx([1 / 3, 1 / 3, 1 / (np.sqrt(2) + 1), u])
    # One neighbour per candidate: a's is b (the user has it), b's is c (1/sqrt2 beats a's 1/2;
    # the user does not have c), c's is b.
    pruned = score(np.array([1]), {"shrink": 0.0, "neighbours": 1})
    assert pruned[0] == pytest.approx([0.5, u, 1 / np.sqrt(2), u])


def test_pinnersage_scores_a_pins_best_or_weighted_cosine_over_the_whole_vectors_or_their_graph_part():
    # Two graph values, then a content part. u1's clusters: x (importance 3) and y (1); u2 has none.
    # a matches x's graph part, c matches x only by its content part.
    vec = {"a": [1, 0, 0, 0], "b": [0, 1, 0, 0], "c": [0, 0, 1, 0], "d": [1, 1, 1, 1]}
    data = methods.Data([*vec, "e"], ["u1", "u2"], [np.array([0]), np.array([1])])  # e has no vector
    clusters = {"u1": [(np.array([2.0, 0, 2, 0], dtype=np.float32), 3.0), (np.array([0, 1.0, 0, 0], dtype=np.float32), 1.0)]}
    score = methods.interests(data, {p: np.array(v, dtype=np.float32) for p, v in vec.items()}, clusters, graph_dims=2)
    h = np.sqrt(0.5)
    whole = score(np.array([0, 1]), {"combine": "max", "part": "whole"})
    assert whole[0, :4] == pytest.approx([h, 1.0, h, h])  # a, c: cos 1/sqrt2 to x; b: 1 to y; d: 1/sqrt2 to x
    assert (whole[1] == metrics.UNSCORED).all() and whole[0, 4] == metrics.UNSCORED
    graph = score(np.array([0]), {"combine": "max", "part": "graph"})[0]
    assert graph[[0, 1, 3]] == pytest.approx([1.0, 1.0, h]) and graph[2] == 0.0  # c has no graph part
    assert graph[4] == metrics.UNSCORED
    weighted = score(np.array([0]), {"combine": "weighted", "part": "graph"})[0]
    assert weighted[:4] == pytest.approx([0.75, 0.25, 0.0, h])  # x 3/4, y 1/4
    assert ({"combine": "max", "part": "graph"} in methods.grid("pinnersage", content_part=True)
            and {"combine": "max", "part": "whole"} in methods.grid("pinnersage", content_part=True))
    # Without a content part the graph part is the whole vector: each setting is tried once.
    assert [g["part"] for g in methods.grid("pinnersage", content_part=False)] == ["whole", "whole"]
    assert all(methods.grid(name, content_part=False) == methods.GRID[name] for name in methods.GRID
               if name != "pinnersage")


@pytest.fixture(scope="module")
def evaluated(spark, tmp_path_factory):
    """A generated lake (three days) ingested in one batch (evaluation reads only silver), then
    the `evaluate` flow as the CLI runs it, with the suite's shuffle partitions (a config file);
    (settings, results, the `graph_dims` each PinnerSage scorer was built with, the `part`
    settings it was asked to score, the progress lines a person sees)."""
    root = tmp_path_factory.mktemp("evaluation")
    config = root / "tastegraph.toml"
    config.write_text("shuffle_partitions = 2\n")
    settings = load_settings(config, env={}, lake_root=root / "lake")
    generate(GenerateConfig(out=settings.raw_dir, users=120, pins=360, days=3, events_per_day=6000, seed=5,
                            start_date=dt.date(2026, 2, 1)))
    run(spark, settings, "ingest", "2026-02-01", through="2026-02-03")
    graph_dims, parts = [], set()
    interests = methods.interests

    def recorded(data, vectors, clusters, dims):
        graph_dims.append(dims)
        score = interests(data, vectors, clusters, dims)

        def scored(rows, params):
            parts.add(params.get("part"))
            return score(rows, params)
        return scored

    lines: list[str] = []
    seen = logging.Handler()
    seen.emit = lambda record: lines.append(record.getMessage())
    progress = logging.getLogger("tastegraph.progress")
    level = progress.level
    progress.addHandler(seen)
    progress.setLevel(logging.INFO)  # as the console sets it (tests run without it)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(methods, "interests", recorded)
            patch.setattr(evaluation_stage, "PROGRESS_EVERY", 0.0)  # a line at every stage's end
            results = evaluate(None, lake_root=str(settings.lake_root), config_file=str(config))
    finally:
        progress.removeHandler(seen)
        progress.setLevel(level)
    return settings, results, graph_dims, parts, lines


def test_evaluate_writes_gated_results_for_every_method_protocol_and_slice(spark, evaluated):
    settings, results, graph_dims, parts, lines = evaluated
    assert [r.stage for r in results] == ["evaluate", "gate:evaluate"]
    # A training lake reports the stages it ends (minutes each on a long history), here all.
    trained = [line for line in lines if " trained in " in line]
    assert len(trained) == 4 * len(TRAINING_STAGES)
    assert trained[0].startswith("evaluate 2026-02-03: protocol A, validation split: graph trained in ")
    assert trained[-1].endswith(f"({len(TRAINING_STAGES)} of {len(TRAINING_STAGES)} stages)")
    # At fused_content_weight 0 the graph part is the whole vector: it is never scored again.
    assert settings.fused_content_weight == 0 and parts == {"whole"}
    # PinnerSage's `part` graph matches the first embedding_dim values of the fused vectors (the
    # graph part, when the content vector is beside it): one scorer per training lake.
    assert graph_dims == [settings.embedding_dim] * 4
    assert results[0].ds == "2026-02-03"  # the last event date
    ds, frame = results_frame(settings)
    assert ds == "2026-02-03"
    test = frame[frame.split == "test"]
    for protocol in (PROTOCOL_A, PROTOCOL_B):
        assert set(test[test.protocol == protocol].method) == set(methods.METHODS)
    b = test[(test.protocol == PROTOCOL_B)]
    assert {"all", "warm_items", "cold_items", "light_users", "heavy_users", "merchant_clicks"} <= set(b.slice)
    merchant = b[(b.slice == "merchant_clicks") & (b.metric == "recall") & (b.k == 20)]
    assert (merchant.users > 0).all()  # generated data has merchant clicks
    # Every method is measured on the same users (the same candidates).
    for protocol in (PROTOCOL_A, PROTOCOL_B):
        users = test[(test.protocol == protocol) & (test.slice == "all") & (test.metric == "ndcg") & (test.k == 10)]
        assert users.users.nunique() == 1 and users.users.iloc[0] > 50
    # Real signal: on planted interests the taste graph beats popularity under full ranking.
    ndcg = b[(b.slice == "all") & (b.metric == "ndcg") & (b.k == 20)].set_index("method").value
    assert max(ndcg[m] for m in ("pixie", "walk", "graph", "fused", "als")) > ndcg["popularity"]
    assert ndcg["walk"] > ndcg["popularity"]
    # Lineage: the input versions the stage pinned, and the models it scored.
    lineage = json.loads(frame.lineage.iloc[0])
    versions = {t.name: io.table_version(spark, t, settings) for t in (catalog.SILVER_EVENTS, catalog.SILVER_PINS)}
    assert {k: lineage["inputs"][k] for k in versions} == versions
    assert lineage["models"]["pin_graph_embeddings_v1.model_version"]
    specs = {(r.protocol, r.split, json.dumps(json.loads(r.lineage)["split"], sort_keys=True)) for r in frame.itertuples()}
    a_spec = json.dumps({"held_out": "last", "negatives": 99, "negatives_seed": 13}, sort_keys=True)
    b_spec = {"cold_share": 0.2, "held_out": "latest", "test_share": 0.2}  # B's cut seeds: eval_seed + 1, + 101
    assert sorted(specs) == [(PROTOCOL_A, "test", a_spec), (PROTOCOL_A, "validation", a_spec),
                             (PROTOCOL_B, "test", json.dumps({**b_spec, "seed": 14}, sort_keys=True)),
                             (PROTOCOL_B, "validation", json.dumps({**b_spec, "seed": 114}, sort_keys=True))]
    # ItemKNN, an off-the-shelf method, ranks the planted interests too.
    assert ndcg["itemknn"] > ndcg["popularity"]
    # Knobs are chosen on the validation split and recorded with the test rows.
    val = frame[(frame.split == "validation") & (frame.method == "fused")]
    assert not val.empty and set(val.params) == set(test[test.method == "fused"].params)
    # Validation keeps the overall slice and the cold items (to choose a cold-start model on), no other.
    assert {(r.protocol, r.slice) for r in frame[frame.split == "validation"].itertuples()} == \
        {(PROTOCOL_A, "all"), (PROTOCOL_B, "all"), (PROTOCOL_B, "cold_items")}
    # The gate checked the rows and the training lakes are gone.
    checked = io.read_table(spark, catalog.VALIDATION_RESULTS, settings).where("table_name = 'eval_results_v1'")
    assert checked.where("success").count() == 1
    assert not any((settings.lake_root / "_eval").iterdir())


def test_evaluate_with_no_test_interactions_reports_it(spark, settings):
    """Every user has one interaction: nothing can be held out. No training, no crash, and
    every metric says why it has no value."""
    events = spark.createDataFrame(
        [(f"e{i}", "save", T0, dt.date(2026, 1, 1), f"u{i}", f"p{i}", None, None, False, False, dt.date(2026, 1, 1))
         for i in range(5)], catalog.SILVER_EVENTS.schema)
    io.overwrite(events, catalog.SILVER_EVENTS, settings)
    pins = spark.createDataFrame([(f"p{i}",) for i in range(5)], "pin_id string").select(
        *[F.col("pin_id") if f.name == "pin_id" else F.lit(None).cast(f.dataType).alias(f.name)
          for f in catalog.SILVER_PINS.schema.fields])
    io.overwrite(pins, catalog.SILVER_PINS, settings)
    io.overwrite(spark.createDataFrame([], catalog.SILVER_BOARDS.schema), catalog.SILVER_BOARDS, settings)
    killed = settings.lake_root / "_eval" / "left-by-a-kill"  # its owner is gone (this pid, another start)
    (killed / "A_sampled_100-test").mkdir(parents=True)
    (killed / scratch.OWNER).write_text(json.dumps({**scratch.owner(), "start": "1"}))
    run(spark, settings, "evaluate", "2026-01-01")
    assert not killed.exists()  # swept by the next evaluation
    first = io.read_table(spark, catalog.EVAL_RESULTS, settings).count()
    run(spark, settings, "evaluate", "2026-01-01")  # a re-run replaces the day's rows
    assert io.read_table(spark, catalog.EVAL_RESULTS, settings).count() == first
    out = io.read_table(spark, catalog.EVAL_RESULTS, settings).where("split = 'test'")
    assert out.count() > 0
    assert out.where("value IS NOT NULL OR users <> 0").count() == 0
    assert {r["note"] for r in out.select("note").distinct().collect()} == {
        "no test interactions: no user has both training and held-out interactions"}
    assert not (settings.lake_root / "_eval").exists() or not any((settings.lake_root / "_eval").iterdir())


def test_the_cold_start_goal_sets_the_graph_aligned_content_method_beside_raw_content():
    import pandas as pd

    from pipelines.evaluation import report

    lineage = json.dumps({"split_id": "x", "split": {"held_out": "latest", "test_share": 0.2, "cold_share": 0.2}})
    cold = {"content": 0.2, "aligned": 0.27, "fused": 0.25}  # the test split's; validation's must not count
    rows = pd.DataFrame([{"protocol": PROTOCOL_B, "method": m, "metric": "recall", "k": 20, "slice": "cold_items",
                          "split": split, "value": v if split == "test" else 0.9, "lineage": lineage}
                         for m, v in cold.items() for split in ("validation", "test")])
    goal = next(g for g in report.goals(rows) if g.text.startswith("cold items"))
    assert goal.ours == 0.27 and goal.target == pytest.approx(0.26) and goal.met
    assert "aligned 0.2700" in goal.detail and "fused: 0.2500" in goal.detail
    assert not next(g for g in report.goals(rows.assign(value=rows.value.where(rows.method != "aligned", 0.25)))
                    if g.text.startswith("cold items")).met
    # Results written before the aligned method read the fused one, and say so.
    older = next(g for g in report.goals(rows[rows.method != "aligned"]) if g.text.startswith("cold items"))
    assert older.ours == 0.25 and not older.met and "no aligned method" in older.detail


def test_report_names_the_holdout_each_evaluation_was_cut_with():
    import pandas as pd

    from pipelines.evaluation import report

    def rows(split):
        lineage = json.dumps({"split_id": "x", **({"split": split} if split is not None else {})})
        return pd.DataFrame([{"protocol": PROTOCOL_B, "lineage": lineage}])

    spec = {"held_out": "random", "test_share": 0.25, "cold_share": 0.1, "seed": 14}
    assert report._holdout_text(rows(spec)) == ("10% of the pins cold (all their interactions held out) and a randomly "
                                                "picked (seeded) 25% of each user's other interactions held out")
    assert report._holdout(rows(spec)) == "random"
    # Results written before the lineage named the split were cut by the latest holdout.
    assert report._holdout(rows(None)) == "latest" and "latest 20%" in report._holdout_text(rows(None))


def test_report_opens_offline_in_headless_chromium_with_its_plots(evaluated, tmp_path):
    settings, *_ = evaluated
    page = write_report(settings, out=tmp_path / "report.html")
    text = page.read_text()
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", text), "the page loads something from the network"
    for section in ("Goals", "Where we stand against published figures", "Dacrema", "RecSys 2019"):
        assert section in text
    # the split it was cut with, from the results' lineage (the default: each user's latest interactions)
    assert "20% of the pins cold (all their interactions held out) and the latest 20% of each user" in text
    assert "best taste-graph method &gt;= ItemKNN run on this split" in text and "(latest holdout)" in text
    assert text.count('class="plot"') == 5
    dom = headless_dom(page, tmp_path / "profile")
    # The page's own script counts the plots the browser decoded (naturalWidth > 0).
    assert re.search(r'data-plots-rendered="5"', dom), dom[:500]
    for plot in ("methods", "curves", "cold", "users", "popularity"):
        assert f'id="plot-{plot}"' in dom
    goals = re.findall(r'class="(met|missed)"', dom)
    assert len(goals) == 8


def test_cli_report_and_evaluate_say_what_to_do_without_results(tmp_path):
    env_lake = tmp_path / "empty"
    env_lake.mkdir()
    for args in (["report", "--lake", str(env_lake)], ["evaluate", "--lake", str(env_lake)]):
        done = subprocess.run([TASTEGRAPH, *args], capture_output=True, text=True, timeout=300)
        assert done.returncode != 0
        assert "Traceback" not in done.stderr and "WARN" not in done.stderr, done.stderr[-1500:]
        message = [line for line in done.stderr.splitlines() if line.startswith("tastegraph:")]
        assert len(message) == 1, done.stderr[-1500:]
        assert "tastegraph evaluate" in message[0] or "run the daily flow" in message[0], message
        assert not any(env_lake.iterdir())  # answered before a log file or a session: the lake is untouched
