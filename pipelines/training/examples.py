"""Labelled examples (stage training_examples, table training_examples_v1): "at time t, user u
was shown, or engaged with, pin p: label y", built from silver events.

- Positives: events of the configured positive types (`training_positive_types`, default saves
  and clicks), one example per event. A click that went to a merchant is labelled
  `merchant_click` and flagged `is_product` (the product-level slice).
- Real negatives: impressions of a pin with no closeup, click or save of that pin by that user
  in the same session; one per (user, session, pin), the first impression.
- Sampled negatives: `negatives_per_positive` per positive, drawn from the pins seen that day
  with probability proportional to their events that day (popularity), seeded by the positive's
  id. A draw is dropped when the user had engaged with the pin (any engagement beyond an
  impression, by the taste graph's user -> pin edges first seen at or before the example's day)
  or it repeats an earlier draw, so a positive can get fewer.

Every example keeps the event's timestamp (features are joined as of then), its label type and
its time split (`split_of`). The stage rewrites the event dates the day's ingest touched, so a
late event re-labels its own date and re-running a day gives the same rows.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipelines.core import catalog, contract, io
from pipelines.core.settings import Settings
from pipelines.core.stages import StageContext, StageOutput
from pipelines.core.transforms import first_per_key

IMPRESSION_NEGATIVE, SAMPLED_NEGATIVE = "impression_negative", "sampled_negative"
SPLITS = ("train", "validation", "test")
# Engagement that makes an impression in the same session no negative.
ENGAGED_IN_SESSION = (contract.CLOSEUP, contract.CLICK, contract.SAVE)
# Draws per positive: 2 per wanted negative, and 2 more, since a draw that hits an engaged
# pin, the positive's own pin or a repeat is dropped.
OVERSAMPLE, EXTRA_DRAWS = 2, 2


@dataclass(frozen=True)
class ExampleConfig:
    """What decides the examples' rows: part of every training set's configuration hash."""

    positive_types: tuple[str, ...]
    negatives_per_positive: int
    negative_seed: int
    validation_start: dt.date | None
    test_start: dt.date | None

    @classmethod
    def of(cls, settings: Settings) -> "ExampleConfig":
        return cls(positive_types=tuple(t.strip() for t in settings.training_positive_types.split(",")),
                   negatives_per_positive=settings.negatives_per_positive, negative_seed=settings.negative_seed,
                   validation_start=settings.split_validation_start, test_start=settings.split_test_start)

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)

    def digest(self) -> str:
        return hashlib.sha256(self.as_json().encode()).hexdigest()


def split_of(date: Column, validation_start: dt.date | None, test_start: dt.date | None) -> Column:
    """train before `validation_start`, validation before `test_start`, test from then on: an
    example in an earlier split is never later than one in a later split."""
    split = F.lit("train")
    if validation_start is not None:
        split = F.when(date >= F.lit(validation_start), F.lit("validation")).otherwise(split)
    if test_start is not None:
        split = F.when(date >= F.lit(test_start), F.lit("test")).otherwise(split)
    return split


def _is_merchant_click() -> Column:
    return (F.col("event_type") == contract.CLICK) & F.coalesce(F.col("is_merchant"), F.lit(False))


def _session() -> Column:
    """Events without a session id share one session per user and day."""
    return F.coalesce(F.col("session_id"), F.lit(""))


def positives(events: DataFrame, positive_types: tuple[str, ...]) -> DataFrame:
    """One example per positive event."""
    merchant = _is_merchant_click()
    return events.where(F.col("event_type").isin(*positive_types) & F.col("pin_id").isNotNull()).select(
        F.col("event_id").alias("example_id"), "user_id", "pin_id", "session_id",
        F.col("event_time").alias("event_timestamp"), "event_date", F.lit(1).alias("label"),
        F.when(merchant, F.lit(contract.MERCHANT_CLICK)).otherwise(F.col("event_type")).alias("label_type"),
        merchant.alias("is_product"),
    )


def impression_negatives(events: DataFrame) -> DataFrame:
    """The first impression of each (user, session, pin) whose pin the user did not close up,
    click or save in that session."""
    key = ["user_id", "_session", "pin_id"]
    pin_events = events.where(F.col("pin_id").isNotNull()).withColumn("_session", _session())
    engaged = pin_events.where(F.col("event_type").isin(*ENGAGED_IN_SESSION)).select(*key).distinct()
    shown = first_per_key(pin_events.where(F.col("event_type") == contract.IMPRESSION), key,
                          [F.col("event_time"), F.col("event_id")])
    return shown.join(engaged, on=key, how="left_anti").select(
        F.col("event_id").alias("example_id"), "user_id", "pin_id", "session_id",
        F.col("event_time").alias("event_timestamp"), "event_date", F.lit(0).alias("label"),
        F.lit(IMPRESSION_NEGATIVE).alias("label_type"), F.lit(False).alias("is_product"),
    )


def popularity_tickets(events: DataFrame) -> DataFrame:
    """(event_date, ticket, pin_id): each pin holds as many consecutive tickets as it had events
    that day, so a uniform ticket draws pins by popularity. With the day's ticket count."""
    counts = events.where(F.col("pin_id").isNotNull()).groupBy("event_date", "pin_id").agg(F.count("*").alias("n"))
    by_pin = Window.partitionBy("event_date").orderBy("pin_id").rowsBetween(Window.unboundedPreceding, 0)
    ranges = counts.select("event_date", "pin_id", "n", F.sum("n").over(by_pin).alias("_end"),
                           F.sum("n").over(Window.partitionBy("event_date")).alias("tickets"))
    return ranges.select("event_date", "pin_id", "tickets",
                         F.explode(F.sequence(F.col("_end") - F.col("n"), F.col("_end") - 1)).alias("ticket"))


