"""Ranking metrics over a block of users (numpy), shared by every method.

Scores are a (users x items) matrix. `UNSCORED` marks an item a method gives no score (a pin
outside Pixie's candidates, a pin without an embedding): it ranks after every scored item.
`EXCLUDED` (-inf) marks an item that is not a candidate at all (the user's training items in
full ranking): it ranks after everything and never counts. Ties are broken by one seeded
permutation of the items, the same for every method, so no method gains from the order of ids.

- Full ranking (protocol B): Recall@K = hits in the top K / the user's held-out items;
  NDCG@K with binary gains, normalised by the ideal DCG of min(K, held-out) hits.
- Sampled (protocol A): the held-out item's rank among its 100 candidates (1 + the negatives
  ranked above it); HR@K = rank <= K, NDCG@K = 1 / log2(rank + 1) when rank <= K.

A user with no held-out items has no value (never a zero that drags a mean, never a division
by zero); a slice with no users has no value either, and says so.
"""
from __future__ import annotations

import numpy as np

UNSCORED = np.float32(-1e30)
EXCLUDED = np.float32(-np.inf)


def tie_order(n_items: int, seed: int) -> np.ndarray:
    """Each item's place among tied scores (a seeded permutation)."""
    return np.random.default_rng(seed).permutation(n_items)


def top_k(scores: np.ndarray, tie: np.ndarray, k: int) -> np.ndarray:
    """(users x k) item indices, best first: score descending, then `tie` ascending. Only the
    items scoring at least a row's k-th best score are sorted (the same k, as `tie` orders
    every tie): a full sort of each row cost more than scoring it."""
    negated = -scores.astype(np.float64)
    if k >= scores.shape[1]:
        return np.lexsort((np.broadcast_to(tie, scores.shape), negated), axis=-1)[:, :k]
    kth = np.partition(negated, k - 1, axis=1)[:, k - 1:k]
    out = np.empty((scores.shape[0], k), dtype=np.int64)
    for r, row in enumerate(negated <= kth):
        candidates = np.flatnonzero(row)
        out[r] = candidates[np.lexsort((tie[candidates], negated[r, candidates]))[:k]]
    return out


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def full_ranking(top: np.ndarray, held_out: list[set[int]], ks: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Per user recall@k and ndcg@k (NaN for a user with nothing held out)."""
    n, kmax = top.shape
    hits = np.array([[item in held_out[u] for item in top[u]] for u in range(n)], dtype=float).reshape(n, kmax)
    sizes = np.array([len(h) for h in held_out], dtype=float)
    disc = _discounts(kmax)
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in ks:
            dcg = (hits[:, :k] * disc[:k]).sum(axis=1)
            ideal = np.array([disc[:min(int(s), k)].sum() for s in sizes])
            out[f"recall@{k}"] = np.where(sizes > 0, hits[:, :k].sum(axis=1) / sizes, np.nan)
            out[f"ndcg@{k}"] = np.where(sizes > 0, dcg / np.where(ideal > 0, ideal, 1.0), np.nan)
    return out


def sampled_rank(pos_score: np.ndarray, neg_scores: np.ndarray, pos_tie: np.ndarray, neg_tie: np.ndarray) -> np.ndarray:
    """Rank (1 = best) of each user's held-out item among itself and its negatives. A held-out
    item the method cannot score ranks last (a method never gains from pins it did not retrieve)."""
    above = (neg_scores > pos_score[:, None]) | ((neg_scores == pos_score[:, None]) & (neg_tie < pos_tie[:, None]))
    candidates = 1 + (neg_scores > EXCLUDED).sum(axis=1)
    return np.where(pos_score > UNSCORED, 1 + above.sum(axis=1), candidates)


def sampled_metrics(ranks: np.ndarray, ks: tuple[int, ...]) -> dict[str, np.ndarray]:
    out = {}
    for k in ks:
        out[f"hr@{k}"] = (ranks <= k).astype(float)
        out[f"ndcg@{k}"] = np.where(ranks <= k, 1.0 / np.log2(ranks + 1.0), 0.0)
    return out


def mean_and_interval(values: np.ndarray, resamples: int, seed: int) -> tuple[float | None, float | None, float | None, int]:
    """(mean, 2.5th and 97.5th percentile of bootstrap means over users, users); None when no
    user has a value."""
    v = values[~np.isnan(values)]
    if v.size == 0:
        return None, None, None, 0
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 50):  # bounded memory: 50 resamples at a time
        block = rng.integers(0, v.size, size=(min(50, resamples - start), v.size))
        means[start:start + block.shape[0]] = v[block].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    mean = float(v.mean())
    return mean, min(float(lo), mean), max(float(hi), mean), int(v.size)
