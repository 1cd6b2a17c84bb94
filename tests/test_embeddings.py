"""Embeddings: PinnerSage clusters, hides never positive, model cadence and atomic artifacts,
the real Beam RunInference pipeline, the content stage's bad input, and settings that name
themselves. Quality floors and the daily flow are in test_flow_e2e.py (they need a lake)."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipelines.core import catalog, io
from pipelines.core.settings import DEFAULT_TYPE_WEIGHTS, SettingsError, load_settings
from pipelines.embeddings import beam_inference, content, encoders, fused, interests, models, vectors
from tests.conftest import run

DAY = dt.date(2026, 1, 1)


def _user_pin_edges(spark, rows_):
    """(user, pin, edge_type, events) -> graph_edges rows dated DAY."""
    t = dt.datetime.combine(DAY, dt.time(12))
    return spark.createDataFrame([
        {"src_type": "user", "src_id": u, "dst_type": "pin", "dst_id": p, "edge_type": e, "event_count": n,
         "weight": n * DEFAULT_TYPE_WEIGHTS[e], "weight_date": DAY, "first_seen": t, "last_seen": t}
        for u, p, e, n in rows_], catalog.GRAPH_EDGES.schema)


@pytest.mark.parametrize("weight", [0.0, 0.5])
def test_fused_vectors_put_the_weighted_content_vector_beside_the_graph_or_aligned_one(spark, weight):
    graph = spark.createDataFrame([("p1", [3.0, 4.0], "g1"), ("p3", [2.0, 0.0], "g1")],
                                  "pin_id string, embedding array<float>, model_version string")
    content_rows = spark.createDataFrame([
        ("p1", [1.0, 0.0, 0.0], [0.0, 1.0], "e1", "a1"),   # walked: its graph vector
        ("p2", [0.0, 2.0, 0.0], [0.0, 1.0], "e1", "a1"),   # cold: its aligned vector
        ("p3", None, None, "e1", "none"),                  # walked, but no text to encode
        ("p4", [0.0, 0.0, 1.0], None, "e1", "none"),       # neither: no fused vector
    ], "pin_id string, content_embedding array<float>, aligned_embedding array<float>, encoder_version string, "
       "aligner_version string")
    got = {r["pin_id"]: r for r in fused.pin_embeddings(graph, content_rows, "2026-01-01", weight, 3).collect()}
    assert sorted(got) == ["p1", "p2", "p3"]
    assert {p: r["source"] for p, r in got.items()} == {"p1": "graph", "p2": "aligned_content", "p3": "graph"}
    if weight == 0:  # the graph or aligned vector as it is
        expected = {"p1": [3, 4], "p2": [0, 1], "p3": [2, 0]}
        versions = {"p1": "g1", "p2": "e1+a1", "p3": "g1"}
    else:  # [unit graph or aligned, 0.5 x unit content], unit length; zeros where there is no content
        expected = {"p1": np.array([0.6, 0.8, 0.5, 0, 0]) / np.sqrt(1.25), "p2": np.array([0, 1, 0, 0.5, 0]) / np.sqrt(1.25),
                    "p3": [1, 0, 0, 0, 0]}
        versions = {"p1": "g1+e1", "p2": "e1+a1", "p3": "g1+e1"}
    for pin, vector in expected.items():
        np.testing.assert_allclose(got[pin]["embedding"], vector, atol=1e-6)
    assert {p: r["model_version"] for p, r in got.items()} == versions


def test_hides_never_count_as_positive_engagement(spark):
    edges = _user_pin_edges(spark, [
        ("u1", "p1", "save", 1), ("u1", "p2", "click", 1), ("u1", "p2", "hide", 1),   # hid p2 after clicking it
        ("u1", "p3", "impression", 5),                                                 # seen is not liked
        ("u2", "p1", "hide", 2),                                                       # only hides
    ])
    got = {(r["user_id"], r["pin_id"]): r["weight"] for r in vectors.engagement(edges).collect()}
    assert got == {("u1", "p1"): DEFAULT_TYPE_WEIGHTS["save"]}


def test_a_user_who_only_hid_pins_has_no_clusters_and_one_pin_makes_one(spark):
    edges = _user_pin_edges(spark, [("u_hides", "p1", "hide", 1), ("u_one", "p2", "save", 1)])
    pins = spark.createDataFrame([("p1", [1.0, 0.0]), ("p2", [0.0, 1.0])], "pin_id string, embedding array<float>")
    got = interests.user_interest_clusters(vectors.engagement(edges).select("user_id", "pin_id", "weight"), pins,
                                           max_clusters=5, distance=1.0).collect()
    assert [(r["user_id"], r["cluster"], r["medoid_pin_id"], r["pins"]) for r in got] == [("u_one", 1, "p2", 1)]
    assert got[0]["importance"] == pytest.approx(DEFAULT_TYPE_WEIGHTS["save"])


def _two_tastes():
    ids = ["a1", "a2", "a3", "b1", "b2"]
    vecs = np.array([[1, 0, 0], [0.95, 0.1, 0], [0.9, 0, 0.1], [0, 1, 0], [0, 0.9, 0.1]], dtype=np.float32)
    weights = np.array([1.0, 1.0, 1.0, 5.0, 5.0])
    return ids, vecs, weights


def test_clusters_are_ranked_by_importance_with_weighted_medoids():
    ids, vecs, weights = _two_tastes()
    got = interests.cluster_user(ids, vecs, weights, max_clusters=5, distance=0.5)
    assert [(rank, pin, n) for rank, pin, _, _, n in got] == [(1, "b1", 2), (2, "a1", 3)]
    assert [imp for _, _, _, imp, _ in got] == [10.0, 3.0]
    np.testing.assert_array_equal(got[0][2], vecs[3])  # the medoid's own embedding
    capped = interests.cluster_user(ids, vecs, weights, max_clusters=1, distance=0.5)
    assert [(rank, pin) for rank, pin, *_ in capped] == [(1, "b1")]


def test_clusters_follow_the_first_dims_values_and_keep_the_whole_medoid_vector():
    ids, vecs, weights = _two_tastes()
    # a content part beside each vector that would pair the pins across the two tastes
    content = np.array([[5, 0], [0, 5], [5, 0], [0, 5], [5, 0]], dtype=np.float32)
    wide = np.hstack([vecs, content])
    shapes = lambda got: [(rank, pin, n) for rank, pin, _, _, n in got]  # noqa: E731
    assert shapes(interests.cluster_user(ids, wide, weights, 5, 0.5)) == [(1, "b2", 3), (2, "b1", 2)]  # every value
    got = interests.cluster_user(ids, wide, weights, 5, 0.5, dims=3)  # the taste part: the two tastes, as before
    assert shapes(got) == [(1, "b1", 2), (2, "a1", 3)]
    np.testing.assert_array_equal(got[0][2], wide[3])


def test_clusters_do_not_depend_on_the_input_order():
    ids, vecs, weights = _two_tastes()
    order = [4, 2, 0, 3, 1]
    a = interests.cluster_user(ids, vecs, weights, 5, 0.5)
    b = interests.cluster_user([ids[i] for i in order], vecs[order], weights[order], 5, 0.5)
    assert [(r, p, i, n) for r, p, _, i, n in a] == [(r, p, i, n) for r, p, _, i, n in b]


def test_a_model_is_reused_within_the_cadence_and_retrained_after_it(settings):
    trained = []

    def fit(folder):
        trained.append(folder.name)
        (folder / "weights.txt").write_text("w")
        return {"facts": 1}

    first, new = models.reuse_or_train(settings, "toy", "2026-01-01", {"dim": 2}, fit)
    assert new and (first.path / "weights.txt").is_file() and first.version.startswith("2026-01-01-")
    again, new = models.reuse_or_train(settings, "toy", "2026-01-07", {"dim": 2}, fit)
    assert not new and again.version == first.version                           # 6 days old: reused
    later, new = models.reuse_or_train(settings, "toy", "2026-01-08", {"dim": 2}, fit)
    assert new and later.version != first.version                               # 7 days old: retrained
    other, new = models.reuse_or_train(settings, "toy", "2026-01-08", {"dim": 3}, fit)
    assert new and other.version != later.version                               # settings changed: retrained
    assert len(trained) == 3


def test_a_training_killed_half_way_leaves_no_model(settings):
    def broken(folder):
        (folder / "half.bin").write_text("x")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        models.train(settings, "toy", "2026-01-01", {"dim": 2}, broken)
    assert models.models(settings, "toy") == []
    family = models.root(settings) / "toy"
    assert [p.name for p in family.iterdir()] == [models.STAGING] and not any((family / models.STAGING).iterdir())


DOCS = ["red shoes leather boots", "leather boots brown shoes", "garden tomato seeds", "tomato garden soil",
        "red garden shoes", "soil seeds plants"]


def _toy_models(tmp_path, aligned: bool = True):
    encoder = encoders.train_encoder(DOCS, dim=3, max_features=100, seed=1)
    encoders.save(encoder, tmp_path / encoders.ENCODER_FILE)
    if aligned:
        graph = np.random.default_rng(0).normal(size=(len(DOCS), 4)).astype(np.float32)
        aligner = encoders.train_aligner(encoders.encode(encoder, DOCS), graph, [np.array([0, 1, 4]), np.array([2, 3, 5])],
                                         seed=1)
        encoders.save(aligner, tmp_path / encoders.ALIGNER_FILE)
        return encoder, aligner
    return encoder, None


def _planted_groups(seed: int):
    """160 pins in 4 groups; each of 60 users engages 12 pins of one group. A pin's content is
    its group (noisy) and two nuisance features; its graph vector is its group and three times
    the nuisance features, which the users' choices do not depend on."""
    rng = np.random.default_rng(seed)
    group = np.arange(160) % 4
    nuisance = rng.normal(size=(160, 2))
    content_ = np.c_[np.eye(4)[group] + rng.normal(scale=0.8, size=(160, 4)), nuisance]
    graph = np.c_[np.eye(4)[group] + rng.normal(scale=0.5, size=(160, 4)), 3 * nuisance]
    users = [rng.choice(np.flatnonzero(group == u % 4), 12, replace=False) for u in range(60)]
    return group, content_.astype(np.float32), graph.astype(np.float32), users


