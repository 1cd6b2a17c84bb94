"""Versioned model artifacts next to the lake, and when to retrain them.

A model lives in `<lake>/_models/<family>/<version>/` with a `model.json` manifest (its version,
the day it was trained on, the configuration it was trained with, the input table versions).
The version is `<trained_on>-<hash of the configuration>`, so the same day and settings name the
same model. A model is written to a scratch folder (`<family>/.staging/`, `core.scratch`) and
renamed into place, so a run killed half-way leaves no partial model (and the next training
sweeps what it left), and two runs that train the same version keep one (the rename of the
second fails and it uses the first).

Cadence: a stage reuses the newest model trained on or before its day when it is younger than
`embedding_retrain_days` and was trained with the same configuration (and, for models trained on
another model's output, the same upstream version); otherwise it retrains. MLlib's Word2Vec and
ALS have no warm start, so between retrains new pins are served by their aligned content
embeddings (see `pipelines/embeddings/fused.py`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pipelines.core import scratch
from pipelines.core.settings import Settings

MANIFEST = "model.json"
STAGING = ".staging"  # a family's models being written (a folder of its own, skipped as a model)


@dataclass(frozen=True)
class Model:
    family: str
    version: str
    trained_on: dt.date
    path: Path  # the folder holding the artifact files and the manifest
    manifest: dict[str, Any]


def root(settings: Settings) -> Path:
    return settings.lake_root / "_models"


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:10]


def version_of(ds: str, config: dict[str, Any]) -> str:
    """The version of a model trained on day `ds` with `config`."""
    return f"{ds}-{config_hash(config)}"


def _load(family: str, folder: Path) -> Model | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        return Model(family, manifest["version"], dt.date.fromisoformat(manifest["trained_on"]), folder, manifest)
    except (OSError, ValueError, KeyError):
        return None  # a foreign or damaged folder is not a model


def models(settings: Settings, family: str) -> list[Model]:
    """Every complete model of a family, oldest first."""
    folder = root(settings) / family
    if not folder.is_dir():
        return []
    found = [m for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
             if (m := _load(family, p)) is not None]
    return sorted(found, key=lambda m: (m.trained_on, m.version))


def reusable(settings: Settings, family: str, ds: str, config: dict[str, Any]) -> Model | None:
    """The newest model trained on or before `ds` with this configuration, if it is younger
    than the retrain cadence."""
    day = dt.date.fromisoformat(ds)
    wanted = config_hash(config)
    fresh = [m for m in models(settings, family)
             if m.manifest.get("config_hash") == wanted and m.trained_on <= day
             and (day - m.trained_on).days < settings.embedding_retrain_days]
    return fresh[-1] if fresh else None


def train(settings: Settings, family: str, ds: str, config: dict[str, Any], fit: Callable[[Path], dict[str, Any]],
          inputs: dict[str, Any] | None = None) -> Model:
    """Train a model with `fit(folder)` (which writes the artifact files into folder and returns
    facts for the manifest) and move it into place atomically."""
    trained_on = dt.date.fromisoformat(ds)
    version = version_of(ds, config)
    final = root(settings) / family / version
    if (existing := _load(family, final)) is not None:
        return existing
    with scratch.folder(root(settings) / family / STAGING) as staging:  # swept if a kill leaves it
        facts = fit(staging)
        manifest = {"family": family, "version": version, "trained_on": trained_on.isoformat(),
                    "config": config, "config_hash": config_hash(config), "inputs": inputs or {},
                    "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **facts}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str))
        scratch.release(staging)
        try:
            os.rename(staging, final)
        except OSError:  # another run put the same version in place first
            if _load(family, final) is None:
                raise
    model = _load(family, final)
    assert model is not None
    return model


def reuse_or_train(settings: Settings, family: str, ds: str, config: dict[str, Any],
                   fit: Callable[[Path], dict[str, Any]], inputs: dict[str, Any] | None = None) -> tuple[Model, bool]:
    """(model, trained now?)."""
    found = reusable(settings, family, ds, config)
    if found is not None:
        return found, False
    return train(settings, family, ds, config, fit, inputs), True
