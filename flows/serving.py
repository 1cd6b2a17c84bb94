"""Feast operations the flow composes: apply the repository, materialize a day, look features up.

The repository is `features/`: its feature_store.yaml serves the default lake (`../lake`) for
the `feast` CLI run in that folder. For any lake, `repo_config` builds the same configuration
with the registry and the online store under that lake's `_feast/` folder.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from feast import FeatureService, FeatureStore, FeatureView, RepoConfig
from feast.infra.offline_stores.contrib.spark_offline_store.spark import SparkOfflineStore
from feast.protos.feast.serving.ServingService_pb2 import FieldStatus
from pyspark.sql import DataFrame

from features.definitions import VIEW_TABLES, declarations
from pipelines.core import catalog
from pipelines.core.settings import Settings, TastegraphError
from pipelines.core.spark import get_spark
from pipelines.training.point_in_time import FeatureFrame
from pipelines.training.sets import TrainingSetError

FEATURE_SERVICE = "ranking_v1"


class MaterializationError(TastegraphError):
    """Rows the gate passed did not all reach the online store."""


def repo_config(settings: Settings) -> dict[str, Any]:
    """features/feature_store.yaml with the registry and online store of `settings`' lake."""
    config = yaml.safe_load((settings.feature_repo / "feature_store.yaml").read_text())
    feast_dir = settings.feast_dir.resolve()
    config["registry"]["path"] = str(feast_dir / "registry.db")
    if config["online_store"]["type"] == "sqlite":
        config["online_store"]["path"] = str(feast_dir / "online_store.db")
    return config


def feature_store(settings: Settings) -> FeatureStore:
    """The repository in features/, with its registry and online store under the lake."""
    settings.feast_dir.mkdir(parents=True, exist_ok=True)
    os.environ["TASTEGRAPH_LAKE_ROOT"] = str(settings.lake_root.resolve())  # for features/definitions.py
    config = RepoConfig(**repo_config(settings))
    config.repo_path = Path(settings.feature_repo)
    return FeatureStore(config=config, repo_path=str(settings.feature_repo))


def apply(settings: Settings) -> list[str]:
    store = feature_store(settings)
    objects = declarations(settings)
    store.apply(objects)
    return [o.name for o in objects]


@dataclass
class Materialized:
    """What one materialization wrote, per feature view."""

    start: dt.datetime
    end: dt.datetime
    rows: dict[str, int]


def _counting_writes(store: FeatureStore) -> dict[str, int]:
    """Count the rows each feature view writes to the online store. Feast reports none, so
    the online store's write method of this store is wrapped (no behaviour changes)."""
    online = store._get_provider().online_store
    written: dict[str, int] = {}
    write = online.online_write_batch

    def counted(config, table, data, progress):
        written[table.name] = written.get(table.name, 0) + len(data)
        return write(config, table, data, progress)

    online.online_write_batch = counted
    return written


def materialize(settings: Settings, ds: str, views: list[str] | None = None, through: str | None = None) -> Materialized:
    """Materialize the snapshot of `ds` (event times within that UTC day, or within ds..through)
    into the online store: each entity's latest row. An explicit window, not
    materialize_incremental: the incremental one starts its first window at now minus the
    TTL, which misses a day older than that."""
    start = dt.datetime.combine(dt.date.fromisoformat(ds), dt.time(0, 0), tzinfo=dt.timezone.utc)
    end = dt.datetime.combine(dt.date.fromisoformat(through or ds), dt.time(0, 0),
                              tzinfo=dt.timezone.utc) + dt.timedelta(days=1)
    store = feature_store(settings)
    written = _counting_writes(store)
    store.materialize(start_date=start, end_date=end, feature_views=views)
    return Materialized(start, end, written)


def check_arrived(done: Materialized, expected: dict[str, int]) -> None:
    """Fail when a feature view wrote fewer rows than the gated snapshot holds."""
    short = {view: (n, done.rows.get(view, 0)) for view, n in expected.items() if done.rows.get(view, 0) < n}
    if short:
        listed = ", ".join(f"{view}: {got:,} of {n:,}" for view, (n, got) in sorted(short.items()))
        raise MaterializationError(
            f"the gate passed rows that never reached the online store ({listed}); check the Feast "
            f"registry under {done.start.date()} and re-run the day")


@dataclass
class Lookup:
    """An online lookup: each entity's features, or None when the store has no row for it."""

    user_key: str
    user: dict[str, Any] | None
    pins: dict[str, dict[str, Any] | None]


