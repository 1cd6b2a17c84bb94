"""Offline quality of the embeddings on generated data with planted interests.

Precision@10 of an embedding family: for query pins (a seeded sample of the pins the family
embeds), the share of their 10 nearest neighbours by cosine (among every pin the family embeds,
the query excluded) whose main interest equals the query's. The popularity baseline recommends
the 10 most-saved pins to everyone.

Cold start, as PinCLIP measures it: the engagement of 20% of the pins (a seeded hash sample) is
held out. The graph embeddings are retrained on walks without those pins, the aligner is
trained on the remaining pins and the engagement with them only, and the held-out pins get their vectors from content alone.
On the held-out pins, the precision@10 of their aligned embedding (neighbours in the fused
space: graph vectors of the other pins, aligned vectors of the held-out ones) is compared with
that of their raw content embedding (neighbours in the content space).
"""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.core import catalog, io
from pipelines.core.settings import Settings, TastegraphError
from pipelines.embeddings import encoders, vectors
from pipelines.embeddings.content import aligner_engagement, pin_documents
from pipelines.embeddings.graph_embeddings import fit_word2vec, walk_sentences
from pipelines.evaluation.planted import popular_pins
from pipelines.graph.shared import pin_main_interest, pruned_pin_boards, saved_to_links, weight_as_of
from pipelines.graph.walks import walk_steps

K = 10


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def precision_at_k(ids: list[str], vecs: np.ndarray, labels: dict[str, str], queries: list[int], k: int = K,
                   pool: np.ndarray | None = None, pool_ids: list[str] | None = None) -> float:
    """Mean share of same-label pins among each query's k nearest neighbours (cosine). The
    queries are rows of `vecs`; the neighbours come from `pool` (default: `vecs` itself)."""
    pool = vecs if pool is None else pool
    pool_ids = ids if pool_ids is None else pool_ids
    unit_pool = _unit(pool.astype(np.float32))
    position = {p: j for j, p in enumerate(pool_ids)}
    hits = []
    for start in range(0, len(queries), 512):
        chunk = queries[start:start + 512]
        sims = _unit(vecs[chunk].astype(np.float32)) @ unit_pool.T
        for row, q in enumerate(chunk):
            if ids[q] in position:
                sims[row, position[ids[q]]] = -np.inf  # not itself
            top = np.argpartition(-sims[row], k)[:k]
            hits.append(np.mean([labels.get(pool_ids[j]) == labels.get(ids[q]) for j in top]))
    return float(np.mean(hits)) if hits else 0.0


def _collect(df: DataFrame, column: str) -> tuple[list[str], np.ndarray]:
    rows = df.where(F.col(column).isNotNull()).orderBy("pin_id").select("pin_id", column).collect()
    return [r["pin_id"] for r in rows], np.asarray([r[column] for r in rows], dtype=np.float32).reshape(len(rows), -1)


def _sample(n: int, size: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(n, size=min(n, size), replace=False).tolist()) if n else []


def family_precision(spark: SparkSession, settings: Settings, labels: dict[str, str], queries: int,
                     seed: int) -> dict[str, tuple[float, int]]:
    """Precision@10 of each embedding family: family -> (precision, pins embedded)."""
    sources = {
        "graph (Word2Vec on walks)": (catalog.PIN_GRAPH_EMBEDDINGS, "embedding"),
        "collaborative (implicit ALS)": (catalog.PIN_COLLAB_EMBEDDINGS, "embedding"),
        "content (TF-IDF + SVD, off the shelf)": (catalog.PIN_CONTENT_EMBEDDINGS, "content_embedding"),
        "aligned content": (catalog.PIN_CONTENT_EMBEDDINGS, "aligned_embedding"),
        "fused (graph, else aligned)": (catalog.PIN_EMBEDDINGS, "embedding"),
    }
    out = {}
    for family, (table, column) in sources.items():
        ids, vecs = _collect(io.read_table(spark, table, settings), column)
        out[family] = (precision_at_k(ids, vecs, labels, _sample(len(ids), queries, seed)), len(ids))
    return out


def popularity_precision(saved_to: DataFrame, labels: dict[str, str], queries: list[str]) -> float:
    popular = [r["candidate_pin_id"] for r in popular_pins(saved_to, K + 1).orderBy("rank").collect()]
    hits = [np.mean([labels.get(p) == labels.get(q) for p in [c for c in popular if c != q][:K]]) for q in queries]
    return float(np.mean(hits)) if hits else 0.0


