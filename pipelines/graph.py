"""Graph stage: the day's typed, weighted edges.

Edge types written here: user->pin engagement (impression, closeup, click, merchant_click,
save, hide; weighted by configurable type weights, hide is negative) and pin->board
saved_to. Rows are the day's contribution, partitioned by ds.
"""
from __future__ import annotations

import datetime as dt
from typing import Mapping

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines import catalog, io
from pipelines.runs import StageResult, versions
from pipelines.settings import Settings

ENGAGEMENT_TYPES = ("impression", "closeup", "click", "save", "hide")


def engagement_type() -> Column:
    """The edge type of an engagement event: a click that went to a merchant is its own type."""
    return F.when(
        (F.col("event_type") == "click") & F.coalesce(F.col("is_merchant"), F.lit(False)), F.lit("merchant_click")
    ).otherwise(F.col("event_type"))


def type_weight(edge_type: Column, weights: Mapping[str, float]) -> Column:
    expr = F.lit(0.0)
    for name, weight in sorted(weights.items()):
        expr = F.when(edge_type == name, F.lit(float(weight))).otherwise(expr)
    return expr


def user_pin_edges(events: DataFrame, ds: str, weights: Mapping[str, float]) -> DataFrame:
    engaged = events.where(F.col("event_type").isin(*ENGAGEMENT_TYPES)).withColumn("edge_type", engagement_type())
    return (
        engaged.groupBy("user_id", "pin_id", "edge_type")
        .agg(F.count("*").alias("event_count"), F.min("event_time").alias("first_seen"), F.max("event_time").alias("last_seen"))
        .select(
            F.lit(dt.date.fromisoformat(ds)).alias("ds"),
            F.lit("user").alias("src_type"),
            F.col("user_id").alias("src_id"),
            F.lit("pin").alias("dst_type"),
            F.col("pin_id").alias("dst_id"),
            "edge_type",
            "event_count",
            (F.col("event_count") * type_weight(F.col("edge_type"), weights)).alias("weight"),
            "first_seen",
            "last_seen",
        )
    )


def pin_board_edges(events: DataFrame, ds: str) -> DataFrame:
    saves = events.where((F.col("event_type") == "save") & F.col("board_id").isNotNull())
    return (
        saves.groupBy("pin_id", "board_id")
        .agg(F.count("*").alias("event_count"), F.min("event_time").alias("first_seen"), F.max("event_time").alias("last_seen"))
        .select(
            F.lit(dt.date.fromisoformat(ds)).alias("ds"),
            F.lit("pin").alias("src_type"),
            F.col("pin_id").alias("src_id"),
            F.lit("board").alias("dst_type"),
            F.col("board_id").alias("dst_id"),
            F.lit("saved_to").alias("edge_type"),
            "event_count",
            F.col("event_count").cast("double").alias("weight"),
            "first_seen",
            "last_seen",
        )
    )


def graph_edges(events: DataFrame, ds: str, weights: Mapping[str, float]) -> DataFrame:
    return user_pin_edges(events, ds, weights).unionByName(pin_board_edges(events, ds))


def run(spark: SparkSession, ds: str, settings: Settings) -> StageResult:
    inputs = versions(spark, settings, catalog.SILVER_EVENTS)
    events = io.read_table(spark, catalog.SILVER_EVENTS, settings, version=inputs.get("events")).where(
        F.col("event_date") == F.lit(ds).cast("date")
    )
    edges = graph_edges(events, ds, settings.edge_type_weights)
    io.overwrite_where(edges, catalog.GRAPH_EDGES, settings, f"ds = '{ds}'")
    written = io.read_table(spark, catalog.GRAPH_EDGES, settings).where(F.col("ds") == F.lit(ds).cast("date"))
    counts = written.agg(F.count("*").alias("edges"), F.sum("event_count").alias("events")).first()
    return StageResult(
        stage="graph",
        ds=ds,
        rows_in=int(counts["events"] or 0),
        rows_out=int(counts["edges"]),
        input_versions=inputs,
        output_versions=versions(spark, settings, catalog.GRAPH_EDGES),
        outputs={catalog.GRAPH_EDGES.name: catalog.GRAPH_EDGES.path(settings)},
    )
