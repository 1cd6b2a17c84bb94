"""The numpy kernels of the embedding and evaluation stages, timed on their own (no Spark).

- the graph aligner's training (`encoders.train_aligner`) at the shape of the 1M-events bench
  lake after day 2 (15,825 pins with graph vectors, about 50,000 users, 222,380 engaged
  (user, pin) pairs, content 64 and graph 32 dimensions), on seeded random vectors: its cost
  depends on the shapes, not the values;
- evaluation's `metrics.top_k` against the full sort of every row it replaced, interleaved, on
  blocks of 256 users x 3,952 items (MovieLens 1M's catalogue), checked equal.

The shapes are fixed (the suite ignores --users, --pins and --events-per-day); --repeat sets the
aligner's runs (top_k takes at least 5), --seed the random data.
"""
from __future__ import annotations

import resource
import statistics
import time

import numpy as np

from pipelines.embeddings import encoders
from pipelines.evaluation import metrics

ALIGNER_SHAPE = {"pins": 15_825, "users": 50_000, "pairs": 222_380, "content_dim": 64, "graph_dim": 32}
TOP_K_SHAPE = {"users": 256, "items": 3_952, "k": 50}


def _engaged(rng: np.random.Generator, users: int, pins: int, pairs: int) -> list[np.ndarray]:
    owner, pin = rng.integers(0, users, pairs), rng.integers(0, pins, pairs)
    order = np.lexsort((pin, owner))
    owner, pin = owner[order], pin[order]
    return [np.unique(p) for p in np.split(pin, np.flatnonzero(np.diff(owner)) + 1)]


def aligner(repeat: int, seed: int) -> dict:
    s = ALIGNER_SHAPE
    rng = np.random.default_rng(seed)
    content = rng.standard_normal((s["pins"], s["content_dim"]))
    graph = rng.standard_normal((s["pins"], s["graph_dim"]))
    engaged = _engaged(rng, s["users"], s["pins"], s["pairs"])
    seconds, epochs = [], []
    for r in range(repeat):
        t0 = time.perf_counter()
        epochs.append(encoders.train_aligner(content, graph, engaged, seed + r).epochs)
        seconds.append(round(time.perf_counter() - t0, 2))
        print(f"aligner run {r + 1}: {seconds[-1]:.1f}s, {epochs[-1]} epochs", flush=True)
    return {"shape": {**s, "users_with_pins": len(engaged), "pairs_distinct": int(sum(map(len, engaged)))},
            "seconds": seconds, "median_seconds": statistics.median(seconds), "epochs": epochs,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}


def _full_sort(scores: np.ndarray, tie: np.ndarray, k: int) -> np.ndarray:
    return np.lexsort((np.broadcast_to(tie, scores.shape), -scores.astype(np.float64)), axis=-1)[:, :k]


def top_k(repeat: int, seed: int) -> dict:
    s = TOP_K_SHAPE
    rng = np.random.default_rng(seed)
    tie = rng.permutation(s["items"])
    timings: dict[str, list[float]] = {"top_k": [], "full sort": []}
    for _ in range(repeat):
        # rounded scores, so that ties occur as they do in real scores
        scores = np.round(rng.random((s["users"], s["items"])), 3).astype(np.float32)
        got = {}
        for name, fn in (("top_k", metrics.top_k), ("full sort", _full_sort)):
            t0 = time.perf_counter()
            got[name] = fn(scores, tie, s["k"])
            timings[name].append(time.perf_counter() - t0)
        if not np.array_equal(got["top_k"], got["full sort"]):
            raise SystemExit("top_k differs from the full sort: a bug, not a benchmark result")
    medians = {name: statistics.median(t) for name, t in timings.items()}
    print(f"top_k {medians['top_k'] * 1000:.1f} ms, full sort {medians['full sort'] * 1000:.1f} ms per block", flush=True)
    return {"shape": s, "median_ms": {n: round(v * 1000, 2) for n, v in medians.items()},
            "speedup": round(medians["full sort"] / medians["top_k"], 2), "equal": True}


def bench_kernels(args) -> dict:
    return {"top_k": top_k(max(args.repeat, 5), args.seed), "aligner": aligner(args.repeat, args.seed)}