def cold_start(spark: SparkSession, settings: Settings, ds: str, labels: dict[str, str], share: float = 0.2,
               seed: int = 11) -> dict[str, float]:
    """Hold out the engagement of `share` of the pins; precision@10 on them of the aligned
    embedding (fused space) and of the raw content embedding (content space)."""
    s = settings
    edges = weight_as_of(io.read_table(spark, catalog.GRAPH_EDGES, s), ds, s.decay_half_life_days)
    pins = io.read_table(spark, catalog.SILVER_PINS, s)
    cold_flag = (F.abs(F.xxhash64(F.lit(seed), "pin_id")) % 1000) < int(share * 1000)
    cold = {r["pin_id"] for r in pins.where(cold_flag).select("pin_id").collect()}
    saved = saved_to_links(edges)
    warm_links = saved.join(pins.where(cold_flag).select("pin_id"), on="pin_id", how="left_anti")
    pruned = pruned_pin_boards(warm_links, pin_main_interest(pins), s.board_entropy_max, s.pin_board_keep,
                               s.board_pin_cap, s.pin_board_min_share)
    sentences = walk_sentences(walk_steps(pruned, s.embedding_walks_per_pin, s.embedding_walk_length, 0.0,
                                          s.embedding_seed)).persist()
    model = fit_word2vec(sentences, s.embedding_dim, s.embedding_window, s.embedding_min_count, s.embedding_seed)
    graph = {r["word"]: np.asarray(r["vector"].toArray(), dtype=np.float32) for r in model.getVectors().collect()}
    sentences.unpersist()
    # Documents without the held-out pins' board names: those come from their engagement.
    docs_rows = pin_documents(pins, io.read_table(spark, catalog.SILVER_BOARDS, s),
                              edges.join(spark.createDataFrame([(p,) for p in sorted(cold)] or [("",)], "src_id string"),
                                         on="src_id", how="left_anti")).orderBy("pin_id").collect()
    docs = {r["pin_id"]: r["document"] for r in docs_rows if r["document"]}
    ids = sorted(docs)
    encoder = encoders.train_encoder([docs[p] for p in ids], s.content_dim, s.content_max_features, s.embedding_seed)
    content = encoders.encode(encoder, [docs[p] for p in ids])
    liked = vectors.engagement(edges).persist()
    engaged_pins = {r["pin_id"] for r in liked.select("pin_id").distinct().collect()}
    train = [i for i, p in enumerate(ids) if p not in cold and (p in graph or p in engaged_pins)]
    if not any(ids[i] in graph for i in train):
        raise TastegraphError(f"cold start on {ds}: no pin outside the held-out {share:.0%} has a graph embedding "
                              "and a document; run more days, or lower embedding_min_count")
    engaged = aligner_engagement(liked, [ids[i] for i in train])
    liked.unpersist()
    target, has_graph = encoders.graph_rows([graph.get(ids[i]) for i in train])
    aligner = encoders.train_aligner(content[train], target, engaged, s.embedding_seed, has_graph=has_graph)
    aligned = encoders.align(aligner, list(content))
    fused = np.stack([graph[p] if (p not in cold and p in graph) else aligned[i] for i, p in enumerate(ids)])
    queries = [i for i, p in enumerate(ids) if p in cold]
    return {"aligned": precision_at_k(ids, aligned, labels, queries, pool=fused),
            "aligned_own_space": precision_at_k(ids, aligned, labels, queries),
            "content": precision_at_k(ids, content, labels, queries), "held_out_pins": float(len(queries)),
            "aligner_training_pins": float(len(train))}


def measure(spark: SparkSession, settings: Settings, ds: str, queries: int = 2000, seed: int = 5) -> list[dict]:
    """Every quality figure as ops.embedding_quality rows (written through the I/O layer)."""
    labels = {r["pin_id"]: r["interest"] for r in pin_main_interest(io.read_table(spark, catalog.SILVER_PINS, settings))
              .collect()}
    edges = io.read_table(spark, catalog.GRAPH_EDGES, settings)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    families = family_precision(spark, settings, labels, queries, seed)
    pin_ids = sorted(labels)
    baseline = popularity_precision(saved_to_links(edges), labels, [pin_ids[i] for i in _sample(len(pin_ids), queries,
                                                                                                 seed)])
    rows = [{"measured_at": now, "ds": dt.date.fromisoformat(ds), "family": family, "metric": "precision@10",
             "value": value, "baseline": "popularity", "baseline_value": baseline, "pins": n, "details": None}
            for family, (value, n) in families.items()]
    cold = cold_start(spark, settings, ds, labels)
    rows.append({"measured_at": now, "ds": dt.date.fromisoformat(ds), "family": "aligned content (cold start)",
                 "metric": "precision@10 on held-out pins", "value": cold["aligned"], "baseline": "raw content",
                 "baseline_value": cold["content"], "pins": int(cold["held_out_pins"]),
                 "details": json.dumps({"ratio": cold["aligned"] / cold["content"] if cold["content"] else None,
                                        "aligned_among_aligned": cold["aligned_own_space"],
                                        "aligner_training_pins": int(cold["aligner_training_pins"])})})
    return rows


def record(spark: SparkSession, settings: Settings, rows: list[dict]) -> None:
    io.append(spark.createDataFrame(rows, catalog.EMBEDDING_QUALITY.schema), catalog.EMBEDDING_QUALITY, settings)
