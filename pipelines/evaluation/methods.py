"""The methods under evaluation, each a scorer of (users x items) built from what the stages
trained on a split's training lake. Every method scores the same candidates: the whole
catalogue (full ranking) or the same 100 per user (sampled); an item a method cannot score is
`metrics.UNSCORED`.

Off the shelf:
- popularity: training interactions per pin, the same list for everyone;
- content: the platform's own text encoder (TF-IDF + SVD, run by Beam) without any graph
  signal; a user is the mean of the unit content vectors of their latest training pins;
- als: MLlib implicit ALS factors (user . pin);
- itemknn: item-based nearest neighbours on the training interactions (cosine with a
  `shrink` term, each candidate pin scored from its `neighbours` most similar pins; Sarwar et
  al. 2001, with the knobs Dacrema et al. 2019 tune): the method whose published figure is the full-ranking anchor,
  run here on exactly our split, so the taste graph is set beside it on equal terms.

Taste graph:
- pixie: the user's Pixie candidates (`user_candidates`), by score;
- walk: the closed form of a three-step walk user -> pin -> user -> pin on the taste graph's
  decayed engagement edges (RP3beta, Paudel et al. 2017, the exact probabilities that Pixie's
  walks sample). Each step's transition probabilities are raised to `alpha`, a pin's score is
  divided by its degree ** `beta` (a popular pin is reached from everywhere), and each pin
  passes the walk on to at most its `neighbours` strongest pins. `binary` walks every edge
  alike instead of by its weight (RP3beta's own graph). `recent` starts the walk from the
  user's latest pins as Pixie does: the first step's weight halves every `recent` pins back
  from the user's latest engagement (None: every pin alike). Every pin the walk reaches is
  scored, not a top-N list;
- graph: skip-gram pin embeddings of walks on the pruned pin-board graph, user as for content;
- fused: the fused pin embedding (graph, else graph-aligned content: every cold pin has one);
- aligned: the graph-aligned content embeddings alone, on both sides (the user is the mean of
  their latest training pins' aligned vectors, as for content): the content encoder's output
  mapped by the aligner, which learnt from the graph which text makes pins engaged together.
  Built for cold pins: a cold pin's aligned vector meets the user's aligned profile, not their
  graph one;
- pinnersage: the user's interest clusters (medoid embeddings); a pin scores its best cosine
  to a cluster, or the importance-weighted mean over clusters. The cosine is of the whole fused
  vectors, or of their graph (or aligned) part alone, the first `embedding_dim` values: with
  `fused_content_weight` above 0 a raw content part follows, and a medoid's best matches by
  text are not the user's interest.

A method's scoring knob (`GRID`: how many of the user's latest pins make the profile, how
PinnerSage combines clusters and which part of the vectors it matches) is chosen on the
validation split, never on the test split.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from pipelines.evaluation.metrics import UNSCORED

OFF_THE_SHELF, TASTE_GRAPH = "off-the-shelf", "taste graph"
FAMILY = {"popularity": OFF_THE_SHELF, "content": OFF_THE_SHELF, "als": OFF_THE_SHELF, "itemknn": OFF_THE_SHELF,
          "pixie": TASTE_GRAPH,
          "walk": TASTE_GRAPH, "graph": TASTE_GRAPH, "fused": TASTE_GRAPH, "aligned": TASTE_GRAPH,
          "pinnersage": TASTE_GRAPH}
METHODS = tuple(FAMILY)
TASTE_GRAPH_METHODS = tuple(m for m in METHODS if FAMILY[m] == TASTE_GRAPH)
PROFILE_GRID = ({"latest_pins": 10}, {"latest_pins": 50}, {"latest_pins": None})
GRID: dict[str, tuple[dict, ...]] = {
    "popularity": ({},), "als": ({},), "pixie": ({},),
    "walk": tuple({"alpha": a, "beta": b, "neighbours": k, "binary": e, "recent": r} for a in (0.5, 1.0)
                  for b in (0.3, 0.6, 0.9) for k in (100, None) for e in (False, True) for r in (None, 3, 10)),
    "content": PROFILE_GRID, "graph": PROFILE_GRID, "fused": PROFILE_GRID, "aligned": PROFILE_GRID,
    "pinnersage": tuple({"combine": c, "part": p} for c in ("max", "weighted") for p in ("whole", "graph")),
    "itemknn": tuple({"shrink": h, "neighbours": k} for h in (0.0, 10.0, 100.0) for k in (50, 200, None)),
}


def grid(method: str, content_part: bool) -> tuple[dict, ...]:
    """The knob settings validation tries for `method`. Without a raw content part beside the
    graph part (`fused_content_weight` 0), PinnerSage's `part` graph is the whole vector: its
    settings would score the same again, so only `whole` is tried."""
    if method == "pinnersage" and not content_part:
        return tuple(g for g in GRID[method] if g["part"] == "whole")
    return GRID[method]


DENSE_SHARE, DENSE_BYTES = 0.05, 1 << 30  # the walk's pin-pin matrix is kept dense from 5% full, up to 1 GiB


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


@dataclass
class Data:
    """What every method shares: the catalogue, each tested user's training pins (oldest first),
    the training pins of the users who are not tested (they train, they are not scored), and
    the training popularity of each pin (over every user)."""

    items: list[str]
    users: list[str]
    train: list[np.ndarray]  # per tested user: catalogue indices of their training pins, oldest first
    untested: list[np.ndarray] = field(default_factory=list)  # the other users' training pins
    index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.index = {p: i for i, p in enumerate(self.items)}
        self.popularity = np.asarray(self.interactions().sum(axis=0), dtype=np.float64).ravel()

    def interactions(self, users: list[np.ndarray] | None = None):
        """A sparse (users x items) 0/1 matrix of training interactions: of the given users'
        pins, else of every user (tested users first, in order)."""
        from scipy import sparse

        users = self.train + self.untested if users is None else users
        rows = np.repeat(np.arange(len(users)), [len(p) for p in users])
        cols = np.concatenate(users) if users else np.empty(0, dtype=np.int64)
        m = sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(users), len(self.items)))
        m.data[:] = 1.0  # a pin twice in a user's list is one interaction
        return m


Scorer = Callable[[np.ndarray, dict], np.ndarray]  # (user rows, params) -> (users x items) scores


def popularity(data: Data) -> Scorer:
    scores = data.popularity.astype(np.float32)
    return lambda rows, params: np.broadcast_to(scores, (len(rows), len(scores))).copy()


def _stacked(data: Data, vectors: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(items x dim vectors, has-vector mask) in catalogue order; zeros where a pin has none."""
    dim = len(next(iter(vectors.values()))) if vectors else 1
    m = np.zeros((len(data.items), dim), dtype=np.float32)
    has = np.zeros(len(data.items), dtype=bool)
    for pin, vec in vectors.items():
        if pin in data.index:
            m[data.index[pin]], has[data.index[pin]] = vec, True
    return m, has


