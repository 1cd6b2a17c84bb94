"""What the embedding stages share: vectors as Delta arrays of floats, engagement weights, and
the model version a table holds."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.core import catalog, contract
from pipelines.core.stages import StageContext

# user -> pin edges that say the user liked the pin (impressions are not a preference, hides
# are the opposite of one)
POSITIVE_EDGE_TYPES = tuple(t for t in contract.SEEN_EDGE_TYPES if t != contract.HIDE)


def as_floats(values: Column) -> Column:
    """An array of doubles as the tables' vector type (array<float>)."""
    return values.cast(catalog.VECTOR)


def table_model_version(ctx: StageContext, table: catalog.Table) -> str | None:
    """The model version a table's rows came from (None when the table is empty or missing)."""
    row = ctx.read_or_empty(table).select("model_version").limit(1).collect()
    return row[0]["model_version"] if row else None


def engagement(edges: DataFrame) -> DataFrame:
    """(user_id, pin_id, weight): each user's summed positive engagement with each pin (decayed
    edge weights of closeups, clicks, merchant clicks and saves). A pin the user hid is left out
    whatever else they did with it: a hide is never a positive preference."""
    user_pin = edges.where((F.col("src_type") == "user") & (F.col("dst_type") == "pin"))
    hidden = user_pin.where(F.col("edge_type") == contract.HIDE).select("src_id", "dst_id")
    liked = user_pin.where(F.col("edge_type").isin(*POSITIVE_EDGE_TYPES)).join(
        hidden, on=["src_id", "dst_id"], how="left_anti")
    return liked.groupBy(F.col("src_id").alias("user_id"), F.col("dst_id").alias("pin_id")).agg(
        F.sum("weight").alias("weight"), F.max("last_seen").alias("last_seen")).where(F.col("weight") > 0)
