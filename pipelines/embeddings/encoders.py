"""The platform's own content models (scikit-learn), trained on its corpus, stored as joblib
artifacts, and applied by Beam RunInference (`beam_inference.py`).

- The encoder: TF-IDF of a pin's document (title, description, interest annotations, domain,
  names of the boards it was saved to), reduced by truncated SVD (latent semantic analysis) and
  L2-normalised: the off-the-shelf kind of content embedding.
- The aligner: the custom model, post-trained on the graph. A ridge regression from content
  embeddings to the (normalised) graph embeddings of the pins that have both, so a pin without
  engagement gets a vector in the graph's space (PinCLIP's idea, with a linear map).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import joblib
import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer

ENCODER_FILE = "encoder.joblib"
ALIGNER_FILE = "aligner.joblib"


def train_encoder(documents: Sequence[str], dim: int, max_features: int, seed: int) -> Pipeline:
    vectorizer = TfidfVectorizer(max_features=max_features, sublinear_tf=True, dtype=np.float32,
                                 token_pattern=r"(?u)\b\w\w+\b")
    vocabulary = vectorizer.fit(documents).vocabulary_
    components = max(1, min(dim, len(vocabulary) - 1))
    model = Pipeline([("tfidf", vectorizer), ("svd", TruncatedSVD(n_components=components, random_state=seed)),
                      ("norm", Normalizer())])
    return model.fit(documents)


def train_aligner(content: np.ndarray, graph: np.ndarray, alpha: float = 1.0) -> Ridge:
    """content (n x c) -> unit graph vectors (n x d)."""
    target = graph / np.maximum(np.linalg.norm(graph, axis=1, keepdims=True), 1e-12)
    return Ridge(alpha=alpha).fit(content, target)


def save(model: Any, path: Path) -> None:
    joblib.dump(model, path)


def load(path: Path) -> Any:
    return joblib.load(path)


def encode(model: Pipeline, batch: Sequence[Any], inference_args: dict | None = None) -> np.ndarray:
    """RunInference's inference function for the encoder: documents -> content vectors."""
    return np.asarray(model.transform([str(d) for d in batch]), dtype=np.float32)


def align(model: Ridge, batch: Sequence[np.ndarray], inference_args: dict | None = None) -> np.ndarray:
    """RunInference's inference function for the aligner: content vectors -> unit vectors in
    the graph-embedding space."""
    out = model.predict(np.stack(batch, axis=0))
    return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)
