"""Collaborative embeddings (stage collaborative_embeddings, tables user_collab_embeddings_v1 and
pin_collab_embeddings_v1): implicit ALS from Spark MLlib (Hu, Koren and Volinsky) on each user's
decayed positive engagement with each pin (`vectors.engagement`: hides never count as a positive
preference, and a pin the user hid is left out). The confidence of a pair is 1 + alpha * weight.

ALS wants integer ids: users and pins are numbered by their sorted ids, so the numbering, and
with the seed the factors, depend on the data only. The factors are deterministic up to
floating-point summation order (see the test for the tolerance that holds). A checkpoint
directory under the lake cuts the lineage of the iterations.
"""
from __future__ import annotations

from pathlib import Path

from pyspark.ml.recommendation import ALS
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from pipelines.core import catalog, io
from pipelines.core.stages import StageContext, StageOutput
from pipelines.embeddings import models, vectors
from pipelines.graph.shared import edges_as_of

FAMILY = "collaborative_als"


def numbered(ids: DataFrame, column: str, index: str) -> DataFrame:
    """(column, index): distinct ids numbered 0.. in sorted order."""
    return ids.select(column).distinct().withColumn(index, (F.row_number().over(Window.orderBy(column)) - 1).cast("int"))


def config(ctx: StageContext) -> dict:
    s = ctx.settings
    return {"rank": s.als_rank, "reg": s.als_reg, "alpha": s.als_alpha, "iterations": s.als_iterations,
            "seed": s.embedding_seed, "half_life": s.decay_half_life_days, "weights": dict(s.edge_type_weights)}


def factors(model_factors: DataFrame, ids: DataFrame, id_column: str, index: str, version: str, ds: str) -> DataFrame:
    return model_factors.join(ids, model_factors["id"] == ids[index], how="inner").select(
        F.col(id_column), vectors.as_floats(F.col("features")).alias("embedding"),
        F.lit(version).alias("model_version"), F.lit(ds).cast("date").alias("trained_on"))


def run(ctx: StageContext) -> StageOutput:
    s = ctx.settings
    spark = ctx.spark
    version = models.version_of(ctx.ds, config(ctx))

    def fit(folder: Path) -> dict:
        pairs = vectors.engagement(edges_as_of(ctx)).persist()
        users = numbered(pairs, "user_id", "user").persist()
        pins = numbered(pairs, "pin_id", "item").persist()
        ratings = pairs.join(users, on="user_id", how="inner").join(pins, on="pin_id", how="inner").select(
            "user", "item", F.col("weight").alias("rating"))
        spark.sparkContext.setCheckpointDir(str((s.lake_root / "_checkpoints" / "als").resolve()))
        als = ALS(rank=s.als_rank, regParam=s.als_reg, alpha=s.als_alpha, maxIter=s.als_iterations,
                  implicitPrefs=True, seed=s.embedding_seed, userCol="user", itemCol="item", ratingCol="rating",
                  nonnegative=False, checkpointInterval=5, coldStartStrategy="drop")
        model = als.fit(ratings)
        ctx.laps("als")
        model.save(str(folder / "als"))
        factors(model.userFactors, users, "user_id", "user", version, ctx.ds).write.parquet(str(folder / "users.parquet"))
        factors(model.itemFactors, pins, "pin_id", "item", version, ctx.ds).write.parquet(str(folder / "pins.parquet"))
        facts = {"pairs": pairs.count(), "users": users.count(), "pins": pins.count()}
        for df in (pairs, users, pins):
            df.unpersist()
        return facts

    model, trained = models.reuse_or_train(s, FAMILY, ctx.ds, config(ctx), fit, inputs=ctx.input_versions)
    ctx.laps("model")
    written = 0
    for table, part in ((catalog.USER_COLLAB_EMBEDDINGS, "users"), (catalog.PIN_COLLAB_EMBEDDINGS, "pins")):
        if vectors.table_model_version(ctx, table) != model.version:
            written += io.overwrite(spark.read.parquet(str(model.path / f"{part}.parquet")), table, s)
    ctx.laps("write")
    return StageOutput(rows_in=int(model.manifest.get("pairs", 0)), rows_out=written,
                       details={"model_version": model.version, "trained": trained})
