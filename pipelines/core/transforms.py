"""Small transforms every package uses: the top N rows per key, and the first row per key."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F


def top_n(df: DataFrame, key: str | list[str], order: list[Column | str], n: int, rank: str | None = None) -> DataFrame:
    """The first `n` rows of each `key` by `order` (which must break ties, so the result is
    deterministic); with `rank`, their 1-based position is kept in that column."""
    keys = [key] if isinstance(key, str) else key
    position = rank or "_rank"
    ranked = df.withColumn(position, F.row_number().over(Window.partitionBy(*keys).orderBy(*order)))
    kept = ranked.where(F.col(position) <= n)
    return kept if rank else kept.drop(position)


def first_per_key(df: DataFrame, key: str | list[str], order: list[Column | str]) -> DataFrame:
    """The first row of each `key` by `order`."""
    return top_n(df, key, order, 1)