def _cold_precision(aligner, group, content_, graph, users, cold) -> float:
    """Share of each user's 5 best cold pins (cosine to their profile) in the user's group."""
    aligned = encoders.align(aligner, list(content_[cold]))
    np.testing.assert_allclose(np.linalg.norm(aligned, axis=1), 1.0, atol=1e-5)
    unit = graph / np.linalg.norm(graph, axis=1, keepdims=True)
    hits = []
    for u, pins in enumerate(users):
        top = np.argsort(-(aligned @ unit[[p for p in pins if not cold[p]]].mean(axis=0)))[:5]
        hits.append(np.mean(group[np.flatnonzero(cold)[top]] == u % 4))
    return float(np.mean(hits))


@pytest.mark.parametrize("bounded", [False, True])
@pytest.mark.parametrize("seed", [3, 4, 5])
def test_the_aligner_learns_from_engagement_what_a_map_onto_each_pins_own_vector_misses(seed, bounded, monkeypatch):
    if bounded:  # the path a large catalogue takes: sampled softmax pools, a sample of the pairs per epoch
        monkeypatch.setattr(encoders, "ALIGN_CANDIDATES", 32)
        monkeypatch.setattr(encoders, "ALIGN_PAIRS_MAX", 300)
    group, content_, graph, users = _planted_groups(seed)
    cold = np.arange(160) % 5 == 0                              # 32 pins with no engagement at all
    warm = np.flatnonzero(~cold)
    at = {p: i for i, p in enumerate(warm)}
    engaged = [np.array([at[p] for p in pins if p in at]) for pins in users]
    aligner = encoders.train_aligner(content_[warm], graph[warm], engaged, seed=5)
    again = encoders.train_aligner(content_[warm], graph[warm], engaged, seed=5)
    np.testing.assert_array_equal(aligner.coef, again.coef)      # same inputs and seed: the same map
    ridge_only = encoders.train_aligner(content_[warm], graph[warm], [], seed=5)
    assert ridge_only.epochs == 0 and 0 < aligner.epochs <= encoders.ALIGN_EPOCHS_MAX
    trained = _cold_precision(aligner, group, content_, graph, users, cold)
    ridge = _cold_precision(ridge_only, group, content_, graph, users, cold)
    # Measured: trained 0.54-0.75 (bounded 0.50-0.78), ridge 0.30-0.47 over seeds 3-8; chance is 0.25.
    assert trained >= 0.5 and trained >= ridge + 0.1, (trained, ridge)