def sampled_negatives(positive: DataFrame, tickets: DataFrame, engaged: DataFrame, per_positive: int,
                      seed: int) -> DataFrame:
    """Up to `per_positive` negatives per positive, drawn by popularity from its day's tickets
    with a hash of (seed, positive id, draw), never a pin in `engaged` (user_id, pin_id,
    first_seen) first engaged by then, nor the positive's pin, nor a repeat."""
    draws = per_positive * OVERSAMPLE + EXTRA_DRAWS
    totals = tickets.select("event_date", "tickets").distinct()
    drawn = (
        positive.join(F.broadcast(totals), on="event_date", how="inner")
        .select("example_id", "user_id", F.col("pin_id").alias("_positive_pin"), "session_id", "event_timestamp",
                "event_date", F.explode(F.sequence(F.lit(0), F.lit(draws - 1))).alias("_draw"), "tickets")
        .withColumn("ticket", F.pmod(F.xxhash64(F.lit(seed), F.col("example_id"), F.col("_draw")), F.col("tickets")))
        .join(tickets.drop("tickets"), on=["event_date", "ticket"], how="inner")
        .where(F.col("pin_id") != F.col("_positive_pin"))
    )
    day_end = F.date_add(F.col("event_date"), 1).cast("timestamp")
    # One row per (user, pin): the first engagement of any type (edges come one per type).
    seen = engaged.groupBy("user_id", "pin_id").agg(F.min("first_seen").alias("first_seen"))
    fresh = (drawn.join(seen, on=["user_id", "pin_id"], how="left")
             .where(F.col("first_seen").isNull() | (F.col("first_seen") >= day_end)))
    once = first_per_key(fresh, ["example_id", "pin_id"], [F.col("_draw")])
    kept = once.withColumn("_n", F.row_number().over(Window.partitionBy("example_id").orderBy("_draw")))
    return kept.where(F.col("_n") <= per_positive).select(
        F.concat(F.col("example_id"), F.lit(":neg:"), F.col("_draw").cast("string")).alias("example_id"),
        "user_id", "pin_id", "session_id", "event_timestamp", "event_date", F.lit(0).alias("label"),
        F.lit(SAMPLED_NEGATIVE).alias("label_type"), F.lit(False).alias("is_product"),
    )


def training_examples(events: DataFrame, engaged: DataFrame, config: ExampleConfig, ds: str) -> DataFrame:
    """Positives, real negatives and sampled negatives of the given events, with their split."""
    positive = positives(events, config.positive_types)
    examples = positive.unionByName(impression_negatives(events))
    if config.negatives_per_positive:
        examples = examples.unionByName(sampled_negatives(positive, popularity_tickets(events), engaged,
                                                          config.negatives_per_positive, config.negative_seed))
    return examples.select(
        "example_id", "user_id", "pin_id", "session_id", "event_timestamp", "event_date",
        F.col("label").cast("int").alias("label"), "label_type", "is_product",
        split_of(F.col("event_date"), config.validation_start, config.test_start).alias("split"),
        F.lit(dt.date.fromisoformat(ds)).alias("ds"),
    )


def engaged_pins(edges: DataFrame) -> DataFrame:
    """(user_id, pin_id, first_seen) of every user -> pin engagement beyond an impression."""
    return edges.where(F.col("edge_type").isin(*contract.SEEN_EDGE_TYPES)).select(
        F.col("src_id").alias("user_id"), F.col("dst_id").alias("pin_id"), "first_seen")


def _last_touched(ctx: StageContext) -> DataFrame:
    """(event_date, ds): the last day of the range whose ingest touched each event date, what a
    day-by-day run would have stamped."""
    return (ctx.read(catalog.TOUCHED_DATES)
            .where(F.col("ds").between(F.lit(ctx.ds).cast("date"), F.lit(ctx.through).cast("date")))
            .groupBy("event_date").agg(F.max("ds").alias("ds")))


def run(ctx: StageContext) -> StageOutput:
    """Rewrite the examples of every event date the day's ingest (or the range's) touched."""
    dates = [dt.date.fromisoformat(d) for d in ctx.touched_dates()]
    events = ctx.read(catalog.SILVER_EVENTS).where(F.col("event_date").isin(*dates)).persist()
    engaged = engaged_pins(ctx.read_or_empty(catalog.GRAPH_EDGES))
    examples = training_examples(events, engaged, ExampleConfig.of(ctx.settings), ctx.ds)
    if ctx.through:  # a range: each event date is stamped by the last day whose ingest touched it
        examples = (examples.drop("ds").join(F.broadcast(_last_touched(ctx)), on="event_date", how="left")
                    .withColumn("ds", F.coalesce("ds", F.lit(ctx.through).cast("date"))))
    in_dates = ", ".join(f"DATE'{d}'" for d in dates)
    written = io.overwrite_where(examples, catalog.TRAINING_EXAMPLES, ctx.settings, f"event_date IN ({in_dates})",
                                 by_partition=ctx.many_dates(dates))
    ctx.laps("examples")
    labels = (ctx.read(catalog.TRAINING_EXAMPLES).where(F.col("event_date").isin(*dates))
              .groupBy("label_type").count().collect())
    by_type = {r["label_type"]: r["count"] for r in sorted(labels, key=lambda r: r["label_type"])}
    rows_in = events.count()
    events.unpersist()
    return StageOutput(rows_in=rows_in, rows_out=written,
                       details={"dates": [d.isoformat() for d in dates], "label_types": by_type,
                                "summary": ", ".join(f"{n:,} {t}" for t, n in by_type.items())})
