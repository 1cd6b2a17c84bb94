"""Feast declarations: entities, Delta-backed Spark sources, feature views, a feature service.

Sources point at the Delta tables named in pipelines.core.catalog, under the lake of the current
settings: TASTEGRAPH_LAKE_ROOT (the flow and `tastegraph feast` set it), else the default lake
next to this folder (`../lake`), which is what feature_store.yaml points at.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureService, FeatureView, Field
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
from feast.table_format import DeltaFormat
from feast.types import Float64, Int64
from feast.value_type import ValueType

from pipelines.core import catalog
from pipelines.core.settings import Settings, load_settings

# The Delta table each feature view serves (the flow checks that every gated row arrives).
VIEW_TABLES = {"pin_stats_v1": catalog.PIN_STATS, "user_stats_v1": catalog.USER_STATS}

# Snapshots are daily; a value older than this is not served.
SNAPSHOT_TTL = timedelta(days=3)

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.STRING, description="A user of the product")
pin = Entity(name="pin", join_keys=["pin_id"], value_type=ValueType.STRING, description="A pin")


def _source(table: catalog.Table, settings: Settings) -> SparkSource:
    return SparkSource(
        name=f"{table.name}_source",
        path=table.path(settings),
        table_format=DeltaFormat(),
        timestamp_field="event_timestamp",
        description=table.description,
    )


def _default_settings() -> Settings:
    if os.environ.get("TASTEGRAPH_LAKE_ROOT"):
        return load_settings()
    return load_settings(lake_root=Path(__file__).resolve().parents[1] / "lake")


def declarations(settings: Settings | None = None) -> list:
    """Every Feast object of the repository, bound to the lake of `settings`."""
    settings = settings or _default_settings()
    pin_stats_v1 = FeatureView(
        name="pin_stats_v1",
        entities=[pin],
        ttl=SNAPSHOT_TTL,
        schema=[
            Field(name="impressions_7d", dtype=Int64),
            Field(name="closeups_7d", dtype=Int64),
            Field(name="clicks_7d", dtype=Int64),
            Field(name="saves_7d", dtype=Int64),
            Field(name="ctr_7d", dtype=Float64),
        ],
        source=_source(catalog.PIN_STATS, settings),
        online=True,
    )
    user_stats_v1 = FeatureView(
        name="user_stats_v1",
        entities=[user],
        ttl=SNAPSHOT_TTL,
        schema=[
            Field(name="impressions_7d", dtype=Int64),
            Field(name="clicks_7d", dtype=Int64),
            Field(name="saves_7d", dtype=Int64),
            Field(name="distinct_pins_7d", dtype=Int64),
            Field(name="ctr_7d", dtype=Float64),
        ],
        source=_source(catalog.USER_STATS, settings),
        online=True,
    )
    ranking_v1 = FeatureService(name="ranking_v1", features=[user_stats_v1, pin_stats_v1])
    return [user, pin, pin_stats_v1, user_stats_v1, ranking_v1]


# Module-level objects so that `feast -c features apply` finds them too.
_, _, pin_stats_v1, user_stats_v1, ranking_v1 = declarations()