def test_the_aligner_learns_from_engaged_pins_that_have_no_graph_vector():
    gains = []
    for seed in range(3, 11):
        group, content_, graph, users = _planted_groups(seed)
        cold = np.arange(160) % 5 == 0
        warm = np.flatnonzero(~cold)
        has = np.random.default_rng(seed).random(len(warm)) < 0.3  # ~30% of the engaged pins were walked
        at = {p: i for i, p in enumerate(warm)}
        engaged = [np.array([at[p] for p in pins if p in at]) for pins in users]
        aligner = encoders.train_aligner(content_[warm], graph[warm], engaged, seed=5, has_graph=has)
        garbage = graph[warm].copy()
        garbage[~has] = 99.0
        np.testing.assert_array_equal(  # the rows of pins without a graph vector are never read
            encoders.train_aligner(content_[warm], garbage, engaged, seed=5, has_graph=has).coef, aligner.coef)
        walked = np.flatnonzero(has)
        at_walked = {i: j for j, i in enumerate(walked)}
        only_walked = encoders.train_aligner(content_[warm][walked], graph[warm][walked],
                                             [np.array([at_walked[i] for i in e if i in at_walked], dtype=np.int64)
                                              for e in engaged], seed=5)
        gains.append(_cold_precision(aligner, group, content_, graph, users, cold)
                     - _cold_precision(only_walked, group, content_, graph, users, cold))
    # Measured: +0.12 on average over these seeds (from -0.07 to +0.26); 0 if the unwalked pins taught nothing.
    assert np.mean(gains) >= 0.06, gains


