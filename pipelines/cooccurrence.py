"""Pin-pin co-occurrence: the pruned pin-board graph and each pin's top-K neighbours.

Pruning (as in Pixie):
- boards whose pins' main interests are too diverse (entropy above a setting, in bits) go;
- a pin's weak board links go: those to boards where the pin's main interest has a share
  below `pin_board_min_share` (the pin is off-topic there), and beyond its `pin_board_keep`
  strongest links;
- a board pairs up at most `board_pin_cap` pins, a deterministic hash sample, so the cost is
  the sum over boards of min(degree, cap)^2 instead of degree^2.

Normalisation: cosine. co-save(a, b) = |boards(a) & boards(b)| / sqrt(|boards(a)| * |boards(b)|)
and the same for session co-engagement weights. Cosine discounts popular pins (a pin on every
board co-occurs with everything) and, unlike PMI, stays bounded in [0, 1] and stable for pins
seen on only one or two boards, where PMI explodes.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipelines import catalog, graph, io
from pipelines.runs import StageResult, versions
from pipelines.settings import Settings


def pin_main_interest(pins: DataFrame) -> DataFrame:
    """Each pin's highest-scored interest annotation."""
    ranked = pins.select("pin_id", F.explode("interests").alias("a")).select(
        "pin_id", F.col("a.interest").alias("interest"), F.col("a.score").alias("score"))
    w = Window.partitionBy("pin_id").orderBy(F.desc("score"), "interest")
    return ranked.withColumn("_n", F.row_number().over(w)).where(F.col("_n") == 1).select("pin_id", "interest")


def _labelled(saved_to: DataFrame, main_interest: DataFrame) -> DataFrame:
    """Pin-board links with the pin's main interest (`_unknown` when it has none)."""
    return saved_to.join(main_interest, on="pin_id", how="left").fillna({"interest": "_unknown"})


def _interest_shares(labelled: DataFrame) -> DataFrame:
    """(board_id, interest, share, total): the share of a board's pins with each main interest."""
    per_interest = labelled.groupBy("board_id", "interest").agg(F.count("*").alias("n"))
    totals = per_interest.groupBy("board_id").agg(F.sum("n").alias("total"))
    return per_interest.join(totals, on="board_id", how="inner").select(
        "board_id", "interest", (F.col("n") / F.col("total")).alias("share"), "total")


def _entropy(shares: DataFrame) -> DataFrame:
    """(board_id, entropy in bits, pins) from interest shares."""
    return shares.groupBy("board_id").agg(
        (-F.sum(F.col("share") * F.log2("share"))).alias("entropy"), F.first("total").alias("pins"))


def board_entropy(saved_to: DataFrame, main_interest: DataFrame) -> DataFrame:
    """Per board: the entropy (bits) of its pins' main interests, and its pin count."""
    return _entropy(_interest_shares(_labelled(saved_to, main_interest)))


def pruned_pin_boards(
    saved_to: DataFrame,
    main_interest: DataFrame,
    entropy_max: float,
    pin_board_keep: int,
    board_pin_cap: int,
    pin_board_min_share: float = 0.0,
) -> DataFrame:
    """(pin_id, board_id, weight) links that survive pruning."""
    labelled = _labelled(saved_to, main_interest)
    shares = _interest_shares(labelled)
    focused = _entropy(shares).where(F.col("entropy") <= entropy_max).select("board_id")
    on_topic = (
        labelled.join(focused, on="board_id", how="left_semi")
        .join(shares.select("board_id", "interest", "share"), on=["board_id", "interest"], how="inner")
        .where(F.col("share") >= pin_board_min_share)
    )
    strongest = Window.partitionBy("pin_id").orderBy(F.desc("share"), F.desc("weight"), "board_id")
    kept = on_topic.withColumn("_n", F.row_number().over(strongest)).where(F.col("_n") <= pin_board_keep).drop("_n")
    sample = Window.partitionBy("board_id").orderBy(F.xxhash64("board_id", "pin_id"), "pin_id")
    return kept.withColumn("_n", F.row_number().over(sample)).where(F.col("_n") <= board_pin_cap).select(
        "pin_id", "board_id", "weight")


def _cosine(pairs: DataFrame, norms: DataFrame, value: str) -> DataFrame:
    """pairs(pin_id, other_pin_id, value) / sqrt(norm(pin) * norm(other))."""
    a = norms.select(F.col("pin_id"), F.col("norm").alias("_na"))
    b = norms.select(F.col("pin_id").alias("other_pin_id"), F.col("norm").alias("_nb"))
    return (
        pairs.join(a, on="pin_id", how="inner").join(b, on="other_pin_id", how="inner")
        .select("pin_id", "other_pin_id", (F.col(value) / F.sqrt(F.col("_na") * F.col("_nb"))).alias(value))
    )