def _matrix(data: Data, vectors: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(items x dim unit vectors, has-vector mask) in catalogue order."""
    m, has = _stacked(data, vectors)
    return _unit(m), has


def profile(data: Data, vectors: dict[str, np.ndarray]) -> Scorer:
    """Cosine of each pin to the mean of the user's latest training pins' unit vectors."""
    unit, has = _matrix(data, vectors)

    def score(rows: np.ndarray, params: dict) -> np.ndarray:
        latest = params.get("latest_pins")
        out = np.full((len(rows), len(data.items)), UNSCORED, dtype=np.float32)
        for r, u in enumerate(rows):
            pins = data.train[u]
            pins = pins[has[pins]]
            if latest:
                pins = pins[-latest:]
            if pins.size:
                out[r] = np.where(has, unit @ _unit(unit[pins].mean(axis=0)), UNSCORED)
        return out
    return score


def factors(data: Data, users: dict[str, np.ndarray], pins: dict[str, np.ndarray]) -> Scorer:
    """Dot product of ALS user and pin factors."""
    m, has = _stacked(data, pins)

    def score(rows: np.ndarray, params: dict) -> np.ndarray:
        out = np.full((len(rows), len(data.items)), UNSCORED, dtype=np.float32)
        for r, u in enumerate(rows):
            vec = users.get(data.users[u])
            if vec is not None:
                out[r] = np.where(has, m @ vec, UNSCORED)
        return out
    return score


def candidates(data: Data, lists: dict[str, list[tuple[str, float]]]) -> Scorer:
    """A user's candidate list (pin, score); other pins unscored."""
    def score(rows: np.ndarray, params: dict) -> np.ndarray:
        out = np.full((len(rows), len(data.items)), UNSCORED, dtype=np.float32)
        for r, u in enumerate(rows):
            for pin, value in lists.get(data.users[u], ()):
                if pin in data.index:
                    out[r, data.index[pin]] = value
        return out
    return score


def _strongest(m, k: int):
    """A sparse matrix with each row's k largest entries (ties: the lower column)."""
    from scipy import sparse

    m = m.tocsr()
    keep = np.zeros(m.nnz, dtype=bool)
    for i in range(m.shape[0]):
        start, end = m.indptr[i], m.indptr[i + 1]
        order = np.lexsort((m.indices[start:end], -m.data[start:end]))[:k]
        keep[start + order] = True
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    return sparse.csr_matrix((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape)


def itemknn(data: Data) -> Scorer:
    """ItemKNN: a pin's score for a user is the sum of its cosine similarities (co-interactions
    over sqrt(n_i n_j) + `shrink`) to those of its `neighbours` most similar pins (all when
    None) that the user trained on. Similarities come from every user's training interactions."""
    from scipy import sparse

    everyone = data.interactions()
    co = (everyone.T @ everyone).tocsr()
    norms = np.sqrt(co.diagonal())
    built: dict[tuple, object] = {}

    def similar(shrink: float, neighbours: int | None):
        key = (shrink, neighbours)
        if key not in built:
            built.clear()
            m = co.tocoo()
            off = m.row != m.col
            values = m.data[off] / (norms[m.row[off]] * norms[m.col[off]] + shrink)
            sim = sparse.csr_matrix((values, (m.row[off], m.col[off])), shape=co.shape)
            # each candidate pin keeps its k most similar pins (a column of the symmetric matrix)
            built[key] = _strongest(sim, neighbours).T.tocsr() if neighbours else sim
        return built[key]

    def score(rows: np.ndarray, params: dict) -> np.ndarray:
        seen = data.interactions([data.train[u] for u in rows])
        reached = (seen @ similar(float(params["shrink"]), params.get("neighbours"))).toarray()
        return np.where(reached > 0, reached, UNSCORED).astype(np.float32)
    return score


def walk(data: Data, engaged: list[tuple[str, str, float, float]]) -> Scorer:
    """RP3beta on the taste graph's (user, pin, weight, last seen as epoch seconds) engagement:
    every user's edges are the walk's middle steps, so the scores of one user need the whole
    graph. The pin -> user -> pin part is a pin-pin matrix (its rows cut to each pin's strongest
    `neighbours`, all when None); a user's scores are their first step times that matrix."""
    from scipy import sparse

    kept = [(walker, data.index[p], w, seen) for walker, p, w, seen in engaged if p in data.index and w > 0]
    walkers = {u: i for i, u in enumerate(sorted({u for u, _, _, _ in kept}))}
    rows = np.array([walkers[u] for u, _, _, _ in kept], dtype=np.int64)
    cols = np.array([p for _, p, _, _ in kept], dtype=np.int64)
    weight = np.array([w for _, _, w, _ in kept], dtype=np.float64)
    seen = np.array([t for _, _, _, t in kept], dtype=np.float64)
    # each edge's place back from its user's latest engagement: 0 = latest (ties: the larger pin)
    latest_first = np.lexsort((-cols, -seen, rows))
    back = np.empty(len(kept), dtype=np.float64)
    back[latest_first] = np.arange(len(kept)) - np.searchsorted(rows[latest_first], rows[latest_first])
    shape = (len(walkers), len(data.items))
    degree = np.bincount(cols, minlength=len(data.items)).astype(np.float64)
    built: dict[tuple, object] = {}  # one setting at a time: a method is scored block by block per setting

    def rows_normalised(m):
        return (sparse.diags(1.0 / np.maximum(np.asarray(m.sum(axis=1)).ravel(), 1e-300)) @ m).tocsr()

    def edges(binary: bool, recent: float | None):
        w = np.ones_like(weight) if binary else weight
        return sparse.csr_matrix((w * (0.5 ** (back / recent) if recent else 1.0), (rows, cols)), shape=shape)

    def pin_pin(alpha: float, beta: float, neighbours: int | None, binary: bool):
        """The pin -> user -> pin matrix of one setting, each pin divided by its degree ** beta."""
        key = (alpha, beta, neighbours, binary)
        if key not in built:
            built.clear()
            graph = edges(binary, None)
            m = (rows_normalised(graph.T.tocsr()).power(alpha) @ rows_normalised(graph).power(alpha)).tocsr()
            m = m @ sparse.diags(1.0 / np.power(np.maximum(degree, 1.0), beta))
            m = _strongest(m, neighbours) if neighbours else m.tocsr()
            # A dense pin-pin matrix multiplies faster, and to the same sums (same order).
            dense = m.nnz >= DENSE_SHARE * m.shape[0] * m.shape[1] and m.shape[0] * m.shape[1] * 8 <= DENSE_BYTES
            built[key] = m.toarray() if dense else m
        return built[key]

    def score(users: np.ndarray, params: dict) -> np.ndarray:
        out = np.full((len(users), len(data.items)), UNSCORED, dtype=np.float32)
        at = np.array([walkers.get(data.users[u], -1) for u in users], dtype=np.int64)
        present = np.flatnonzero(at >= 0)
        if present.size:
            alpha, binary = float(params["alpha"]), bool(params.get("binary", False))
            first = rows_normalised(edges(binary, params.get("recent"))[at[present]]).power(alpha)
            reached = first @ pin_pin(alpha, float(params["beta"]), params.get("neighbours"), binary)
            reached = reached.toarray() if sparse.issparse(reached) else np.asarray(reached)
            out[present] = np.where(reached > 0, reached, UNSCORED).astype(np.float32)
        return out
    return score


def interests(data: Data, vectors: dict[str, np.ndarray], clusters: dict[str, list[tuple[np.ndarray, float]]],
              graph_dims: int) -> Scorer:
    """PinnerSage retrieval: each pin's cosine to the user's clusters, best or importance-weighted,
    over the whole vectors or (`part` graph) their first `graph_dims` values."""
    stacked, has = _stacked(data, vectors)
    parts = {"whole": None, "graph": graph_dims}  # how many leading values each part keeps
    units = {part: _unit(stacked[:, :dims]) for part, dims in parts.items()}

    def score(rows: np.ndarray, params: dict) -> np.ndarray:
        out = np.full((len(rows), len(data.items)), UNSCORED, dtype=np.float32)
        part = params.get("part", "whole")
        for r, u in enumerate(rows):
            mine = clusters.get(data.users[u])
            if not mine:
                continue
            medoids = np.stack([c for c, _ in mine])[:, :parts[part]]
            sims = units[part] @ _unit(medoids).T  # items x clusters
            weights = np.array([w for _, w in mine])
            combined = sims.max(axis=1) if params.get("combine") == "max" else sims @ (weights / weights.sum())
            out[r] = np.where(has, combined, UNSCORED)
        return out
    return score