def lookup(settings: Settings, user_id: str, pin_ids: list[str]) -> Lookup:
    """Online features of one user and some pins, through the feature service; an entity the
    online store has no row for (Feast status NOT_FOUND) comes back as None, not as nulls."""
    store = feature_store(settings)
    service = store.get_feature_service(FEATURE_SERVICE)
    rows = [{"user_id": user_id, "pin_id": p} for p in pin_ids] or [{"user_id": user_id, "pin_id": ""}]
    response = store.get_online_features(features=service, entity_rows=rows, full_feature_names=True)
    values = response.to_dict()
    found: dict[str, list[bool]] = {}
    for name, vector in zip(response.proto.metadata.feature_names.val, response.proto.results):
        view = name.split("__", 1)[0] if "__" in name else None
        if view:
            present = [s == FieldStatus.PRESENT for s in vector.statuses]
            found[view] = [a or b for a, b in zip(found.get(view, [False] * len(present)), present)]

    def features(view: str, i: int) -> dict[str, Any] | None:
        if not found.get(view, [False] * (i + 1))[i]:
            return None
        return {k.split("__", 1)[1]: v[i] for k, v in values.items() if k.startswith(view + "__")}

    user_views = sorted({k.split("__", 1)[0] for k in values if k.startswith("user_")})
    user = {k: v for view in user_views for k, v in (features(view, 0) or {}).items()} or None
    pin_views = sorted({k.split("__", 1)[0] for k in values if k.startswith("pin_")})
    pins = {}
    for i, pin in enumerate(pin_ids):
        merged = {k: v for view in pin_views for k, v in (features(view, i) or {}).items()}
        pins[pin] = merged or None
    return Lookup(user_id, user, pins)


class UnknownFeatureServiceError(TrainingSetError):
    """A training set asked for a feature service the repository does not declare."""


def _service(settings: Settings, name: str,
             versions: dict[str, int] | None = None) -> tuple[FeatureService, dict[str, FeatureView]]:
    """Feature service `name` and the declared views (sources at `versions`), or a one-line error."""
    objects = declarations(settings, versions)
    services = {o.name: o for o in objects if isinstance(o, FeatureService)}
    if name not in services:
        raise UnknownFeatureServiceError(
            f"no feature service {name!r} in {settings.feature_repo}; declared: {', '.join(sorted(services))} "
            f"(set training_feature_service or pass --feature-service)")
    return services[name], {o.name: o for o in objects if isinstance(o, FeatureView)}


def service_tables(settings: Settings, name: str) -> list[catalog.Table]:
    """The Delta tables behind the views of feature service `name`."""
    service, _ = _service(settings, name)
    return [VIEW_TABLES[p.name] for p in service.feature_view_projections]


@dataclass
class Retrieved:
    """Features joined as of each example: the frame, and what lineage records about it."""

    frame: DataFrame
    views: list[str]
    refs: list[str]
    registry_version: str


def _views(settings: Settings, name: str, versions: dict[str, int]) -> tuple[list[FeatureView], list[str]]:
    """The service's views with sources read at the pinned Delta versions, and its references."""
    service, views = _service(settings, name, versions)
    projections = service.feature_view_projections
    refs = [f"{p.name_to_use()}:{f.name}" for p in projections for f in p.features]
    return [views[p.name] for p in projections], refs


def _registry_version(store: FeatureStore) -> str:
    proto = store.registry.proto()
    return f"{proto.version_id or 'unversioned'}@{proto.last_updated.ToDatetime().isoformat()}"


def historical_features(settings: Settings, entity_df: DataFrame, service_name: str,
                        versions: dict[str, int]) -> Retrieved:
    """Feast's point-in-time join (Spark offline store) of the feature service's views, read at
    the pinned versions, onto `entity_df` (user_id, pin_id, event_timestamp, ...): each value
    is the latest at or before the row's timestamp, within the view's TTL; a row with no
    feature row keeps its place with nulls. Columns are named `<view>__<feature>`."""
    store = feature_store(settings)
    views, refs = _views(settings, service_name, versions)
    if service_name not in {s.name for s in store.list_feature_services()}:
        apply(settings)  # a lake from before this service: register it (entities, views) first
        store = feature_store(settings)
    job = SparkOfflineStore.get_historical_features(
        config=store.config, feature_views=views, feature_refs=refs, entity_df=entity_df,
        registry=store.registry, project=store.project, full_feature_names=True)
    return Retrieved(job.to_spark_df(), [v.name for v in views], refs, _registry_version(store))


def feature_frames(settings: Settings, service_name: str, versions: dict[str, int]) -> list[FeatureFrame]:
    """The same views as plain frames (the rows Feast's sources read), for the project's own
    as-of join."""
    spark = get_spark(settings)
    views, _ = _views(settings, service_name, versions)
    frames = []
    for view in views:
        source = view.batch_source
        frame = spark.sql(source.query) if source.query else spark.read.format("delta").load(source.path)
        frames.append(FeatureFrame(view.name, frame, tuple(view.join_keys), tuple(f.name for f in view.features),
                                   view.ttl))
    return frames
