"""Graph stage: the taste graph's typed, weighted, time-decayed edges and its nodes.

Event-derived edges (user->pin engagement by type, pin->board saved_to, user->board follows,
pin->pin co_engaged in a session) are first written per event date to `graph_edge_days`
(partition overwrite of the dates the ingest touched, late events included). Those
contributions are then folded into the running `graph_edges` state with one MERGE that reads
only what changed since the last fold, through Delta's Change Data Feed; the fold records the
`graph_edge_days` version it reached in the commit's metadata. A re-run, or a run after a
crash at any point, folds exactly the changes not yet folded, so the state never counts a
day twice.

Weights: an event of type T on date d contributes type_weight[T] * 0.5 ** ((t - d) / half_life)
at time t. A row stores `weight` as of `weight_date`; its value at any t is
`weight * 0.5 ** ((t - weight_date) / half_life)` (see `weight_as_of`), which equals the
closed form whichever day the row was last updated.

Dimension edges (user->board owns, pin->interest and board->interest annotations) come from
the silver dimensions and are not decayed; each run syncs them with one MERGE that writes only
the rows that changed.

`graph_nodes` is folded the same way from graph_edges' own Change Data Feed (an inserted edge
adds one to the degree of both ends, a deleted one takes one away), so a day's run costs what
the day changed, not what the graph holds.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Mapping

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.core import catalog, contract, io
from pipelines.core.settings import Settings
from pipelines.core.stages import StageContext, StageOutput
from pipelines.core.transforms import top_n
from pipelines.graph.shared import decay, decayed, type_weight

log = logging.getLogger(__name__)

KEY = ("src_type", "src_id", "dst_type", "dst_id", "edge_type")
FOLD_MARK = "graph_edge_days_version"
NODE_FOLD_MARK = "graph_edges_version"


def engagement_type() -> Column:
    """The edge type of an engagement event: a click that went to a merchant is its own type."""
    return F.when(
        (F.col("event_type") == contract.CLICK) & F.coalesce(F.col("is_merchant"), F.lit(False)),
        F.lit(contract.MERCHANT_CLICK),
    ).otherwise(F.col("event_type"))


def _edge_rows(df: DataFrame, src_type: str, src: str, dst_type: str, dst: str, edge_type: Column) -> DataFrame:
    return df.select(
        "event_date",
        F.lit(src_type).alias("src_type"), F.col(src).alias("src_id"),
        F.lit(dst_type).alias("dst_type"), F.col(dst).alias("dst_id"),
        edge_type.alias("edge_type"), "event_time",
    )


def session_pairs(events: DataFrame, session_pin_cap: int) -> DataFrame:
    """Pins engaged (closeup, click, save) in the same session: one row per pair (a < b).

    A session pairs at most `session_pin_cap` pins (a deterministic hash sample), so a bot
    session cannot blow the pair count up quadratically.
    """
    engaged = (
        events.where(F.col("event_type").isin(*contract.COENGAGEMENT_EVENT_TYPES) & F.col("session_id").isNotNull()
                     & F.col("pin_id").isNotNull())
        .groupBy("session_id", "event_date", "pin_id")
        .agg(F.min("event_time").alias("event_time"))
    )
    capped = top_n(engaged, ["session_id", "event_date"], [F.xxhash64("session_id", "pin_id"), "pin_id"],
                   session_pin_cap)
    a, b = capped.alias("a"), capped.alias("b")
    pairs = a.join(
        b,
        on=(F.col("a.session_id") == F.col("b.session_id")) & (F.col("a.event_date") == F.col("b.event_date"))
        & (F.col("a.pin_id") < F.col("b.pin_id")),
        how="inner",
    )
    return pairs.select(
        F.col("a.event_date").alias("event_date"),
        F.col("a.pin_id").alias("pin_a"),
        F.col("b.pin_id").alias("pin_b"),
        F.greatest("a.event_time", "b.event_time").alias("event_time"),
    )


def edge_days(events: DataFrame, session_pin_cap: int) -> DataFrame:
    """Event-derived edges per event date: count and first/last seen."""
    engagement = events.where(F.col("event_type").isin(*contract.PIN_EVENT_TYPES) & F.col("pin_id").isNotNull())
    saves = events.where((F.col("event_type") == contract.SAVE) & F.col("board_id").isNotNull())
    follows = events.where((F.col("event_type") == contract.FOLLOW) & F.col("board_id").isNotNull())
    rows = (
        _edge_rows(engagement, "user", "user_id", "pin", "pin_id", engagement_type())
        .unionByName(_edge_rows(saves, "pin", "pin_id", "board", "board_id", F.lit(contract.SAVED_TO)))
        .unionByName(_edge_rows(follows, "user", "user_id", "board", "board_id", F.lit(contract.FOLLOWS)))
        .unionByName(_edge_rows(session_pairs(events, session_pin_cap), "pin", "pin_a", "pin", "pin_b",
                                F.lit(contract.CO_ENGAGED)))
    )
    return rows.groupBy("event_date", *KEY).agg(
        F.count("*").alias("event_count"),
        F.min("event_time").alias("first_seen"),
        F.max("event_time").alias("last_seen"),
    )


def net_changes(changes: DataFrame) -> DataFrame:
    """Change Data Feed rows of graph_edge_days -> net count change per (edge, event date).

    A partition rewritten with the same rows nets to zero and drops out, which is what makes
    re-running a day a no-op for the edge state.
    """
    sign = (
        F.when(F.col("_change_type").isin("insert", "update_postimage"), F.lit(1))
        .when(F.col("_change_type").isin("delete", "update_preimage"), F.lit(-1))
    )
    signed = changes.withColumn("_sign", sign).where(F.col("_sign").isNotNull())
    return (
        signed.groupBy("event_date", *KEY)
        .agg(
            F.sum(F.col("_sign") * F.col("event_count")).alias("net_count"),
            F.min(F.when(F.col("_sign") > 0, F.col("first_seen"))).alias("first_seen"),
            F.max(F.when(F.col("_sign") > 0, F.col("last_seen"))).alias("last_seen"),
        )
        .where(F.col("net_count") != 0)
    )


def edge_deltas(net: DataFrame, as_of: dt.date, weights: Mapping[str, float], half_life_days: float) -> DataFrame:
    """Per edge: the count change and the weight change decayed to `as_of`."""
    contribution = (
        F.col("net_count") * type_weight(F.col("edge_type"), weights)
        * decay(F.datediff(F.lit(as_of), F.col("event_date")), half_life_days)
    )
    return net.groupBy(*KEY).agg(
        F.sum("net_count").alias("event_count"),
        F.sum(contribution).alias("weight"),
        F.lit(as_of).alias("weight_date"),
        F.min("first_seen").alias("first_seen"),
        F.max("last_seen").alias("last_seen"),
    )


def dimension_edges(pins: DataFrame, boards: DataFrame) -> DataFrame:
    """user->board owns, pin->interest (annotation score) and board->interest (category) edges."""
    owns = boards.where(F.col("owner_id").isNotNull()).select(
        F.lit("user").alias("src_type"), F.col("owner_id").alias("src_id"),
        F.lit("board").alias("dst_type"), F.col("board_id").alias("dst_id"),
        F.lit(contract.OWNS).alias("edge_type"), F.lit(1.0).alias("weight"), "first_seen", "last_seen",
    )
    annotations = pins.select("pin_id", "first_seen", "last_seen", F.explode("interests").alias("a")).select(
        F.lit("pin").alias("src_type"), F.col("pin_id").alias("src_id"),
        F.lit("interest").alias("dst_type"), F.col("a.interest").alias("dst_id"),
        F.lit(contract.PIN_INTEREST).alias("edge_type"), F.col("a.score").alias("weight"), "first_seen", "last_seen",
    )
    categories = boards.where(F.col("category").isNotNull()).select(
        F.lit("board").alias("src_type"), F.col("board_id").alias("src_id"),
        F.lit("interest").alias("dst_type"), F.col("category").alias("dst_id"),
        F.lit(contract.BOARD_INTEREST).alias("edge_type"), F.lit(1.0).alias("weight"), "first_seen", "last_seen",
    )
    return owns.unionByName(annotations).unionByName(categories).select(
        *KEY, F.lit(0).cast("long").alias("event_count"), "weight",
        F.to_date(F.coalesce("last_seen", "first_seen")).alias("weight_date"), "first_seen", "last_seen",
    ).where(F.col("dst_id").isNotNull() & F.col("weight_date").isNotNull())


def _ends(edges: DataFrame, *columns: str) -> DataFrame:
    """Both ends of every edge as (node_type, node_id, *columns)."""
    return edges.select(F.col("src_type").alias("node_type"), F.col("src_id").alias("node_id"), *columns).unionByName(
        edges.select(F.col("dst_type").alias("node_type"), F.col("dst_id").alias("node_id"), *columns))


def node_changes(changes: DataFrame) -> DataFrame:
    """Change Data Feed rows of graph_edges -> per node: the degree change (edges inserted minus
    edges deleted), the first/last seen of its inserted or updated edges, and whether it lost an
    edge (its first/last seen may then shrink, so it must be recomputed: `reset`)."""
    kind = F.col("_change_type")
    now = kind.isin("insert", "update_postimage")
    rows = changes.select(
        *KEY, F.when(kind == "insert", 1).when(kind == "delete", -1).otherwise(0).alias("_sign"),
        F.when(now, F.col("first_seen")).alias("first_seen"), F.when(now, F.col("last_seen")).alias("last_seen"))
    return _ends(rows, "_sign", "first_seen", "last_seen").groupBy("node_type", "node_id").agg(
        F.sum("_sign").cast("long").alias("degree"), F.min("first_seen").alias("first_seen"),
        F.max("last_seen").alias("last_seen"), F.max(F.col("_sign") < 0).alias("reset"))


def nodes_of(edges: DataFrame, only: DataFrame | None = None) -> DataFrame:
    """Nodes from scratch (all, or `only` those keys): degree (incident edges), first/last seen."""
    ends = _ends(edges, "first_seen", "last_seen")
    if only is not None:
        ends = ends.join(only, on=["node_type", "node_id"], how="left_semi")
    return ends.groupBy("node_type", "node_id").agg(
        F.count("*").alias("degree"), F.min("first_seen").alias("first_seen"), F.max("last_seen").alias("last_seen"))


def fold_nodes(spark: SparkSession, settings: Settings) -> None:
    """Fold the graph_edges changes not yet folded into graph_nodes (one MERGE over the CDF).

    The first fold builds the nodes from the edge table. Afterwards, nodes only gaining or
    updating edges get degree += change and widened first/last seen;
    nodes that lost an edge (rare: retracted events, removed boards) are recomputed from the
    edge table at the folded version and replaced. The graph_edges version reached is kept in
    the commit's metadata, as for the edge fold.
    """
    current = io.table_version(spark, catalog.GRAPH_EDGES, settings)
    folded = io.last_commit_metadata(spark, catalog.GRAPH_NODES, settings, NODE_FOLD_MARK)
    if current is None or (folded is not None and int(folded) >= current):
        return
    if folded is None:  # first fold (or a lake from before node folding): build from the edges
        with io.commit_metadata(spark, {NODE_FOLD_MARK: current}):
            io.overwrite(nodes_of(io.read_table(spark, catalog.GRAPH_EDGES, settings, version=current)),
                         catalog.GRAPH_NODES, settings)
        return
    start = int(folded) + 1
    changes = node_changes(io.read_changes(spark, catalog.GRAPH_EDGES, settings, start, current)).persist()
    lost = changes.where("reset").select("node_type", "node_id")
    if not lost.isEmpty():
        edges = io.read_table(spark, catalog.GRAPH_EDGES, settings, version=current)
        exact = lost.join(nodes_of(edges, only=lost), on=["node_type", "node_id"], how="left").fillna(
            {"degree": 0}).withColumn("reset", F.lit(True))
        changes = changes.where(~F.col("reset")).unionByName(exact)
    t, src = (lambda c: F.col(f"t.{c}")), (lambda c: F.col(f"s.{c}"))
    reset = src("reset")
    degree = F.when(reset, src("degree")).otherwise(t("degree") + src("degree"))
    with io.commit_metadata(spark, {NODE_FOLD_MARK: current}):
        io.merge(changes, catalog.GRAPH_NODES, settings, {
            "degree": degree,
            "first_seen": F.when(reset, src("first_seen")).otherwise(F.least(t("first_seen"), src("first_seen"))),
            "last_seen": F.when(reset, src("last_seen")).otherwise(F.greatest(t("last_seen"), src("last_seen"))),
        }, delete_when=degree <= 0,
            update_when=reset | (src("degree") != 0) | (src("first_seen") < t("first_seen"))
            | (src("last_seen") > t("last_seen")),
            insert_when=src("degree") > 0, extra_columns=("reset",))
    changes.unpersist()


def _in_types(types) -> str:
    return "t.edge_type IN (" + ", ".join(f"'{t}'" for t in types) + ")"


def fold(spark: SparkSession, settings: Settings, as_of: str) -> int:
    """Fold every graph_edge_days change not yet folded into graph_edges (one MERGE). Returns edges changed.

    A row's weight stated at t.weight_date and the change's at s.weight_date are both decayed
    to the later date and added (the same `decayed` as weight_as_of)."""
    current = io.table_version(spark, catalog.GRAPH_EDGE_DAYS, settings)
    folded = io.last_commit_metadata(spark, catalog.GRAPH_EDGES, settings, FOLD_MARK)
    start = 0 if folded is None else int(folded) + 1
    if current is None or start > current:
        return 0
    net = net_changes(io.read_changes(spark, catalog.GRAPH_EDGE_DAYS, settings, start, current)).persist()
    latest = net.agg(F.max("event_date").alias("d")).first()["d"]
    fold_date = max(dt.date.fromisoformat(as_of), latest) if latest else dt.date.fromisoformat(as_of)
    h = settings.decay_half_life_days
    deltas = edge_deltas(net, fold_date, settings.edge_type_weights, h).persist()
    types = sorted(r["edge_type"] for r in deltas.select("edge_type").distinct().collect())
    changed = deltas.count()
    t, src = (lambda c: F.col(f"t.{c}")), (lambda c: F.col(f"s.{c}"))
    new_date = F.greatest(t("weight_date"), src("weight_date"))
    with io.commit_metadata(spark, {FOLD_MARK: current}):
        io.merge(deltas, catalog.GRAPH_EDGES, settings, {
            "event_count": t("event_count") + src("event_count"),
            "weight": decayed(t("weight"), t("weight_date"), new_date, h)
            + decayed(src("weight"), src("weight_date"), new_date, h),
            "weight_date": new_date,
            "first_seen": F.least(t("first_seen"), src("first_seen")),
            "last_seen": F.greatest(t("last_seen"), src("last_seen")),
        }, delete_when=t("event_count") + src("event_count") <= 0,
            prune=_in_types(types or contract.EVENT_EDGE_TYPES))
    net.unpersist()
    deltas.unpersist()
    return changed


def run(ctx: StageContext) -> StageOutput:
    """Recompute the touched dates' edge contributions, fold them into the state, then the nodes.

    With `through` (a range run), the touched dates of every ingested day from ds to through
    are processed at once: one run for a range of days gives the same edges as one run per day.
    """
    spark, settings = ctx.spark, ctx.settings
    dates = ctx.touched_dates()
    events = ctx.read(catalog.SILVER_EVENTS).where(F.col("event_date").isin(*[dt.date.fromisoformat(d) for d in dates]))
    in_dates = ", ".join(f"DATE'{d}'" for d in dates)
    io.overwrite_where(edge_days(events, settings.session_pin_cap), catalog.GRAPH_EDGE_DAYS, settings,
                       f"event_date IN ({in_dates})",
                       by_partition=ctx.many_dates(dates))
    log.info("graph %s: recomputed edge contributions of %s", ctx.ds,
             dates if len(dates) <= 5 else f"{len(dates)} event dates, {dates[0]} to {dates[-1]}")
    ctx.laps("edge_days")
    changed = fold(spark, settings, ctx.through or ctx.ds)
    ctx.laps("fold_edges")
    fold_mark = io.last_commit_metadata(spark, catalog.GRAPH_EDGES, settings, FOLD_MARK)
    dimensions = dimension_edges(ctx.read_or_empty(catalog.SILVER_PINS), ctx.read_or_empty(catalog.SILVER_BOARDS))
    with io.commit_metadata(spark, {FOLD_MARK: fold_mark}):
        io.sync_rows(dimensions, catalog.GRAPH_EDGES, settings, "edge_type", contract.DIMENSION_EDGE_TYPES)
    ctx.laps("sync_dimension_edges")
    fold_nodes(spark, settings)
    ctx.laps("fold_nodes")
    return StageOutput(
        rows_in=events.count(),
        rows_out=ctx.read(catalog.GRAPH_EDGES).count(),  # answered from the Delta log's statistics
        details={"recomputed_dates": dates, "edges_changed": changed},
    )
