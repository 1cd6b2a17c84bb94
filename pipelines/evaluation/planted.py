"""Offline quality of pin recommendations against planted interests.

precision@k: over query pins, the share of their top-k recommendations whose main interest
equals the query pin's main interest. The popularity baseline recommends the k most-saved
pins to everyone: its precision sits near the base rate of an interest.

For users: the share of a user's top-k candidates whose main interest is one of the user's
interests (the categories of the boards they own, which is where the generator plants them).
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def precision_at_k(recs: DataFrame, main_interest: DataFrame, k: int, candidate: str) -> float:
    """recs(pin_id, <candidate>, rank) -> mean share of same-interest candidates in the top k."""
    q = main_interest.select(F.col("pin_id"), F.col("interest").alias("_qi"))
    c = main_interest.select(F.col("pin_id").alias(candidate), F.col("interest").alias("_ci"))
    hits = (
        recs.where(F.col("rank") <= k)
        .join(q, on="pin_id", how="inner")
        .join(c, on=candidate, how="inner")
        .groupBy("pin_id")
        .agg(F.avg((F.col("_qi") == F.col("_ci")).cast("double")).alias("p"))
    )
    value = hits.agg(F.avg("p")).first()[0]
    return float(value) if value is not None else 0.0


def popularity_recs(saved_to: DataFrame, query_pins: DataFrame, k: int) -> DataFrame:
    """The k most-saved pins (other than the query pin) for every query pin."""
    popular = popular_pins(saved_to, k + 1).withColumnRenamed("rank", "_pop_rank")
    w = Window.partitionBy("pin_id").orderBy("_pop_rank")
    return (
        query_pins.select("pin_id").distinct()
        .crossJoin(F.broadcast(popular))
        .where(F.col("pin_id") != F.col("candidate_pin_id"))
        .withColumn("rank", F.row_number().over(w))
        .where(F.col("rank") <= k)
        .select("pin_id", "candidate_pin_id", "rank")
    )


def user_interests(boards: DataFrame) -> DataFrame:
    """(user_id, interest): the categories of the boards a user owns (their planted interests)."""
    return boards.where(F.col("owner_id").isNotNull() & F.col("category").isNotNull()).select(
        F.col("owner_id").alias("user_id"), F.col("category").alias("interest")).distinct()


def user_precision_at_k(recs: DataFrame, interests: DataFrame, main_interest: DataFrame, k: int) -> float:
    """recs(user_id, candidate_pin_id, rank) -> mean share of a user's top k in one of their interests."""
    c = main_interest.select(F.col("pin_id").alias("candidate_pin_id"), "interest")
    mine = interests.select("user_id", "interest", F.lit(1.0).alias("_hit"))
    hits = (
        recs.where(F.col("rank") <= k)
        .join(c, on="candidate_pin_id", how="inner")
        .join(mine, on=["user_id", "interest"], how="left")
        .groupBy("user_id")
        .agg(F.avg(F.coalesce("_hit", F.lit(0.0))).alias("p"))
    )
    value = hits.agg(F.avg("p")).first()[0]
    return float(value) if value is not None else 0.0


def popular_pins(saved_to: DataFrame, k: int) -> DataFrame:
    """(candidate_pin_id, rank): the k most-saved pins."""
    w = Window.orderBy(F.desc("pop"), "candidate_pin_id")
    return (
        saved_to.groupBy(F.col("pin_id").alias("candidate_pin_id")).agg(F.sum("weight").alias("pop"))
        .orderBy(F.desc("pop"), "candidate_pin_id").limit(k)
        .withColumn("rank", F.row_number().over(w)).select("candidate_pin_id", "rank")
    )
