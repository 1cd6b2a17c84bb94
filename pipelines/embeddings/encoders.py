"""The platform's own content models (scikit-learn), trained on its corpus, stored as joblib
artifacts, and applied by Beam RunInference (`beam_inference.py`).

- The encoder: TF-IDF of a pin's document (title, description, interest annotations, domain,
  names of the boards it was saved to), reduced by truncated SVD (latent semantic analysis) and
  L2-normalised: the off-the-shelf kind of content embedding.
- The aligner: the custom model, post-trained on the graph. A linear map from content
  embeddings into the graph-embedding space, so that a pin without engagement gets a vector
  there (PinCLIP's idea, with a linear map). It is trained on the engaged pins, with the
  engagement as the signal (a pin without a graph vector of its own is still a target): each
  user's taste profile (the mean of the unit graph vectors of the pins they engaged) must pick
  the pins they engaged, by cosine, out of every pin (a softmax
  with temperature `ALIGN_TAU`). That is how a cold pin's aligned vector is used: ranked
  against the profiles of users. A ridge regression onto each pin's own graph vector (the
  first version) is the starting point; it alone scored below raw content on MovieLens's
  cold items (0.78x), because a pin's own skip-gram vector says little that its title and
  genres can predict, while who engages with it says a lot.
  The number of epochs is chosen by early stopping on a seeded validation share of the pins
  (their Recall@20 among themselves, scored by the users' profiles made of the other pins),
  then the map is refitted on every pin for that many epochs.
  The temperature is 0.2: at 0.1 the softmax spends the map on telling apart pins of the same
  taste, and cold pins whose text is mostly about looks landed among pins that look alike
  (generated data, a development seed, two hold-outs: cold precision@10 0.81-0.82 at 0.1,
  0.94-0.96 at 0.2). On MovieLens's validation split the cold Recall@20 was the same at both;
  its test split lost a little (1.28x -> 1.23x raw content on cold movies, BENCHMARKS.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import joblib
import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer

ENCODER_FILE = "encoder.joblib"
ALIGNER_FILE = "aligner.joblib"
ALIGN_EPOCHS_MAX = 8        # early stopping picks 0..8 (0: the ridge start)
ALIGN_TAU = 0.2             # softmax temperature of the cosine scores (0.1 until 2026-12-02: see the docstring)
ALIGN_LEARNING_RATE = 0.01  # Adam
ALIGN_BATCH = 1024          # (user, pin) pairs per step
ALIGN_CANDIDATES = 2048     # pins in each step's softmax (all when there are fewer; a seeded sample
                            # plus the batch's own pins when there are more)
ALIGN_PAIRS_MAX = 100_000   # pairs per epoch (a seeded sample when there are more); these two bound an
                            # epoch's cost at scale (222k pairs of 15.8k pins: about 90 s, BENCHMARKS.md)
ALIGN_STEPS_MIN = 25        # steps per epoch when there are few pairs (they are gone over again)
ALIGN_VALIDATION_SHARE = 0.2  # of the engaged pins, held out to choose the number of epochs
ALIGN_VALIDATION_PINS = 2_000  # at most
ALIGN_VALIDATION_USERS = 5_000  # at most, scored on them


def train_encoder(documents: Sequence[str], dim: int, max_features: int, seed: int) -> Pipeline:
    vectorizer = TfidfVectorizer(max_features=max_features, sublinear_tf=True, dtype=np.float32,
                                 token_pattern=r"(?u)\b\w\w+\b")
    vocabulary = vectorizer.fit(documents).vocabulary_
    components = max(1, min(dim, len(vocabulary) - 1))
    model = Pipeline([("tfidf", vectorizer), ("svd", TruncatedSVD(n_components=components, random_state=seed)),
                      ("norm", Normalizer())])
    return model.fit(documents)


@dataclass
class GraphAligner:
    """content (n x c) -> the graph space (n x d), a linear map; `epochs` of engagement training
    after the ridge start (0: the ridge map alone)."""

    coef: np.ndarray  # c x d
    epochs: int

    def predict(self, content: np.ndarray) -> np.ndarray:
        return np.asarray(content, dtype=np.float64) @ self.coef


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


def _profiles(graph: np.ndarray, engaged: Sequence[np.ndarray]) -> np.ndarray:
    """Each user's unit mean of the unit graph vectors of their pins (zeros: no pin)."""
    out = np.zeros((len(engaged), graph.shape[1]))
    for u, pins in enumerate(engaged):
        if len(pins):
            out[u] = graph[pins].mean(axis=0)
    return _unit(out)


