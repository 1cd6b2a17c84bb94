"""Training sets (training_sets_v1), their manifests (ops.training_set_manifests) and frozen
gold sets (gold_set_v1): the parts that are plain Spark and Delta.

A training set is the labelled examples of a date range, re-split by the build's split dates,
with the features of a feature service joined as of each example's timestamp (by Feast: see
`flows/training.py`). Its id names the range and a hash of everything that decides its rows
(the example configuration, the feature service and references, and the Delta version of
every input), so building twice from the same inputs gives the same id and the same rows.
Its content hash is order-independent (a sum of two row hashes over every column), so a
rebuild by time travel can be checked against the recorded one.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
from dataclasses import dataclass, field
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.core import catalog, io
from pipelines.core.settings import Settings, TastegraphError
from pipelines.training.examples import SPLITS, ExampleConfig, split_of

EXAMPLE_COLUMNS = ("example_id", "user_id", "pin_id", "event_timestamp", "event_date", "label", "label_type",
                   "is_product", "split")


class TrainingSetError(TastegraphError):
    """A training-set build or rebuild cannot go on; the message says what to change."""


@dataclass(frozen=True)
class TrainingSetSpec:
    """What a build is asked for: the range, the split dates, the feature service."""

    start: dt.date
    end: dt.date
    validation_start: dt.date
    test_start: dt.date
    feature_service: str
    examples: ExampleConfig

    def check(self) -> None:
        """One-line errors for a range or split dates that cannot make a training set."""
        if self.end < self.start:
            raise TrainingSetError(f"the range {self.start}..{self.end} is empty: --end must not be before --start")
        for name, day in (("validation", self.validation_start), ("test", self.test_start)):
            if not self.start <= day <= self.end:
                raise TrainingSetError(
                    f"the {name} split starts on {day}, outside the range {self.start}..{self.end}: set "
                    f"split_{name}_start (or --{name}-start) to a day within it")
        if self.test_start < self.validation_start:
            raise TrainingSetError(f"the test split ({self.test_start}) starts before the validation split "
                                   f"({self.validation_start}): the test split must come last")

    def as_json(self) -> str:
        return json.dumps({"start": self.start, "end": self.end, "validation_start": self.validation_start,
                           "test_start": self.test_start, "feature_service": self.feature_service,
                           "examples": json.loads(self.examples.as_json())}, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> "TrainingSetSpec":
        raw = json.loads(text)
        day = dt.date.fromisoformat
        ex = raw["examples"]
        examples = ExampleConfig(tuple(ex["positive_types"]), ex["negatives_per_positive"], ex["negative_seed"],
                                 day(ex["validation_start"]) if ex["validation_start"] else None,
                                 day(ex["test_start"]) if ex["test_start"] else None)
        return cls(day(raw["start"]), day(raw["end"]), day(raw["validation_start"]), day(raw["test_start"]),
                   raw["feature_service"], examples)


def spec_of(settings: Settings, start: dt.date, end: dt.date, feature_service: str | None = None) -> TrainingSetSpec:
    """The build's spec from settings; split dates default to the last day for test and the
    day before for validation."""
    test = settings.split_test_start or end
    validation = settings.split_validation_start or min(test, max(start, end - dt.timedelta(days=1)))
    return TrainingSetSpec(start, end, validation, test, feature_service or settings.training_feature_service,
                           ExampleConfig.of(settings))


def training_set_id(spec: TrainingSetSpec, feature_refs: list[str], input_versions: dict[str, int]) -> str:
    digest = hashlib.sha256(json.dumps([spec.as_json(), sorted(feature_refs), sorted(input_versions.items())])
                            .encode()).hexdigest()
    return f"ts-{spec.start}-{spec.end}-{digest[:12]}"


def entity_rows(examples: DataFrame, spec: TrainingSetSpec) -> DataFrame:
    """The examples of the range, split by the spec's dates (Feast's entity dataframe)."""
    return examples.where(F.col("event_date").between(F.lit(spec.start), F.lit(spec.end))).select(
        *(c for c in EXAMPLE_COLUMNS if c != "split"),
        split_of(F.col("event_date"), spec.validation_start, spec.test_start).alias("split"))


def feature_columns(df: DataFrame) -> list[str]:
    """The joined feature columns (`<view>__<feature>`), in a stable order."""
    return sorted(c for c in df.columns if "__" in c)


def content_hash(df: DataFrame) -> str:
    """An order-independent hash of the rows (every column but the training set id): the row
    count and the sums of two independent 64-bit row hashes."""
    columns = sorted(c for c in df.columns if c not in ("training_set_id", "gold_version"))
    row = [F.col(c) for c in columns]
    total = df.agg(F.count(F.lit(1)).alias("n"),
                   F.sum(F.xxhash64(*row).cast("decimal(38,0)")).alias("a"),
                   F.sum(F.xxhash64(F.lit("second"), *row).cast("decimal(38,0)")).alias("b")).first()
    text = json.dumps([columns, total["n"], str(total["a"]), str(total["b"])])
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Report:
    """What a build says about its training set."""

    training_set_id: str
    path: str
    rows: int
    by_split_label: dict[str, dict[str, int]]
    unseen_test_users: float | None
    unseen_test_pins: float | None
    missing_features: dict[str, int]  # view -> examples with no row of it (all its features null)
    content_hash: str
    input_versions: dict[str, int] = field(default_factory=dict)
    feature_refs: list[str] = field(default_factory=list)
    registry_version: str = ""


def split_counts(df: DataFrame) -> dict[str, dict[str, int]]:
    counts = df.groupBy("split", "label").count().collect()
    out = {s: {} for s in SPLITS}
    for r in counts:
        out.setdefault(r["split"], {})[str(r["label"])] = r["count"]
    return {s: dict(sorted(v.items())) for s, v in out.items()}


def unseen_share(df: DataFrame, column: str) -> float | None:
    """Share of the test split's distinct values of `column` that never occur in train."""
    test = df.where(F.col("split") == "test").select(column).distinct()
    n = test.count()
    if n == 0:
        return None
    unseen = test.join(df.where(F.col("split") == "train").select(column).distinct(), on=column, how="left_anti")
    return unseen.count() / n


