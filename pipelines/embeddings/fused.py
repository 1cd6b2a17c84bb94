"""The fused pin embedding (stage pin_embeddings, table pin_embeddings_v1): one vector per pin,
its graph embedding where it has one (the pin was walked often enough), otherwise its
graph-aligned content embedding (cold start: new pins, pins without engagement). `source` says
which, `model_version` names the model.

Only rows whose vector, source or model changed are rewritten, stamped with the run's day
(`event_timestamp`), so Feast materializes the day's changes and a re-run of a day changes
nothing.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.core import catalog, io
from pipelines.core.stages import StageContext, StageOutput

GRAPH, ALIGNED = "graph", "aligned_content"


def day_start(ds: str):
    """The run's day as a timestamp (midnight UTC): when a changed row became current."""
    return F.lit(dt.datetime.combine(dt.date.fromisoformat(ds), dt.time())).cast("timestamp")


def pin_embeddings(graph: DataFrame, content: DataFrame, ds: str) -> DataFrame:
    """Each pin of the content table with a vector: graph embedding first, then aligned content."""
    g = graph.select("pin_id", F.col("embedding").alias("_graph"), F.col("model_version").alias("_graph_version"))
    joined = content.join(g, on="pin_id", how="left")
    has_graph = F.col("_graph").isNotNull()
    return joined.where(has_graph | F.col("aligned_embedding").isNotNull()).select(
        "pin_id",
        F.when(has_graph, F.col("_graph")).otherwise(F.col("aligned_embedding")).alias("embedding"),
        F.when(has_graph, F.lit(GRAPH)).otherwise(F.lit(ALIGNED)).alias("source"),
        F.when(has_graph, F.col("_graph_version"))
        .otherwise(F.concat_ws("+", "encoder_version", "aligner_version")).alias("model_version"),
        day_start(ds).alias("event_timestamp"))


CHANGED = "NOT (t.embedding <=> s.embedding AND t.source <=> s.source AND t.model_version <=> s.model_version)"


def run(ctx: StageContext) -> StageOutput:
    fused = pin_embeddings(ctx.read_or_empty(catalog.PIN_GRAPH_EMBEDDINGS),
                           ctx.read(catalog.PIN_CONTENT_EMBEDDINGS), ctx.ds)
    table = catalog.PIN_EMBEDDINGS
    written = io.merge(fused, table, ctx.settings, {c: F.col(f"s.{c}") for c in table.columns}, update_when=CHANGED)
    by_source = {r["source"]: r["n"] for r in ctx.read(table).groupBy("source").agg(F.count("*").alias("n")).collect()}
    return StageOutput(rows_in=sum(by_source.values()), rows_out=written, details={"by_source": by_source})
