"""Graph embeddings of pins (stage graph_embeddings, table pin_graph_embeddings_v1): skip-gram
(Spark MLlib Word2Vec) over seeded random walks on the pruned pin-board graph (DeepWalk, as in
Pinterest's Pin2Vec). The walks are those of related_pins (`walks.walk_steps`), without restart,
and a sentence is a walker's query pin followed by the pins it landed on.

Determinism: the sentences are sorted and handed to Word2Vec in one partition
(`numPartitions=1`), so the same walks and seed give the same vectors bit for bit.

Scale limit: MLlib's Word2Vec keeps the whole vocabulary's vectors in the driver, and requires
vocabulary x dimension < 2^31 (Int.MaxValue): 2.1 billion floats, 8 GiB of driver memory, for
example 67 million pins at dimension 32. Training is also one partition (more partitions
average their vectors once per iteration and are not deterministic). Beyond that, train on a
sample of walks per pin, raise `embedding_min_count` so rare pins fall back to their aligned
content embedding, or move to a parameter-server trainer (PyTorch-BigGraph, or a GPU skip-gram
reading the same walks from Delta).
"""
from __future__ import annotations

from pathlib import Path

from pyspark.ml.feature import Word2Vec, Word2VecModel
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.core import catalog, io
from pipelines.core.stages import StageContext, StageOutput
from pipelines.embeddings import models, vectors
from pipelines.graph.shared import edges_as_of, pruned_graph
from pipelines.graph.walks import walk_steps

FAMILY = "graph_word2vec"


def walk_sentences(steps: DataFrame) -> DataFrame:
    """(pin_id, walk, sentence): each walker's query pin, then the pins it landed on, in order."""
    ordered = steps.groupBy("pin_id", "walk").agg(F.array_sort(F.collect_list(F.struct("step", "next"))).alias("s"))
    return ordered.select("pin_id", "walk",
                          F.concat(F.array("pin_id"), F.transform("s", lambda x: x["next"])).alias("sentence"))


def config(ctx: StageContext) -> dict:
    s = ctx.settings
    return {"dim": s.embedding_dim, "window": s.embedding_window, "walks_per_pin": s.embedding_walks_per_pin,
            "walk_length": s.embedding_walk_length, "min_count": s.embedding_min_count, "seed": s.embedding_seed,
            "pruning": [s.board_entropy_max, s.pin_board_keep, s.board_pin_cap, s.pin_board_min_share]}


def fit_word2vec(sentences: DataFrame, dim: int, window: int, min_count: int, seed: int) -> Word2VecModel:
    """Word2Vec on the sentences, sorted and in one partition (deterministic)."""
    ordered = sentences.orderBy("pin_id", "walk").select("sentence").coalesce(1)
    w2v = Word2Vec(vectorSize=dim, windowSize=window, minCount=min_count, seed=seed, numPartitions=1, maxIter=1,
                   inputCol="sentence", maxSentenceLength=10_000)
    return w2v.fit(ordered)


def pin_graph_embeddings(model: Word2VecModel, sentences: DataFrame, version: str, trained_on: str) -> DataFrame:
    """One row per pin in the model's vocabulary: its vector, how often the walks saw it."""
    seen = sentences.select(F.explode("sentence").alias("pin_id")).groupBy("pin_id").agg(F.count("*").alias("occurrences"))
    return model.getVectors().select(F.col("word").alias("pin_id"), vectors.as_floats(vector_to_array("vector"))
                                     .alias("embedding")).join(seen, on="pin_id", how="inner").select(
        "pin_id", "embedding", "occurrences", F.lit(version).alias("model_version"),
        F.lit(trained_on).cast("date").alias("trained_on"))


def run(ctx: StageContext) -> StageOutput:
    s = ctx.settings
    spark = ctx.spark

    def fit(folder: Path) -> dict:
        pruned = pruned_graph(ctx, edges_as_of(ctx)).persist()
        steps = walk_steps(pruned, s.embedding_walks_per_pin, s.embedding_walk_length, 0.0, s.embedding_seed)
        sentences = walk_sentences(steps).persist()
        ctx.laps("walks")
        model = fit_word2vec(sentences, s.embedding_dim, s.embedding_window, s.embedding_min_count, s.embedding_seed)
        ctx.laps("word2vec")
        model.save(str(folder / "word2vec"))
        version = models.version_of(ctx.ds, config(ctx))
        table = pin_graph_embeddings(model, sentences, version, ctx.ds)
        table.write.parquet(str(folder / "vectors.parquet"))
        facts = {"vocabulary": model.getVectors().count(), "sentences": sentences.count(), "links": pruned.count()}
        sentences.unpersist()
        pruned.unpersist()
        return facts

    model, trained = models.reuse_or_train(s, FAMILY, ctx.ds, config(ctx), fit, inputs=ctx.input_versions)
    ctx.laps("model")
    written = 0
    if vectors.table_model_version(ctx, catalog.PIN_GRAPH_EMBEDDINGS) != model.version:
        written = io.overwrite(spark.read.parquet(str(model.path / "vectors.parquet")), catalog.PIN_GRAPH_EMBEDDINGS, s)
    ctx.laps("write")
    return StageOutput(rows_in=int(model.manifest.get("sentences", 0)), rows_out=written,
                       details={"model_version": model.version, "trained": trained,
                                "vocabulary": model.manifest.get("vocabulary")})