def missing_features(df: DataFrame, views: list[str]) -> dict[str, int]:
    """Per view, the examples whose every feature of that view is null (no row within the TTL)."""
    columns = feature_columns(df)
    checks = []
    for view in views:
        mine = [F.col(c).isNull() for c in columns if c.startswith(view + "__")]
        if mine:
            checks.append(F.sum(F.when(reduce(operator.and_, mine), 1).otherwise(0)).alias(view))
    row = df.agg(*checks).first() if checks else None
    return {v: int(row[v] or 0) for v in views if row is not None and v in row.asDict()}


def report(df: DataFrame, ts_id: str, path: str, views: list[str]) -> Report:
    by_split_label = split_counts(df)
    rows = sum(n for labels in by_split_label.values() for n in labels.values())
    return Report(ts_id, path, rows, by_split_label, unseen_share(df, "user_id"), unseen_share(df, "pin_id"),
                  missing_features(df, views), content_hash(df))


def write_training_set(joined: DataFrame, ts_id: str, settings: Settings) -> int:
    """Replace the training set's partition (a rebuild of the same id writes the same rows)."""
    rows = joined.withColumn("training_set_id", F.lit(ts_id))
    return io.overwrite_where(rows, catalog.TRAINING_SETS, settings, f"training_set_id = '{ts_id}'",
                              extra=tuple(feature_columns(joined)))


def read_training_set(spark: SparkSession, settings: Settings, ts_id: str) -> DataFrame:
    return io.read_table(spark, catalog.TRAINING_SETS, settings).where(F.col("training_set_id") == ts_id)


def record_manifest(spark: SparkSession, settings: Settings, spec: TrainingSetSpec, rep: Report) -> None:
    row = {"training_set_id": rep.training_set_id, "created_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
           "start_date": spec.start, "end_date": spec.end, "config": spec.as_json(),
           "config_hash": hashlib.sha256(spec.as_json().encode()).hexdigest(), "input_versions": rep.input_versions,
           "feature_service": spec.feature_service, "feature_refs": rep.feature_refs,
           "registry_version": rep.registry_version, "rows": rep.rows,
           "rows_by_split": {s: sum(v.values()) for s, v in rep.by_split_label.items()},
           "content_hash": rep.content_hash, "path": rep.path}
    io.insert_new(spark.createDataFrame([row], catalog.TRAINING_SET_MANIFESTS.schema),
                  catalog.TRAINING_SET_MANIFESTS, settings)


def manifest(spark: SparkSession, settings: Settings, ts_id: str) -> dict:
    """The recorded manifest of a training set, or a one-line error naming the known ids."""
    table = io.read_or_empty(spark, catalog.TRAINING_SET_MANIFESTS, settings)
    found = table.where(F.col("training_set_id") == ts_id).collect()
    if not found:
        known = [r["training_set_id"] for r in table.select("training_set_id").orderBy("training_set_id").collect()]
        raise TrainingSetError(f"no training set {ts_id!r} in {catalog.TRAINING_SET_MANIFESTS.path(settings)}; "
                               + (f"known: {', '.join(known[-5:])}" if known else "build one with "
                                  "`tastegraph training-set build --start A --end B`"))
    return found[0].asDict()


def _gold_source(spark: SparkSession, settings: Settings, version: str) -> str | None:
    """The training set gold set `version` was frozen from, or None when there is none."""
    found = io.read_or_empty(spark, catalog.GOLD_SET, settings).where(F.col("gold_version") == version)
    first = found.select("training_set_id").limit(1).collect()
    return first[0]["training_set_id"] if first else None


def freeze_gold_set(spark: SparkSession, settings: Settings, training_set: DataFrame, version: str) -> int:
    """Write the test split of a training set as gold set `version`, once: an existing version
    is never overwritten (a one-line error says so, unless it was frozen from this very
    training set: a re-run writes nothing), and of two concurrent freezes of one version only
    one is written (Delta's idempotent-write transaction id); the other is checked like a
    re-run. Rows written."""
    written, source = 0, _gold_source(spark, settings, version)
    if source is None:
        rows = training_set.where(F.col("split") == "test").withColumn("gold_version", F.lit(version))
        if not rows.limit(1).count():
            raise TrainingSetError(f"the training set has no test examples to freeze as gold set {version!r}: "
                                   f"choose a range (or --test-start) whose test split is not empty")
        written = io.append_once(rows, catalog.GOLD_SET, settings, f"gold_set_v1:{version}",
                                 extra=tuple(feature_columns(training_set)))
        source = _gold_source(spark, settings, version)
    if training_set.where(F.col("training_set_id") != source).limit(1).count():
        raise TrainingSetError(f"gold set {version!r} exists (frozen from {source}) and is never overwritten: "
                               f"choose a new --gold name")
    return written
