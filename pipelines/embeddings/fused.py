"""The fused pin embedding (stage pin_embeddings, table pin_embeddings_v1): one vector per pin,
its graph embedding where it has one (the pin was walked often enough), otherwise its
graph-aligned content embedding (cold start: new pins, pins without engagement). `source` says
which, `model_version` names the model.

With `fused_content_weight` w above 0, the pin's raw content vector goes beside it: the vector is
[g, w c] made unit length, where g is the unit graph (or aligned) vector and c the unit content
vector (zeros for a pin without content), as PinSage puts its inputs side by side. Why: the
aligned vector of a cold pin keeps only what a linear map from its text can say about the graph,
and a user's taste in plain text (the raw content of the pins they engaged) is a second signal
that the map drops. On MovieLens's validation split, w 0.5 ranks cold movies 7% better and every
movie 3% better than w 0. PinnerSage's medoids would then match partly by text, which cost it
a third of its ranking quality there, so the evaluation chooses on validation whether its
retrieval matches the whole vector or the first `embedding_dim` values (BENCHMARKS.md). The
vector is then `embedding_dim` plus the content vector's length long; with w 0 it is the graph
or aligned vector as it is.

Only rows whose vector, source or model changed are rewritten, stamped with the run's day
(`event_timestamp`), so Feast materializes the day's changes and a re-run of a day changes
nothing.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.core import catalog, io
from pipelines.core.stages import StageContext, StageOutput
from pipelines.embeddings import vectors

GRAPH, ALIGNED = "graph", "aligned_content"


def day_start(ds: str):
    """The run's day as a timestamp (midnight UTC): when a changed row became current."""
    return F.lit(dt.datetime.combine(dt.date.fromisoformat(ds), dt.time())).cast("timestamp")


def _norm(values: Column) -> Column:
    return F.sqrt(F.aggregate(values, F.lit(0.0).cast("double"), lambda total, x: total + x * x))


def _scaled(values: Column, by: Column) -> Column:
    return F.transform(values, lambda x: x.cast("double") * by)


def pin_embeddings(graph: DataFrame, content: DataFrame, ds: str, content_weight: float = 0.0,
                   content_size: int = 0) -> DataFrame:
    """Each pin of the content table with a vector: graph embedding first, then aligned content;
    with `content_weight` above 0, the unit content vector (`content_size` long, zeros where the
    pin has none) beside it at that weight (see the module's docstring)."""
    g = graph.select("pin_id", F.col("embedding").alias("_graph"), F.col("model_version").alias("_graph_version"))
    joined = content.join(g, on="pin_id", how="left")
    has_graph = F.col("_graph").isNotNull()
    base = F.when(has_graph, F.col("_graph")).otherwise(F.col("aligned_embedding"))
    graph_version = F.col("_graph_version")
    if content_weight > 0:
        # [g / |g|, w c / |c|] has length sqrt(1 + w^2) (1 without content), so each part is scaled
        # once by a number of its own: a norm of the whole inside the lambdas would be recomputed
        # for every value (Spark does not hoist it), which took minutes for 1,682 pins.
        raw = F.coalesce(F.col("content_embedding"), F.array_repeat(F.lit(0.0).cast("float"), content_size))
        joined = joined.withColumn("_base", base).withColumn("_raw", raw) \
            .withColumn("_g", _norm(F.col("_base"))).withColumn("_c", _norm(F.col("_raw")))
        total = F.sqrt(F.lit(1.0) + F.when(F.col("_c") > 0, F.lit(content_weight ** 2)).otherwise(F.lit(0.0)))
        joined = joined.withColumn("_gs", F.lit(1.0) / (F.greatest(F.col("_g"), F.lit(1e-12)) * total)) \
            .withColumn("_cs", F.lit(content_weight) / (F.greatest(F.col("_c"), F.lit(1e-12)) * total))
        base = vectors.as_floats(F.concat(_scaled(F.col("_base"), F.col("_gs")), _scaled(F.col("_raw"), F.col("_cs"))))
        graph_version = F.concat_ws("+", "_graph_version", "encoder_version")
    return joined.where(has_graph | F.col("aligned_embedding").isNotNull()).select(
        "pin_id",
        base.alias("embedding"),
        F.when(has_graph, F.lit(GRAPH)).otherwise(F.lit(ALIGNED)).alias("source"),
        F.when(has_graph, graph_version)
        .otherwise(F.concat_ws("+", "encoder_version", "aligner_version")).alias("model_version"),
        day_start(ds).alias("event_timestamp"))


CHANGED = "NOT (t.embedding <=> s.embedding AND t.source <=> s.source AND t.model_version <=> s.model_version)"


def run(ctx: StageContext) -> StageOutput:
    content = ctx.read(catalog.PIN_CONTENT_EMBEDDINGS)
    weight = ctx.settings.fused_content_weight
    size = (content.where(F.col("content_embedding").isNotNull()).agg(F.max(F.size("content_embedding")))
            .first()[0] or 0) if weight > 0 else 0
    fused = pin_embeddings(ctx.read_or_empty(catalog.PIN_GRAPH_EMBEDDINGS), content, ctx.ds, weight, size)
    table = catalog.PIN_EMBEDDINGS
    written = io.merge(fused, table, ctx.settings, {c: F.col(f"s.{c}") for c in table.columns}, update_when=CHANGED)
    by_source = {r["source"]: r["n"] for r in ctx.read(table).groupBy("source").agg(F.count("*").alias("n")).collect()}
    return StageOutput(rows_in=sum(by_source.values()), rows_out=written, details={"by_source": by_source})