@pytest.mark.parametrize("aligned", [True, False])
def test_beam_run_inference_encodes_every_document_like_the_models_do(tmp_path, aligned, monkeypatch):
    from apache_beam.runners.portability import prism_runner
    fetched = []  # the DirectRunner must not try to download Beam's Prism binary as it runs
    monkeypatch.setattr(prism_runner, "urlopen", lambda url, *a, **k: fetched.append(url) or 1 / 0)
    encoder, aligner = _toy_models(tmp_path, aligned)
    (tmp_path / "docs").mkdir()
    pd.DataFrame({"pin_id": [f"p{i}" for i in range(len(DOCS))], "document": DOCS}).to_parquet(
        tmp_path / "docs" / "part-0.parquet")
    beam_inference.encode_pins(tmp_path / "docs", tmp_path / "out", tmp_path, tmp_path if aligned else None)
    out = pd.concat(pd.read_parquet(p) for p in (tmp_path / "out").glob("*.parquet")).sort_values("pin_id")
    assert list(out["pin_id"]) == [f"p{i}" for i in range(len(DOCS))]
    assert fetched == []
    expected = encoders.encode(encoder, DOCS)
    np.testing.assert_allclose(np.stack(out["content_embedding"].to_numpy()), expected, atol=1e-6)
    if aligned:
        got = np.stack(out["aligned_embedding"].to_numpy())
        np.testing.assert_allclose(got, encoders.align(aligner, list(expected)), atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    else:
        assert out["aligned_embedding"].isna().all()


def test_content_stage_encodes_through_beam_and_explains_a_pin_without_content(spark, settings):
    settings = settings.replace(content_dim=3)
    pins = [{"pin_id": f"p{i}", "title": d, "description": None, "interests": [{"interest": "style", "score": 0.9}],
             "domain": "shop.example.com"} for i, d in enumerate(DOCS)]
    pins.append({"pin_id": "p_empty", "title": None, "description": None, "interests": [], "domain": None})
    full = [{c: p.get(c) for c in catalog.SILVER_PINS.columns} for p in pins]
    io.overwrite(spark.createDataFrame(full, catalog.SILVER_PINS.schema), catalog.SILVER_PINS, settings)
    io.overwrite(spark.createDataFrame([], catalog.SILVER_BOARDS.schema), catalog.SILVER_BOARDS, settings)
    io.overwrite(spark.createDataFrame([], catalog.GRAPH_EDGES.schema), catalog.GRAPH_EDGES, settings)
    result = run(spark, settings, "content_embeddings", "2026-01-01")
    got = {r["pin_id"]: r for r in io.read_table(spark, catalog.PIN_CONTENT_EMBEDDINGS, settings).collect()}
    assert set(got) == {p["pin_id"] for p in pins} and result.details["encoded"] == len(DOCS)
    assert got["p_empty"]["content_embedding"] is None and got["p_empty"]["note"] == content.NO_CONTENT
    assert all(len(got[f"p{i}"]["content_embedding"]) == 3 for i in range(len(DOCS)))
    assert got["p0"]["aligned_embedding"] is None and got["p0"]["note"] == content.NO_GRAPH  # no graph model yet
    again = run(spark, settings, "content_embeddings", "2026-01-01")
    assert again.details["encoded"] == 0 and again.rows_out == 0                      # nothing changed

    def graph_model(version: str, pin_ids: list[str]) -> None:
        rows = [(p, [float(i), 1.0, 0.5, -1.0], 3, version, dt.date(2026, 1, 1)) for i, p in enumerate(pin_ids)]
        io.overwrite(spark.createDataFrame(rows, catalog.PIN_GRAPH_EMBEDDINGS.schema), catalog.PIN_GRAPH_EMBEDDINGS,
                     settings)

    graph_model("g-elsewhere", ["p_gone1", "p_gone2"])  # a graph model whose pins have no document here
    run(spark, settings, "content_embeddings", "2026-01-01")
    got = {r["pin_id"]: r for r in io.read_table(spark, catalog.PIN_CONTENT_EMBEDDINGS, settings).collect()}
    assert got["p0"]["aligned_embedding"] is None and got["p0"]["note"] == content.NO_GRAPH
    graph_model("g-here", ["p0", "p1", "p2"])           # p3..p5 have no graph vector: they still get one aligned
    run(spark, settings, "content_embeddings", "2026-01-01")
    got = {r["pin_id"]: r for r in io.read_table(spark, catalog.PIN_CONTENT_EMBEDDINGS, settings).collect()}
    assert all(len(got[f"p{i}"]["aligned_embedding"]) == 4 and got[f"p{i}"]["note"] is None for i in range(len(DOCS)))


@pytest.mark.parametrize("name, value, named", [
    ("embedding_dim", "0", "TASTEGRAPH_EMBEDDING_DIM"),
    ("user_interests_max", "50", "TASTEGRAPH_USER_INTERESTS_MAX"),
    ("als_alpha", "-1", "TASTEGRAPH_ALS_ALPHA"),
])
def test_bad_embedding_settings_name_the_setting(name, value, named):
    with pytest.raises(SettingsError, match=named):
        load_settings(env={f"TASTEGRAPH_{name.upper()}": value})


def test_batched_clustering_keeps_a_user_whose_rows_span_batches_together():
    import pyarrow as pa

    ids, vecs, weights = _two_tastes()
    users = ["u1"] * 2 + ["u2"] * len(ids) + ["u3"]
    pins = ids[:2] + ids + ids[:1]
    table = pa.table({"user_id": users, "pin_id": pins,
                      "embedding": pa.array([list(v) for v in np.concatenate([vecs[:2], vecs, vecs[:1]])],
                                            type=pa.list_(pa.float32())),
                      "weight": np.concatenate([weights[:2], weights, weights[:1]])})
    # u2's rows are split over three batches, and one batch is empty
    batches = [table.slice(0, 3), table.slice(3, 0), table.slice(3, 2), table.slice(5)]
    out = pa.Table.from_batches(list(interests._clusters_of(5, 0.5)(b.to_batches()[0] if b.num_rows else
                                                                    pa.RecordBatch.from_pylist([], schema=table.schema)
                                                                    for b in batches)))
    got = sorted((r["user_id"], r["cluster"], r["medoid_pin_id"], r["pins"]) for r in out.to_pylist())
    expected = sorted((user, rank, pin, n) for user, (p, v, w) in
                      {"u1": (ids[:2], vecs[:2], weights[:2]), "u2": (ids, vecs, weights),
                       "u3": (ids[:1], vecs[:1], weights[:1])}.items()
                      for rank, pin, _, _, n in interests.cluster_user(p, v, w, 5, 0.5))
    assert got == expected and {u for u, *_ in got} == {"u1", "u2", "u3"}
