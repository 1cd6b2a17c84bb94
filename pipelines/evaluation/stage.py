"""Offline evaluation on held-out behaviour (stage evaluate, table eval_results_v1).

For each protocol (A: leave the last interaction out, ranked among 100 sampled candidates; B:
full ranking, with cold pins and each user's latest interactions held out; see `splits`), two
splits are cut the same way: the test split from all interactions up to ds, and the validation
split from the test split's training part. For each split the stage builds a training lake:
silver without the held-out events, in a folder of its own under `<lake>/_eval/`, where the
platform's own stages (graph, Pixie, embeddings, PinnerSage) run through the stage runner
exactly as in the daily flow. So every method is trained only on its split's training part,
and the taste-graph methods are the production code, not a re-implementation.

Each method's scoring knob is chosen on the validation split (`methods.grid`) and applied
once to the test split. Every method ranks the same candidates. Results, with a bootstrap 95%
interval over users, go to eval_results_v1 for the day (replacing an earlier evaluation of
the same day); the training lakes are removed afterwards (the lineage names the input
versions and seeds they can be rebuilt from, and the model versions they held).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.core import catalog, io, scratch
from pipelines.core.runs import records_in_background
from pipelines.core.settings import Settings
from pipelines.core.stages import StageContext, StageOutput, run_stage
from pipelines.embeddings import vectors
from pipelines.evaluation import methods as m
from pipelines.evaluation import metrics, splits
from pipelines.graph.shared import weight_as_of

log = logging.getLogger(__name__)
progress = logging.getLogger("tastegraph.progress")  # the lines a person sees on the console

PROTOCOL_A, PROTOCOL_B = "A_sampled_100", "B_full_ranking"
TRAINING_STAGES = ("graph", "related_pins", "user_candidates", "graph_embeddings", "collaborative_embeddings",
                   "content_embeddings", "pin_embeddings", "user_interests")
# The stages whose seconds a method's training costs (the graph is shared by several).
METHOD_STAGES = {
    "popularity": (), "itemknn": (), "content": ("content_embeddings",), "als": ("collaborative_embeddings",),
    "pixie": ("graph", "related_pins", "user_candidates"), "walk": ("graph",), "graph": ("graph", "graph_embeddings"),
    "fused": ("graph", "graph_embeddings", "content_embeddings", "pin_embeddings"),
    "aligned": ("graph", "graph_embeddings", "content_embeddings"),
    "pinnersage": ("graph", "graph_embeddings", "content_embeddings", "pin_embeddings", "user_interests"),
}
MODEL_TABLES = (catalog.GRAPH_EDGES, catalog.USER_CANDIDATES, catalog.PIN_GRAPH_EMBEDDINGS, catalog.USER_COLLAB_EMBEDDINGS,
                catalog.PIN_COLLAB_EMBEDDINGS, catalog.PIN_CONTENT_EMBEDDINGS, catalog.PIN_EMBEDDINGS,
                catalog.USER_INTEREST_EMBEDDINGS)
FULL_KS, SAMPLED_KS, TOP = (5, 10, 20, 50), (1, 5, 10, 20), 50
PRIMARY = {PROTOCOL_A: "ndcg@10", PROTOCOL_B: "ndcg@20"}  # what the validation split selects on
BLOCK = 256  # users scored at a time
PROGRESS_EVERY = 30.0  # seconds of quiet before a training lake reports the stage it finished


@dataclass
class Split:
    """One split, collected: training pins per user, held-out pins per user, cold pins."""

    protocol: str
    name: str  # test or validation
    split_id: str
    data: m.Data
    held_out: list[set[int]]
    merchant: list[set[int]]
    cold: np.ndarray  # catalogue indices of the cold pins (protocol B)
    touched: list[set[int]]  # every pin each user ever had an event with (never a sampled negative)


def _vectors(df: DataFrame, key: str, column: str) -> dict[str, np.ndarray]:
    return {r[key]: np.asarray(r[column], dtype=np.float32) for r in df.where(F.col(column).isNotNull())
            .select(key, column).collect()}


def cut(protocol: str, pairs: DataFrame, s: Settings, seed: int) -> tuple[DataFrame, DataFrame]:
    """(held-out pairs, cold pins) of a protocol."""
    if protocol == PROTOCOL_A:
        return splits.last_interactions(pairs), pairs.sparkSession.createDataFrame([], "pin_id string")
    cold = splits.cold_pins(pairs, s.eval_cold_share, seed)
    return splits.share_holdout(pairs, cold, s.eval_test_share, s.eval_holdout, seed), cold


def training_lake(ctx: StageContext, root, events: DataFrame, pins: DataFrame, boards: DataFrame,
                  label: str = "training lake") -> tuple[Settings, dict]:
    """Write a split's training silver into its own lake and run the training stages there;
    (the lake's settings, seconds per stage). Over a long history one training lake takes
    minutes, so a stage's end is a progress line (`label` says which split) when the console has
    been quiet for `PROGRESS_EVERY` seconds; a small lake prints none."""
    from pipelines.registry import stage as declared  # the runner, not the stages' modules

    sub = ctx.settings.replace(lake_root=root)
    dates = events.groupBy("event_date").agg(F.count("*").alias("events"))
    seeded = {catalog.SILVER_EVENTS: events, catalog.SILVER_PINS: pins, catalog.SILVER_BOARDS: boards,
              catalog.TOUCHED_DATES: dates.select(F.lit(ctx.ds).cast("date").alias("ds"), "event_date", "events")}
    with io.reads_of("evaluate (training lake)", {}, {t.name for t in seeded}):
        for table, frame in seeded.items():
            io.overwrite(frame, table, sub)
    seconds = {}
    with records_in_background():  # written before the training lake is removed
        quiet_since = time.monotonic()
        for n, name in enumerate(TRAINING_STAGES, 1):
            seconds[name] = round(run_stage(declared(name), ctx.ds, sub, ctx.spark).seconds, 2)
            if time.monotonic() - quiet_since >= PROGRESS_EVERY:
                progress.info("evaluate %s: %s: %s trained in %.0fs (%d of %d stages)", ctx.ds, label, name,
                              seconds[name], n, len(TRAINING_STAGES))
                quiet_since = time.monotonic()
    return sub, seconds


def scorers(ctx: StageContext, sub: Settings, data: m.Data) -> tuple[dict[str, m.Scorer], dict]:
    """Every method's scorer from a training lake, and the versions of the models it read."""
    with io.reads_of("evaluate", {t.name: None for t in MODEL_TABLES}, set()):
        read = lambda t: io.read_table(ctx.spark, t, sub)  # noqa: E731
        fused = _vectors(read(catalog.PIN_EMBEDDINGS), "pin_id", "embedding")
        clusters: dict[str, list] = {}
        for r in read(catalog.USER_INTEREST_EMBEDDINGS).orderBy("user_id", "cluster").collect():
            clusters.setdefault(r["user_id"], []).append((np.asarray(r["embedding"], dtype=np.float32), r["importance"]))
        pixie: dict[str, list] = {}
        for r in read(catalog.USER_CANDIDATES).select("user_id", "candidate_pin_id", "score").collect():
            pixie.setdefault(r["user_id"], []).append((r["candidate_pin_id"], float(r["score"])))
        content = read(catalog.PIN_CONTENT_EMBEDDINGS)
        seen = F.coalesce(F.col("last_seen").cast("double"), F.lit(0.0)).alias("seen")  # epoch seconds
        engaged = [(r["user_id"], r["pin_id"], float(r["weight"]), r["seen"]) for r in vectors.engagement(
            weight_as_of(read(catalog.GRAPH_EDGES), ctx.ds, sub.decay_half_life_days)).select(
            "user_id", "pin_id", "weight", seen).collect()]
        found = {
            "popularity": m.popularity(data),
            "content": m.profile(data, _vectors(content, "pin_id", "content_embedding")),
            "als": m.factors(data, _vectors(read(catalog.USER_COLLAB_EMBEDDINGS), "user_id", "embedding"),
                             _vectors(read(catalog.PIN_COLLAB_EMBEDDINGS), "pin_id", "embedding")),
            "itemknn": m.itemknn(data),
            "pixie": m.candidates(data, pixie),
            "walk": m.walk(data, engaged),
            "graph": m.profile(data, _vectors(read(catalog.PIN_GRAPH_EMBEDDINGS), "pin_id", "embedding")),
            "fused": m.profile(data, fused),
            "aligned": m.profile(data, _vectors(content, "pin_id", "aligned_embedding")),
            "pinnersage": m.interests(data, fused, clusters, sub.embedding_dim),
        }
        models = {t.name: io.table_version(ctx.spark, t, sub) for t in MODEL_TABLES}
        for t, column in ((catalog.PIN_GRAPH_EMBEDDINGS, "model_version"), (catalog.PIN_COLLAB_EMBEDDINGS, "model_version"),
                          (catalog.PIN_CONTENT_EMBEDDINGS, "encoder_version"),
                          (catalog.PIN_CONTENT_EMBEDDINGS, "aligner_version")):
            first = read(t).select(column).distinct().orderBy(column).limit(1).collect()
            models[f"{t.name}.{column}"] = first[0][0] if first else None
    return found, models


def collect(protocol: str, name: str, split_id: str, items: list[str], train: DataFrame, held: DataFrame,
            cold: DataFrame, touched: DataFrame) -> Split:
    """A split in the driver: users are those with both training and held-out interactions."""
    index = {p: i for i, p in enumerate(items)}
    trained: dict[str, list] = {}
    for r in train.orderBy("user_id", "interaction_time", "pin_id").select("user_id", "pin_id").collect():
        trained.setdefault(r["user_id"], []).append(index[r["pin_id"]])
    held_by: dict[str, set] = {}
    merchant_by: dict[str, set] = {}
    for r in held.select("user_id", "pin_id", "merchant_click").collect():
        held_by.setdefault(r["user_id"], set()).add(index[r["pin_id"]])
        if r["merchant_click"]:
            merchant_by.setdefault(r["user_id"], set()).add(index[r["pin_id"]])
    users = sorted(u for u in held_by if u in trained)
    touched_by: dict[str, set] = {u: set() for u in users}
    for r in touched.join(F.broadcast(train.sparkSession.createDataFrame([(u,) for u in users] or [("",)], "user_id string")),
                          on="user_id", how="inner").collect():
        touched_by[r["user_id"]].add(index[r["pin_id"]])
    data = m.Data(items, users, [np.asarray(trained[u], dtype=np.int64) for u in users],
                  [np.asarray(pins, dtype=np.int64) for u, pins in sorted(trained.items()) if u not in held_by])
    return Split(protocol, name, split_id, data, [held_by[u] for u in users], [merchant_by.get(u, set()) for u in users],
                 np.asarray(sorted(index[r["pin_id"]] for r in cold.collect()), dtype=np.int64),
                 [touched_by[u] for u in users])


def negatives(split: Split, n: int, seed: int) -> np.ndarray:
    """(users x n) sampled negatives per user: pins the user never had an event with, seeded;
    the same for every method."""
    rng = np.random.default_rng(seed)
    n_items = len(split.data.items)
    out = np.full((len(split.data.users), n), -1, dtype=np.int64)
    for u, seen in enumerate(split.touched):
        pool_size = n_items - len(seen | split.held_out[u])
        want = min(n, pool_size)
        chosen: list[int] = []
        taken = set(seen) | split.held_out[u]
        while len(chosen) < want:
            for item in rng.integers(0, n_items, size=2 * n):
                if item not in taken:
                    taken.add(int(item))
                    chosen.append(int(item))
                    if len(chosen) == want:
                        break
        out[u, :want] = chosen
    return out


def user_slices(split: Split) -> dict[str, np.ndarray]:
    """Boolean masks over users: all, light (training interactions at most the median), heavy."""
    counts = np.array([len(t) for t in split.data.train])
    median = np.median(counts) if counts.size else 0
    return {"all": np.ones(counts.size, dtype=bool), "light_users": counts <= median, "heavy_users": counts > median}


def evaluate_method(split: Split, score, params: dict, tie: np.ndarray, negs: np.ndarray | None) -> dict:
    """Per-user metrics of one method on one split, by slice; plus coverage and popularity."""
    n_users, n_items = len(split.data.users), len(split.data.items)
    per_user: dict[str, dict[str, np.ndarray]] = {}
    scored_users = 0
    recommended: list[np.ndarray] = []
    cold_pos = {int(i): j for j, i in enumerate(split.cold)}
    cold_set = set(cold_pos)
    blocks: list[dict[str, dict[str, np.ndarray]]] = []
    for start in range(0, n_users, BLOCK):
        rows = np.arange(start, min(start + BLOCK, n_users))
        scores = score(rows, params)
        scored_users += int((scores > metrics.UNSCORED).any(axis=1).sum())
        out: dict[str, dict[str, np.ndarray]] = {}
        if split.protocol == PROTOCOL_B:
            for r, u in enumerate(rows):
                scores[r, split.data.train[u]] = metrics.EXCLUDED
            top = metrics.top_k(scores, tie, TOP)
            top = np.where(np.take_along_axis(scores, top, axis=1) > metrics.UNSCORED, top, -1)
            recommended.append(top[:, :20])
            out["all"] = metrics.full_ranking(top, [split.held_out[u] for u in rows], FULL_KS)
            out["warm_items"] = metrics.full_ranking(top, [split.held_out[u] - cold_set for u in rows], FULL_KS)
            out["merchant_clicks"] = metrics.full_ranking(top, [split.merchant[u] for u in rows], FULL_KS)
            if split.cold.size:
                cold_scores = scores[:, split.cold]
                cold_top = metrics.top_k(cold_scores, tie[split.cold], min(TOP, split.cold.size))
                cold_top = np.where(np.take_along_axis(cold_scores, cold_top, axis=1) > metrics.UNSCORED, cold_top, -1)
                held = [{cold_pos[i] for i in split.held_out[u] if i in cold_pos} for u in rows]
                out["cold_items"] = metrics.full_ranking(cold_top, held, FULL_KS)
        else:
            pos = np.array([next(iter(split.held_out[u])) for u in rows])
            neg = negs[rows]
            pos_score = scores[np.arange(len(rows)), pos]
            neg_score = np.where(neg >= 0, np.take_along_axis(scores, np.maximum(neg, 0), axis=1), metrics.EXCLUDED)
            ranks = metrics.sampled_rank(pos_score, neg_score, tie[pos], np.where(neg >= 0, tie[np.maximum(neg, 0)], n_items))
            out["all"] = metrics.sampled_metrics(ranks, SAMPLED_KS)
        blocks.append(out)
    for slice_name in blocks[0] if blocks else ():
        per_user[slice_name] = {k: np.concatenate([b[slice_name][k] for b in blocks]) for k in blocks[0][slice_name]}
    if not blocks:  # no user to test: every metric without a value
        names = [f"{x}@{k}" for x in (("recall", "ndcg") if split.protocol == PROTOCOL_B else ("hr", "ndcg"))
                 for k in (FULL_KS if split.protocol == PROTOCOL_B else SAMPLED_KS)]
        per_user["all"] = {name: np.array([]) for name in names}
    top20 = np.concatenate(recommended) if recommended else np.empty((0, 20), dtype=np.int64)
    shown = top20[top20 >= 0]
    extra = {"scored_users": scored_users, "users": n_users}
    if split.protocol == PROTOCOL_B:
        extra["coverage@20"] = float(np.unique(shown).size / n_items) if n_items and n_users else None
        extra["mean_popularity@20"] = float(split.data.popularity[shown].mean()) if shown.size else None
    return {"per_user": per_user, **extra}


def _rows_of(split: Split, method: str, result: dict, params: dict, s: Settings, common: dict) -> list[dict]:
    """eval_results rows of one method on one split (the validation split: the overall slice,
    which chooses the knobs, and the cold items, so that a cold-start model can be chosen
    without looking at the test split)."""
    masks = user_slices(split)
    rows = []
    note = None
    if result["users"] == 0:
        note = "no test interactions: no user has both training and held-out interactions"
    elif result["scored_users"] == 0:
        note = "the method produced no candidates for any user"
    elif result["scored_users"] < result["users"]:
        note = f"no candidates for {result['users'] - result['scored_users']} of {result['users']} users"
    for slice_name, values in result["per_user"].items():
        slices = [(slice_name, None)]
        if slice_name == "all":
            slices += [(name, mask) for name, mask in masks.items() if name != "all"]
        for shown, mask in slices:
            if split.name == "validation" and shown not in ("all", "cold_items"):
                continue
            for metric_k, vals in values.items():
                metric, k = metric_k.split("@")
                picked = vals if mask is None else vals[mask]
                value, lo, hi, users = metrics.mean_and_interval(picked, s.eval_bootstrap, s.eval_seed)
                rows.append({**common, "slice": shown, "method": method, "metric": metric, "k": int(k),
                             "value": value, "ci_low": lo, "ci_high": hi, "users": users, "params": json.dumps(params),
                             "note": note if users or result["users"] == 0
                             else f"no held-out interactions in slice {shown}"})
    for metric_k in ("coverage@20", "mean_popularity@20"):
        if metric_k in result:
            metric, k = metric_k.split("@")
            rows.append({**common, "slice": "all", "method": method, "metric": metric, "k": int(k),
                         "value": result[metric_k], "ci_low": None, "ci_high": None, "users": result["users"],
                         "params": json.dumps(params), "note": note})
    return rows


def split_spec(protocol: str, s: Settings, seed: int) -> dict:
    """How a split was cut, with the seed it was cut with (in every result's lineage, and what
    the report describes). Protocol A's cut has no seed; its sampled negatives use eval_seed."""
    if protocol == PROTOCOL_A:
        return {"held_out": "last", "negatives": s.eval_negatives, "negatives_seed": s.eval_seed}
    return {"held_out": s.eval_holdout, "test_share": s.eval_test_share, "cold_share": s.eval_cold_share,
            "seed": seed}


def _split_id(protocol: str, name: str, spec: dict, inputs: dict) -> str:
    named = {"protocol": protocol, "split": name, **spec, "inputs": inputs}
    return hashlib.sha256(json.dumps(named, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Inputs:
    """What every split of one evaluation shares."""

    events: DataFrame
    pins: DataFrame
    boards: DataFrame
    pairs: DataFrame  # interactions up to ds
    touched: DataFrame  # (user, pin) with any event: never a sampled negative
    items: list[str]  # the catalogue
    tie: np.ndarray
    root: Path  # where the training lakes go
    versions: dict[str, int]
    evaluated_at: dt.datetime


def trained_methods(ctx: StageContext, inp: Inputs, split: Split, held: DataFrame, cold: DataFrame):
    """(scorers, model versions, training seconds per stage) of a split; nothing is trained
    when the split has no user to test."""
    if not split.data.users:
        progress.info("evaluate %s: protocol %s, %s split: no user has both training and held-out interactions",
                      ctx.ds, split.protocol[0], split.name)
        return {method: m.popularity(split.data) for method in m.METHODS}, {}, {}
    progress.info("evaluate %s: protocol %s, %s split: training every method on its training part",
                  ctx.ds, split.protocol[0], split.name)
    sub, seconds = training_lake(ctx, inp.root / f"{split.protocol}-{split.name}",
                                 splits.training_events(inp.events, held, cold), inp.pins, inp.boards,
                                 f"protocol {split.protocol[0]}, {split.name} split")
    found, models = scorers(ctx, sub, split.data)
    return found, models, seconds


def method_rows(ctx: StageContext, inp: Inputs, split: Split, found: dict, chosen: dict[str, dict],
                common: dict, seconds: dict) -> list[dict]:
    """Every method's rows on a split. On the validation split each method's knob is chosen
    (into `chosen`) by the protocol's primary metric; the test split uses the chosen knob."""
    s = ctx.settings
    negs = negatives(split, s.eval_negatives, s.eval_seed) if split.protocol == PROTOCOL_A else None
    rows = []
    for method, score in found.items():
        t0 = time.perf_counter()
        if split.name == "validation":
            tried = {json.dumps(g): evaluate_method(split, score, g, inp.tie, negs)
                     for g in m.grid(method, s.fused_content_weight > 0)}
            best = max(tried, key=lambda g: _mean(tried[g], PRIMARY[split.protocol]))
            chosen[method] = json.loads(best)
            result = tried[best]
        else:
            result = evaluate_method(split, score, chosen[method], inp.tie, negs)
        train_seconds = float(sum(seconds.get(stage, 0.0) for stage in METHOD_STAGES[method]))
        rows += _rows_of(split, method, result, chosen[method], s,
                         {**common, "family": m.FAMILY[method], "train_seconds": train_seconds})
        log.info("evaluate %s: %s %s %s scored in %.1fs", ctx.ds, split.protocol, split.name, method,
                 time.perf_counter() - t0)
    return rows


def protocol_rows(ctx: StageContext, inp: Inputs, protocol: str, seed: int, details: dict) -> list[dict]:
    """A protocol's validation split (knobs chosen), then its test split."""
    s = ctx.settings
    held, cold = cut(protocol, inp.pairs, s, seed)
    train = splits.remaining(inp.pairs, held)
    val_held, val_cold = cut(protocol, train, s, seed + 100)
    chosen: dict[str, dict] = {}
    rows: list[dict] = []
    for name, cut_seed, tested, tested_cold, training, all_held, all_cold in (
            ("validation", seed + 100, val_held, val_cold, splits.remaining(train, val_held),
             held.unionByName(val_held), cold.unionByName(val_cold)),
            ("test", seed, held, cold, train, held, cold)):
        spec = split_spec(protocol, s, cut_seed)
        split_id = _split_id(protocol, name, spec, inp.versions)
        split = collect(protocol, name, split_id, inp.items, training, tested, tested_cold, inp.touched)
        found, models, seconds = trained_methods(ctx, inp, split, all_held, all_cold)
        ctx.laps(f"train {protocol} {name}")
        lineage = json.dumps({"split_id": split_id, "split": spec, "inputs": inp.versions, "models": models,
                              "training_stage_seconds": seconds}, sort_keys=True)
        common = {"ds": dt.date.fromisoformat(ctx.ds), "evaluated_at": inp.evaluated_at, "protocol": protocol,
                  "split": name, "split_id": split_id, "lineage": lineage}
        rows += method_rows(ctx, inp, split, found, chosen, common, seconds)
        ctx.laps(f"score {protocol} {name}")
        details["users"][f"{protocol}/{name}"] = len(split.data.users)
        details["train_seconds"][f"{protocol}/{name}"] = seconds
        progress.info("evaluate %s: protocol %s, %s split: %d users scored by %d methods (%.0fs training)",
                      ctx.ds, protocol[0], name, len(split.data.users), len(found), sum(seconds.values()))
    return rows


def run(ctx: StageContext) -> StageOutput:
    s = ctx.settings
    events = ctx.read(catalog.SILVER_EVENTS).where(F.col("event_date") <= F.lit(ctx.ds).cast("date")).persist()
    pins = ctx.read(catalog.SILVER_PINS)
    pairs = splits.interactions(events).persist()
    touched = events.where(F.col("pin_id").isNotNull()).select("user_id", "pin_id").distinct().persist()
    # The catalogue: every pin in silver, and any pin an event names (events are not checked
    # against the pin dimension).
    items = sorted(r["pin_id"] for r in pins.select("pin_id").union(touched.select("pin_id")).distinct().collect())
    details: dict = {"interactions": pairs.count(), "train_seconds": {}, "users": {}}
    ctx.laps("interactions")
    try:
        with scratch.folder(s.lake_root / "_eval") as root:  # the training lakes; swept if a kill leaves them
            inp = Inputs(events, pins, ctx.read(catalog.SILVER_BOARDS), pairs, touched, items,
                         metrics.tie_order(len(items), s.eval_seed), root,
                         {k: v for k, v in ctx.input_versions.items() if v is not None},
                         dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
            rows = [row for p, protocol in enumerate((PROTOCOL_A, PROTOCOL_B))
                    for row in protocol_rows(ctx, inp, protocol, s.eval_seed + p, details)]
    finally:
        for frame in (events, pairs, touched):
            frame.unpersist()
    run_id = ctx.run_id or uuid.uuid4().hex
    frame = ctx.spark.createDataFrame([{**r, "run_id": run_id} for r in rows], catalog.EVAL_RESULTS.schema)
    written = io.overwrite_where(frame, catalog.EVAL_RESULTS, s, io.days_predicate([ctx.ds]))
    return StageOutput(rows_in=details["interactions"], rows_out=written, details=details)


def _mean(result: dict, metric: str) -> float:
    values = result["per_user"].get("all", {}).get(metric)
    if values is None or np.all(np.isnan(values)):
        return float("-inf")
    return float(np.nanmean(values))
