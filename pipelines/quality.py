"""Offline quality of pin recommendations against planted interests.

precision@k: over query pins, the share of their top-k recommendations whose main interest
equals the query pin's main interest. The popularity baseline recommends the k most-saved
pins to everyone: its precision sits near the base rate of an interest.
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
    popular = (
        saved_to.groupBy("pin_id").agg(F.sum("weight").alias("pop"))
        .orderBy(F.desc("pop"), "pin_id").limit(k + 1)
        .select(F.col("pin_id").alias("candidate_pin_id"), "pop")
    )
    w = Window.partitionBy("pin_id").orderBy(F.desc("pop"), "candidate_pin_id")
    return (
        query_pins.select("pin_id").distinct()
        .crossJoin(F.broadcast(popular))
        .where(F.col("pin_id") != F.col("candidate_pin_id"))
        .withColumn("rank", F.row_number().over(w))
        .where(F.col("rank") <= k)
        .select("pin_id", "candidate_pin_id", "rank")
    )
