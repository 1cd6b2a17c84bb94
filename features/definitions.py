"""Feast declarations: entities, Delta-backed Spark sources, feature views, a feature service.

Sources point at the Delta tables named in pipelines.core.catalog, under the lake of the current
settings: TASTEGRAPH_LAKE_ROOT (the flow and `tastegraph feast` set it), else the default lake
next to this folder (`../lake`), which is what feature_store.yaml points at.
"""
from __future__ import annotations

import os
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Mapping

from feast import Entity, FeatureService, FeatureView, Field
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
from feast.table_format import DeltaFormat
from feast.types import Array, Float32, Float64, Int64, String
from feast.value_type import ValueType

from pipelines.core import catalog
from pipelines.core.settings import Settings, load_settings

# Feast warns on every SparkSource that the API is experimental: noise on every command (and
# before a one-line error) that says nothing about the user's lake.
warnings.filterwarnings("ignore", message="The spark data source API is an experimental feature",
                        category=RuntimeWarning)

# The Delta table each feature view serves (the flow checks that every gated row arrives).
VIEW_TABLES = {"pin_stats_v1": catalog.PIN_STATS, "user_stats_v1": catalog.USER_STATS,
               "pin_graph_stats_v1": catalog.PIN_GRAPH_STATS,
               "pin_embeddings_v1": catalog.PIN_EMBEDDINGS, "user_interests_v1": catalog.USER_INTEREST_EMBEDDINGS}
# Views that serve one row per entity from a table with several rows per entity: the flow
# expects one online row per distinct value of this column among the gated rows.
PER_ENTITY = {"user_interests_v1": "user_id"}

# Snapshots are daily; a value older than this is not served.
SNAPSHOT_TTL = timedelta(days=3)

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.STRING, description="A user of the product")
pin = Entity(name="pin", join_keys=["pin_id"], value_type=ValueType.STRING, description="A pin")
# Each view's schema names its join key: Feast joins on the entity columns of the schema (a
# view built in code is not inferred as `feast apply` would, and without them Feast's
# point-in-time join pairs every example with every entity's rows).
USER_KEY, PIN_KEY = Field(name="user_id", dtype=String), Field(name="pin_id", dtype=String)


def _delta(table: catalog.Table, settings: Settings, versions: Mapping[str, int] | None) -> str:
    """The table in Spark SQL, at its pinned Delta version when `versions` names one (time travel)."""
    pinned = (versions or {}).get(table.name)
    return f"delta.`{table.path(settings)}`" + (f" VERSION AS OF {int(pinned)}" if pinned is not None else "")


def _source(table: catalog.Table, settings: Settings, versions: Mapping[str, int] | None = None) -> SparkSource:
    if versions and table.name in versions:
        return SparkSource(name=f"{table.name}_source", query=f"SELECT * FROM {_delta(table, settings, versions)}",
                           timestamp_field="event_timestamp", description=table.description)
    return SparkSource(
        name=f"{table.name}_source",
        path=table.path(settings),
        table_format=DeltaFormat(),
        timestamp_field="event_timestamp",
        description=table.description,
    )


def _user_interests_source(settings: Settings, versions: Mapping[str, int] | None = None) -> SparkSource:
    """A user's interest clusters as one row: the medoid embeddings concatenated in cluster
    order (each as long as a fused pin vector), with their importances and medoid pins."""
    table = catalog.USER_INTEREST_EMBEDDINGS
    ordered = "array_sort(collect_list(struct(cluster, embedding, importance, medoid_pin_id)))"
    query = (f"SELECT user_id, max(event_timestamp) AS event_timestamp, count(*) AS interests, "
             f"flatten(transform({ordered}, c -> c.embedding)) AS interest_embeddings, "
             f"transform({ordered}, c -> CAST(c.importance AS FLOAT)) AS interest_importances, "
             f"transform({ordered}, c -> c.medoid_pin_id) AS interest_medoids "
             f"FROM {_delta(table, settings, versions)} GROUP BY user_id")
    return SparkSource(name=f"{table.name}_source", query=query, timestamp_field="event_timestamp",
                       description=table.description)


def _default_settings() -> Settings:
    if os.environ.get("TASTEGRAPH_LAKE_ROOT"):
        return load_settings()
    return load_settings(lake_root=Path(__file__).resolve().parents[1] / "lake")


def declarations(settings: Settings | None = None, versions: Mapping[str, int] | None = None) -> list:
    """Every Feast object of the repository, bound to the lake of `settings`; with `versions`
    (table name -> Delta version), the sources of those tables read them at those versions
    (what a training set build pins and a rebuild replays)."""
    settings = settings or _default_settings()
    pin_stats_v1 = FeatureView(
        name="pin_stats_v1",
        entities=[pin],
        ttl=SNAPSHOT_TTL,
        schema=[
            PIN_KEY,
            Field(name="impressions_7d", dtype=Int64),
            Field(name="closeups_7d", dtype=Int64),
            Field(name="clicks_7d", dtype=Int64),
            Field(name="saves_7d", dtype=Int64),
            Field(name="ctr_7d", dtype=Float64),
        ],
        source=_source(catalog.PIN_STATS, settings, versions),
        online=True,
    )
    user_stats_v1 = FeatureView(
        name="user_stats_v1",
        entities=[user],
        ttl=SNAPSHOT_TTL,
        schema=[
            USER_KEY,
            Field(name="impressions_7d", dtype=Int64),
            Field(name="clicks_7d", dtype=Int64),
            Field(name="saves_7d", dtype=Int64),
            Field(name="distinct_pins_7d", dtype=Int64),
            Field(name="ctr_7d", dtype=Float64),
        ],
        source=_source(catalog.USER_STATS, settings, versions),
        online=True,
    )
    pin_graph_stats_v1 = FeatureView(
        name="pin_graph_stats_v1",
        entities=[pin],
        ttl=timedelta(0),  # a row per change: counts stay current until the next one
        schema=[PIN_KEY, *[Field(name=c, dtype=Int64) for c in
                           ("viewers", "engaged_users", "savers", "hiders", "boards", "co_engaged_pins")]],
        source=_source(catalog.PIN_GRAPH_STATS, settings, versions),
        online=True,
    )
    pin_embeddings_v1 = FeatureView(
        name="pin_embeddings_v1",
        entities=[pin],
        ttl=timedelta(0),  # a vector stays current until it changes
        schema=[PIN_KEY, Field(name="embedding", dtype=Array(Float32)), Field(name="source", dtype=String)],
        source=_source(catalog.PIN_EMBEDDINGS, settings, versions),
        online=True,
    )
    user_interests_v1 = FeatureView(
        name="user_interests_v1",
        entities=[user],
        ttl=timedelta(0),
        schema=[USER_KEY, Field(name="interests", dtype=Int64), Field(name="interest_embeddings", dtype=Array(Float32)),
                Field(name="interest_importances", dtype=Array(Float32)),
                Field(name="interest_medoids", dtype=Array(String))],
        source=_user_interests_source(settings, versions),
        online=True,
    )
    ranking_v1 = FeatureService(name="ranking_v1",
                                features=[user_stats_v1, pin_stats_v1, pin_graph_stats_v1, pin_embeddings_v1,
                                          user_interests_v1])
    return [user, pin, pin_stats_v1, user_stats_v1, pin_graph_stats_v1, pin_embeddings_v1, user_interests_v1,
            ranking_v1]


# Module-level objects so that `feast -c features apply` finds them too.
(_, _, pin_stats_v1, user_stats_v1, pin_graph_stats_v1, pin_embeddings_v1, user_interests_v1,
 ranking_v1) = declarations()