def _pairs(engaged: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    users = np.repeat(np.arange(len(engaged)), [len(p) for p in engaged])
    pins = np.concatenate([np.asarray(p, dtype=np.int64) for p in engaged]) if engaged else np.empty(0, np.int64)
    return users, pins


def _epochs(coef: np.ndarray, content: np.ndarray, profiles: np.ndarray, users: np.ndarray, pins: np.ndarray,
            trainable: np.ndarray, epochs: int, rng: np.random.Generator):
    """Adam on the softmax loss, one epoch at a time: yields the map after each epoch."""
    w = coef.copy()
    m1, m2, step = np.zeros_like(w), np.zeros_like(w), 0
    size = min(ALIGN_BATCH, len(users))
    steps = max(-(-min(len(users), ALIGN_PAIRS_MAX) // size), ALIGN_STEPS_MIN)
    for _ in range(epochs):
        order = rng.permutation(len(users))[:ALIGN_PAIRS_MAX]
        while len(order) < steps * size:  # few pairs: go round them again
            order = np.concatenate([order, rng.permutation(len(users))])
        for k in range(steps):
            batch = order[k * size:(k + 1) * size]
            if len(trainable) > ALIGN_CANDIDATES:
                pool = np.union1d(rng.choice(trainable, ALIGN_CANDIDATES, replace=False), pins[batch])
            else:
                pool = trainable
            target = np.searchsorted(pool, pins[batch])
            x = content[pool]
            z = x @ w
            norm = np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
            zu = z / norm
            g = profiles[users[batch]]
            logits = g @ zu.T / ALIGN_TAU
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(batch)), target] -= 1.0
            d_zu = (p / len(batch)).T @ g / ALIGN_TAU
            grad = x.T @ ((d_zu - zu * (d_zu * zu).sum(axis=1, keepdims=True)) / norm)
            step += 1
            m1 = 0.9 * m1 + 0.1 * grad
            m2 = 0.999 * m2 + 0.001 * grad * grad
            w -= ALIGN_LEARNING_RATE * (m1 / (1 - 0.9 ** step)) / (np.sqrt(m2 / (1 - 0.999 ** step)) + 1e-8)
        yield w.copy()


def _recall_at_20(coef: np.ndarray, content: np.ndarray, profiles: np.ndarray, held: list[np.ndarray],
                  pool: np.ndarray) -> float:
    """Mean Recall@20 of each user's held-out pins among the held-out pool, by cosine to their
    profile (at most `ALIGN_VALIDATION_USERS` users, the first by id)."""
    tested = [u for u, h in enumerate(held) if len(h) and profiles[u].any()][:ALIGN_VALIDATION_USERS]
    if not tested or not len(pool):
        return 0.0
    items = _unit(content[pool] @ coef)
    recalls = []
    for start in range(0, len(tested), 1024):
        block = tested[start:start + 1024]
        top = pool[np.argsort(-(profiles[block] @ items.T), axis=1, kind="stable")[:, :20]]
        recalls += [np.isin(held[u], top[r]).sum() / min(len(held[u]), 20) for r, u in enumerate(block)]
    return float(np.mean(recalls))


def graph_rows(vectors: Sequence[Sequence[float] | None]) -> tuple[np.ndarray, np.ndarray]:
    """Per pin its graph vector or None -> (n x d matrix with zero rows for None, has_graph):
    `train_aligner`'s `graph` and `has_graph`. At least one vector must be given."""
    dim = len(next(v for v in vectors if v is not None))
    has_graph = np.asarray([v is not None for v in vectors], dtype=bool)
    matrix = np.zeros((len(vectors), dim), dtype=np.float32)
    matrix[has_graph] = [v for v in vectors if v is not None]
    return matrix, has_graph


def train_aligner(content: np.ndarray, graph: np.ndarray, engaged: Sequence[np.ndarray], seed: int,
                  alpha: float = 1.0, has_graph: np.ndarray | None = None) -> GraphAligner:
    """content (n x c) and graph vectors (n x d) of the same n pins; `engaged`: per user, the
    row indices of the pins they engaged (hides excluded). `has_graph` (default: all) marks the
    pins whose graph row is a real vector. The others are still training targets: a pin needs
    no graph vector of its own to be picked by the profiles of the users who engaged it, and
    those are the pins most like a cold one (engaged, but too thinly to be walked). Only the
    ridge start and the users' profiles need graph vectors."""
    content, graph = _unit(np.asarray(content, np.float64)), _unit(np.asarray(graph, np.float64))
    has_graph = np.ones(len(content), dtype=bool) if has_graph is None else np.asarray(has_graph, dtype=bool)
    x, y = content[has_graph], graph[has_graph]
    ridge = np.linalg.solve(x.T @ x + alpha * np.eye(content.shape[1]), x.T @ y)
    engaged = [np.asarray(p, dtype=np.int64) for p in engaged]
    engaged = [p if has_graph[p].any() else p[:0] for p in engaged]  # a user without a profile teaches nothing
    users, pins = _pairs(engaged)
    if not len(users):
        return GraphAligner(ridge, 0)
    rng = np.random.default_rng(seed)
    engaged_pins = np.unique(pins)
    held_pins = rng.choice(engaged_pins, min(int(round(ALIGN_VALIDATION_SHARE * len(engaged_pins))),
                                             ALIGN_VALIDATION_PINS), replace=False)
    is_held = np.zeros(len(content), dtype=bool)
    is_held[held_pins] = True
    fit = ~is_held[pins]
    kept = [p[~is_held[p]] for p in engaged]
    held = [p[is_held[p]] for p in engaged]
    pool = np.sort(held_pins)
    profiles = _profiles(graph, [p[has_graph[p]] for p in kept])
    scores = [_recall_at_20(ridge, content, profiles, held, pool)]
    if fit.any():
        trainable = np.setdiff1d(np.arange(len(content)), held_pins)
        for w in _epochs(ridge, content, profiles, users[fit], pins[fit], trainable, ALIGN_EPOCHS_MAX,
                         np.random.default_rng(seed + 1)):
            scores.append(_recall_at_20(w, content, profiles, held, pool))
    best = int(np.argmax(scores))
    refitted = list(_epochs(ridge, content, _profiles(graph, [p[has_graph[p]] for p in engaged]), users, pins,
                            np.arange(len(content)), best, np.random.default_rng(seed + 1)))
    return GraphAligner(refitted[-1] if refitted else ridge, best)


def save(model: Any, path: Path) -> None:
    joblib.dump(model, path)


def load(path: Path) -> Any:
    return joblib.load(path)


def encode(model: Pipeline, batch: Sequence[Any], inference_args: dict | None = None) -> np.ndarray:
    """RunInference's inference function for the encoder: documents -> content vectors."""
    return np.asarray(model.transform([str(d) for d in batch]), dtype=np.float32)


def align(model: GraphAligner, batch: Sequence[np.ndarray], inference_args: dict | None = None) -> np.ndarray:
    """RunInference's inference function for the aligner: content vectors -> unit vectors in
    the graph-embedding space."""
    out = model.predict(np.stack(batch, axis=0))
    return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)
