"""Feast operations the flow composes: apply the repository, materialize, look features up."""
from __future__ import annotations

import datetime as dt
import os
from typing import Any

from feast import FeatureStore

from features.definitions import declarations
from pipelines.settings import Settings

FEATURE_SERVICE = "ranking_v1"


def feature_store(settings: Settings) -> FeatureStore:
    """The repository in features/, with its registry and online store under the lake."""
    settings.feast_dir.mkdir(parents=True, exist_ok=True)
    os.environ["TASTEGRAPH_FEAST_DIR"] = str(settings.feast_dir.resolve())
    return FeatureStore(repo_path=str(settings.feature_repo))


def apply(settings: Settings) -> list[str]:
    store = feature_store(settings)
    objects = declarations(settings)
    store.apply(objects)
    return [o.name for o in objects]


def materialize(settings: Settings, ds: str) -> dt.datetime:
    """Incrementally materialize everything up to the end of `ds` (UTC) into the online store."""
    end = dt.datetime.combine(dt.date.fromisoformat(ds) + dt.timedelta(days=1), dt.time(0, 0), tzinfo=dt.timezone.utc)
    feature_store(settings).materialize_incremental(end_date=end)
    return end


def lookup(settings: Settings, user_id: str, pin_ids: list[str]) -> dict[str, Any]:
    """Online features of one user and some pins, through the feature service."""
    store = feature_store(settings)
    service = store.get_feature_service(FEATURE_SERVICE)
    rows = [{"user_id": user_id, "pin_id": p} for p in pin_ids] or [{"user_id": user_id, "pin_id": ""}]
    return store.get_online_features(features=service, entity_rows=rows, full_feature_names=True).to_dict()