def cosave_scores(pruned: DataFrame) -> DataFrame:
    """Cosine of the pins' (pruned) board sets, both directions."""
    a, b = pruned.alias("a"), pruned.alias("b")
    common = (
        a.join(b, on=(F.col("a.board_id") == F.col("b.board_id")) & (F.col("a.pin_id") != F.col("b.pin_id")),
               how="inner")
        .groupBy(F.col("a.pin_id").alias("pin_id"), F.col("b.pin_id").alias("other_pin_id"))
        .agg(F.count("*").cast("double").alias("cosave"))
    )
    norms = pruned.groupBy("pin_id").agg(F.count("*").cast("double").alias("norm"))
    return _cosine(common, norms, "cosave")


def coengaged_scores(coengaged: DataFrame) -> DataFrame:
    """Cosine-normalised session co-engagement weights, both directions."""
    both = coengaged.select(F.col("src_id").alias("pin_id"), F.col("dst_id").alias("other_pin_id"), "weight").unionByName(
        coengaged.select(F.col("dst_id").alias("pin_id"), F.col("src_id").alias("other_pin_id"), "weight"))
    positive = both.where(F.col("weight") > 0)
    norms = positive.groupBy("pin_id").agg(F.sum("weight").alias("norm"))
    return _cosine(positive.withColumnRenamed("weight", "coengaged"), norms, "coengaged")


def pin_pin_edges(cosave: DataFrame, coengaged: DataFrame, coengaged_weight: float, top_k: int) -> DataFrame:
    """Blend the two cosine scores and keep each pin's top K (ties broken by pin id)."""
    blended = (
        cosave.join(coengaged, on=["pin_id", "other_pin_id"], how="full_outer")
        .fillna({"cosave": 0.0, "coengaged": 0.0})
        .withColumn("score", (1 - coengaged_weight) * F.col("cosave") + coengaged_weight * F.col("coengaged"))
    )
    w = Window.partitionBy("pin_id").orderBy(F.desc("score"), "other_pin_id")
    return (
        blended.withColumn("rank", F.row_number().over(w))
        .where(F.col("rank") <= top_k)
        .select("pin_id", "other_pin_id", "rank", "score", "cosave", "coengaged")
    )


def saved_to_links(edges: DataFrame) -> DataFrame:
    return edges.where(F.col("edge_type") == "saved_to").select(
        F.col("src_id").alias("pin_id"), F.col("dst_id").alias("board_id"), "weight")


def edges_as_of(spark: SparkSession, settings: Settings, ds: str) -> DataFrame:
    """graph_edges with weights decayed to ds."""
    return graph.weight_as_of(io.read_table(spark, catalog.GRAPH_EDGES, settings), ds, settings.decay_half_life_days)


def pruned_graph(spark: SparkSession, settings: Settings, edges: DataFrame) -> DataFrame:
    """The pruned pin-board graph from (decayed) graph edges and silver pins."""
    main = pin_main_interest(io.read_table(spark, catalog.SILVER_PINS, settings))
    return pruned_pin_boards(saved_to_links(edges), main, settings.board_entropy_max, settings.pin_board_keep,
                             settings.board_pin_cap, settings.pin_board_min_share)


def run(spark: SparkSession, ds: str, settings: Settings) -> StageResult:
    inputs = versions(spark, settings, catalog.GRAPH_EDGES, catalog.SILVER_PINS)
    edges = edges_as_of(spark, settings, ds)
    pruned = pruned_graph(spark, settings, edges).persist()
    coengaged = edges.where(F.col("edge_type") == "co_engaged")
    result = pin_pin_edges(cosave_scores(pruned), coengaged_scores(coengaged), settings.coengaged_weight,
                           settings.pin_pin_top_k)
    io.overwrite(result, catalog.PIN_PIN_EDGES, settings)
    cost = pruned.groupBy("board_id").agg(F.count("*").alias("d")).agg(F.sum(F.col("d") * F.col("d"))).first()[0]
    rows_in = pruned.count()
    pruned.unpersist()
    return StageResult(
        stage="pin_pin", ds=ds, rows_in=rows_in,
        rows_out=io.read_table(spark, catalog.PIN_PIN_EDGES, settings).count(),
        input_versions=inputs, output_versions=versions(spark, settings, catalog.PIN_PIN_EDGES),
        outputs={catalog.PIN_PIN_EDGES.name: catalog.PIN_PIN_EDGES.path(settings)},
        details={"pair_cost_sum_min_degree_cap_squared": int(cost or 0)},
    )
