"""The only module that reads or writes Delta tables (and raw files).

Writes of data are idempotent: partition overwrite (replaceWhere), whole-table overwrite, or
keyed MERGE. Plain appends are used only for the ops logs (pipeline_runs, validation_results),
which record every attempt by design.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Sequence

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipelines.core.catalog import Table
from pipelines.core.raw_files import RawDay
from pipelines.core.settings import Settings, TastegraphError


class MissingInputError(TastegraphError, FileNotFoundError):
    """An input a stage needs is absent; the message says which and what produces it."""


class UndeclaredReadError(RuntimeError):
    """A stage read a table its declaration does not list: a bug in the stage or its declaration."""


@dataclass(frozen=True)
class _Reads:
    """What the running stage may read: its inputs at their pinned versions, and its outputs."""

    stage: str
    inputs: dict[str, int | None]
    outputs: frozenset[str]


_READS: ContextVar[_Reads | None] = ContextVar("tastegraph_stage_reads", default=None)


@contextmanager
def reads_of(stage: str, inputs: dict[str, int | None], outputs: set[str]):
    """Within the block, reads are checked against the stage's declaration: an input is read
    at the version pinned at the stage's start (whatever is committed meanwhile), an output at
    its latest version, and any other table raises UndeclaredReadError."""
    token = _READS.set(_Reads(stage, dict(inputs), frozenset(outputs)))
    try:
        yield
    finally:
        _READS.reset(token)


@contextmanager
def runner_scope():
    """The stage runner's own bookkeeping (pinning, lineage, ops rows) outside any stage's
    declaration: a stage run from inside another (the evaluation's training lakes) is checked
    against its own declaration only."""
    token = _READS.set(None)
    try:
        yield
    finally:
        _READS.reset(token)


def _pinned(table: Table, version: int | None) -> int | None:
    """The version to read `table` at under the running stage's declaration (or `version`)."""
    reads = _READS.get()
    if reads is None:
        return version
    if table.name in reads.inputs:
        return reads.inputs[table.name] if version is None else version
    if table.name in reads.outputs:
        return version
    raise UndeclaredReadError(
        f"stage {reads.stage} read table {table.name}, which its declaration does not list: add it to the "
        f"stage's reads in pipelines/registry.py (or stop reading it)")


def conform(df: DataFrame, table: Table, extra: tuple[str, ...] = ()) -> DataFrame:
    """Select the catalog's columns in order, cast to its types (fails loudly on a missing column),
    then the `extra` columns as they are."""
    missing = [c for c in (*table.columns, *extra) if c not in df.columns]
    if missing:
        raise ValueError(f"cannot write {table.name}: the frame lacks columns {missing}")
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in table.schema.fields] + list(extra))


def table_exists(spark: SparkSession, table: Table, settings: Settings) -> bool:
    return DeltaTable.isDeltaTable(spark, table.path(settings))


def read_table(spark: SparkSession, table: Table, settings: Settings, version: int | None = None) -> DataFrame:
    version = _pinned(table, version)
    if not table_exists(spark, table, settings):
        raise MissingInputError(
            f"table {table.zone}.{table.name} does not exist at {table.path(settings)}; "
            "run the stage that produces it first (see `tastegraph stages`)"
        )
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(table.path(settings))


def read_or_empty(spark: SparkSession, table: Table, settings: Settings) -> DataFrame:
    """The table (at its pinned version inside a stage), or no rows when it does not exist yet."""
    reads = _READS.get()
    pinned_absent = reads is not None and table.name in reads.inputs and reads.inputs[table.name] is None
    if table_exists(spark, table, settings) and not pinned_absent:
        return read_table(spark, table, settings)
    _pinned(table, None)  # an undeclared table still fails loudly
    return spark.createDataFrame([], table.schema)


_COMMIT = re.compile(r"^(\d{20})\.json$")


def _commits(path: str) -> list[int]:
    """The versions whose commit files the table's log holds, from its file names: Delta
    commits version N by atomically creating `_delta_log/<N, 20 digits>.json`, and log cleanup
    never removes the newest one. A directory listing, not a Spark job (the lake is a local
    folder)."""
    try:
        return sorted(int(m.group(1)) for e in (Path(path) / "_delta_log").iterdir() if (m := _COMMIT.match(e.name)))
    except FileNotFoundError:
        return []


def _latest_commit(path: str) -> int | None:
    """The table's latest version, or None."""
    versions = _commits(path)
    return versions[-1] if versions else None


def _commit_info(path: str, version: int | None = None) -> dict:
    """The commitInfo action of a commit (default the latest), read from its log file; {} when
    there is none (or log cleanup removed the file meanwhile)."""
    version = _latest_commit(path) if version is None else version
    if version is None:
        return {}
    try:
        with (Path(path) / "_delta_log" / f"{version:020d}.json").open(encoding="utf-8") as fh:
            for line in fh:
                action = json.loads(line)
                if "commitInfo" in action:
                    return action["commitInfo"]
    except FileNotFoundError:
        pass
    return {}


def committed(table: Table, settings: Settings) -> bool:
    """Whether the table has a committed version, from its log's file names: no Spark (a
    command can say what is missing before it starts a session)."""
    return _latest_commit(table.path(settings)) is not None


def table_version(spark: SparkSession, table: Table, settings: Settings) -> int | None:
    """The table's latest version (inside a stage: an input's pinned version), or None."""
    reads = _READS.get()
    if reads is not None and table.name in reads.inputs:
        return reads.inputs[table.name]
    _pinned(table, None)
    return _latest_commit(table.path(settings))


def _clear_uncommitted(path: str) -> None:
    """Remove what a process killed during table creation left behind: a folder whose
    _delta_log holds no committed version. Nothing in it was ever part of a table."""
    folder = Path(path)
    log = folder / "_delta_log"
    if log.is_dir() and not any(p.name.endswith(".json") and p.name[0].isdigit() for p in log.iterdir()):
        shutil.rmtree(folder)


def ensure_table(spark: SparkSession, table: Table, settings: Settings) -> None:
    """Create the table (schema, partitioning, properties from the catalog) if it is absent; on
    a table created by an older version, set the catalog's properties it lacks (e.g. CDF)."""
    if table_exists(spark, table, settings):
        _migrate(spark, table, settings)
        return
    _clear_uncommitted(table.path(settings))
    builder = DeltaTable.createIfNotExists(spark).location(table.path(settings)).addColumns(table.schema)
    if table.partition_by:
        builder = builder.partitionedBy(*table.partition_by)
    for key, value in table.properties:
        builder = builder.property(key, value)
    builder.execute()


_MIGRATED: set[str] = set()


def _migrate(spark: SparkSession, table: Table, settings: Settings) -> None:
    """Bring a table created by an older version up to the catalog: add the (nullable) columns
    it lacks and set the properties it lacks (e.g. CDF). Checked once per table and process."""
    path = table.path(settings)
    if path in _MIGRATED:
        return
    _MIGRATED.add(path)
    have = set(spark.read.format("delta").load(path).columns)
    new = [f for f in table.schema.fields if f.name not in have]
    if new:
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in new)
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({columns})")
    if table.properties:
        props_have = DeltaTable.forPath(spark, path).detail().first()["properties"] or {}
        missing = {k: v for k, v in table.properties if props_have.get(k) != v}
        if missing:
            props = ", ".join(f"'{k}' = '{v}'" for k, v in sorted(missing.items()))
            spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({props})")


@contextmanager
def commit_metadata(spark: SparkSession, metadata: dict):
    """Attach `metadata` (JSON) to the Delta commits made inside the block (commitInfo.userMetadata)."""
    key = "spark.databricks.delta.commitInfo.userMetadata"
    spark.conf.set(key, json.dumps(metadata, sort_keys=True))
    try:
        yield
    finally:
        spark.conf.unset(key)


def last_commit_metadata(spark: SparkSession, table: Table, settings: Settings, field: str):
    """`field` of the newest commit whose userMetadata carries it, or None: the commit files
    of the log, newest first, which is what Delta's history() reads, without its four Spark
    jobs (the graph stage asks three times a run, and the mark is in one of the last commits)."""
    _pinned(table, None)
    path = table.path(settings)
    for version in reversed(_commits(path)):
        try:
            data = json.loads(_commit_info(path, version).get("userMetadata") or "null")
        except ValueError:
            continue
        if isinstance(data, dict) and field in data:
            return data[field]
    return None


def read_changes(spark: SparkSession, table: Table, settings: Settings, start: int, end: int) -> DataFrame:
    """The Change Data Feed of `table` from version `start` to `end` inclusive."""
    _pinned(table, None)
    return (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", start)
        .option("endingVersion", end)
        .load(table.path(settings))
    )


def rows_written(spark: SparkSession, table: Table, settings: Settings) -> int:
    """Rows the table's last commit wrote (Delta's operation metrics: no data is read):
    inserted plus updated for a MERGE, output rows for a write."""
    metrics = _commit_info(table.path(settings)).get("operationMetrics") or {}
    if "numTargetRowsInserted" in metrics:
        return int(metrics["numTargetRowsInserted"]) + int(metrics.get("numTargetRowsUpdated", 0))
    return int(metrics.get("numOutputRows", 0))


def written_rows(spark: SparkSession, table: Table, settings: Settings, ds: str, before: int | None,
                 after: int | None, through: str | None = None) -> DataFrame:
    """The rows a run wrote to `table` (the gate validates these), by the table's `written`:
    its day's rows (the days ds..through of a range run); the rows its Change Data Feed reports
    inserted or updated between the versions before and after the run (latest change per key);
    or the whole table."""
    days = F.lit(ds).cast("date"), F.lit(through or ds).cast("date")
    if table.written == "ds":
        return read_table(spark, table, settings, version=after).where(F.col("ds").between(*days))
    if table.written == "timestamped":
        return read_table(spark, table, settings, version=after).where(F.to_date("event_timestamp").between(*days))
    if table.written == "changes" and before is not None:
        if after is None or after <= before:
            return spark.createDataFrame([], table.schema)
        changes = read_changes(spark, table, settings, before + 1, after).where("_change_type <> 'update_preimage'")
        if after > before + 1:  # a key's rows of its latest commit (one commit needs no window)
            latest = F.max("_commit_version").over(Window.partitionBy(*table.keys))
            changes = changes.withColumn("_latest", latest).where(F.col("_commit_version") == F.col("_latest"))
        # Within one commit a key's new row is an insert or a postimage, beside the delete of its
        # old row when the commit overwrote it; a key inserted twice stays twice, for the gate.
        return changes.where("_change_type <> 'delete'").select(*table.columns)
    return read_table(spark, table, settings, version=after)


def _save(df: DataFrame, table: Table, settings: Settings, mode: str, extra: tuple[str, ...] = (),
          by_partition: bool = False, **options: str) -> int:
    """Write the catalog's columns, then `extra` ones (the table's schema grows to hold them).
    `by_partition`: one file per partition (see `overwrite_where`)."""
    data = conform(df, table, extra)
    if by_partition and table.partition_by:
        data = data.repartition(*table.partition_by)
    ensure_table(data.sparkSession, table, settings)
    if extra:
        options["mergeSchema"] = "true"
    data.write.format("delta").mode(mode).options(**options).save(table.path(settings))
    return rows_written(data.sparkSession, table, settings)


def overwrite(df: DataFrame, table: Table, settings: Settings) -> int:
    """Replace the whole table atomically (for derived tables recomputed each run); rows written."""
    return _save(df, table, settings, "overwrite")


def days_predicate(days: list[str]) -> str:
    """The partitions of a contiguous run of days, as a replaceWhere predicate."""
    # Not BETWEEN: Delta's replaceWhere fails to analyse it (Spark 4 rewrites it into a With).
    return f"ds = '{days[0]}'" if len(days) == 1 else f"ds >= '{days[0]}' AND ds <= '{days[-1]}'"


MANY_PARTITIONS = 32  # a write of this many days or more is a history's: `by_partition` (see overwrite_where)


def overwrite_where(df: DataFrame, table: Table, settings: Settings, predicate: str, extra: tuple[str, ...] = (),
                    by_partition: bool = False) -> int:
    """Atomically replace the rows matching `predicate` (a partition filter) with `df`; rows written.

    `by_partition` gathers each partition's rows into one task first, so it gets one file. For
    the writes of many days (a history batch, or a day whose ingest touched a history, as in the
    evaluation's training lakes): each writing task otherwise writes a file in every day it holds
    rows of, and over years of days the files' fixed cost dominates (BENCHMARKS.md, "22 years of
    sparse history"). Not for one large day: one task writes it."""
    return _save(df, table, settings, "overwrite", extra, by_partition, replaceWhere=predicate)


def _key_condition(table: Table, prune: str | None) -> str:
    condition = " AND ".join(f"t.{k} = s.{k}" for k in table.keys)
    return f"({prune}) AND {condition}" if prune else condition


def insert_new(df: DataFrame, table: Table, settings: Settings, prune: str | None = None) -> int:
    """Insert rows whose keys are absent (MERGE, insert-only). `prune` (SQL on t and s) limits
    the target scan. Returns rows inserted."""
    data = conform(df, table)
    spark = data.sparkSession
    ensure_table(spark, table, settings)
    (
        DeltaTable.forPath(spark, table.path(settings)).alias("t")
        .merge(data.alias("s"), _key_condition(table, prune))
        .whenNotMatchedInsertAll()
        .execute()
    )
    return rows_written(spark, table, settings)


def upsert(
    df: DataFrame, table: Table, settings: Settings, newer: str, keep_on_update: tuple[str, ...] = ()
) -> int:
    """MERGE by key: insert new keys, update a key when `newer` (SQL on t/s) holds. Columns in
    `keep_on_update` keep the smaller of target and source (e.g. first_seen). Rows written."""
    updates: dict[str, str | Column] = {c: F.col(f"s.{c}") for c in table.columns if c not in keep_on_update}
    for c in keep_on_update:
        updates[c] = F.least(F.col(f"t.{c}"), F.col(f"s.{c}"))
    return merge(df, table, settings, updates, update_when=newer)


def merge(
    df: DataFrame,
    table: Table,
    settings: Settings,
    update: dict[str, str | Column],
    delete_when: str | Column | None = None,
    update_when: str | Column | None = None,
    insert_when: str | Column | None = None,
    prune: str | None = None,
    extra_columns: tuple[str, ...] = (),
) -> int:
    """MERGE by the table's keys: matched rows get `update` (Columns or SQL on aliases t and s)
    when `update_when` holds, or are deleted when `delete_when` holds; new keys are inserted as
    they are when `insert_when` holds. `prune` (SQL on t) limits the target scan to the
    partitions concerned; `extra_columns` of the source are kept for the conditions (never
    written). Returns rows inserted plus updated."""
    data = conform(df, table, extra_columns)
    spark = data.sparkSession
    ensure_table(spark, table, settings)
    builder = DeltaTable.forPath(spark, table.path(settings)).alias("t").merge(data.alias("s"),
                                                                             _key_condition(table, prune))
    if delete_when is not None:
        builder = builder.whenMatchedDelete(condition=delete_when)
    insert = {c: F.col(f"s.{c}") for c in table.columns}
    before = table_version(spark, table, settings)
    builder.whenMatchedUpdate(condition=update_when, set=update).whenNotMatchedInsert(
        condition=insert_when, values=insert).execute()
    if table_version(spark, table, settings) == before:
        return 0  # nothing to change: Delta made no commit
    return rows_written(spark, table, settings)


def sync_rows(df: DataFrame, table: Table, settings: Settings, column: str, values: tuple[str, ...]) -> int:
    """Make the table's rows whose partition `column` is in `values` equal `df`, writing only the
    differences: the diff against those partitions is computed first, then one MERGE pruned to
    them updates changed rows, inserts new ones and deletes rows gone from `df`. Unlike a
    replaceWhere overwrite, unchanged rows are neither rewritten nor reported by the Change
    Data Feed, and the rest of the table is not read."""
    data = conform(df, table)
    spark = data.sparkSession
    ensure_table(spark, table, settings)
    listed = ", ".join(f"'{v}'" for v in values)
    current = read_table(spark, table, settings).where(f"{column} IN ({listed})")
    keys = list(table.keys)
    others = [c for c in table.columns if c not in keys]
    now, was = data.alias("n"), current.alias("c")
    joined = now.join(was, on=[F.col(f"n.{k}") == F.col(f"c.{k}") for k in keys], how="full_outer")
    gone = F.col(f"n.{keys[0]}").isNull()
    differs = F.col(f"c.{keys[0]}").isNull()
    for c in others:
        differs = differs | ~F.col(f"n.{c}").eqNullSafe(F.col(f"c.{c}"))
    diff = joined.where(gone | differs).select(
        *[F.when(gone, F.col(f"c.{c}")).otherwise(F.col(f"n.{c}")).alias(c) for c in table.columns],
        gone.alias("_gone"))
    return merge(diff, table, settings, {c: F.col(f"s.{c}") for c in others}, delete_when="s._gone",
                 insert_when="NOT s._gone", prune=f"t.{column} IN ({listed})", extra_columns=("_gone",))


def delete_matching(keys: DataFrame, table: Table, settings: Settings, column: str) -> None:
    """Delete the target rows whose `column` equals a value in `keys` (MERGE ... DELETE)."""
    spark = keys.sparkSession
    if not table_exists(spark, table, settings):
        return
    (
        DeltaTable.forPath(spark, table.path(settings)).alias("t")
        .merge(keys.select(F.col(column).alias("_k")).distinct().alias("s"), f"t.{column} = s._k")
        .whenMatchedDelete()
        .execute()
    )


def append(df: DataFrame, table: Table, settings: Settings) -> int:
    return _save(df, table, settings, "append")


def append_once(df: DataFrame, table: Table, settings: Settings, app_id: str, extra: tuple[str, ...] = ()) -> int:
    """Append `df` once under `app_id`: Delta's idempotent writes (txnAppId/txnVersion) skip a
    second append of the same id, also when two run at the same time. Rows written (0 when
    skipped)."""
    before = _latest_commit(table.path(settings))
    written = _save(df, table, settings, "append", extra, txnAppId=app_id, txnVersion="0")
    return written if _latest_commit(table.path(settings)) != before else 0


def _glob_escaped(path: str) -> str:
    """A literal path for Spark's reader, which treats {}[]*?\\ as glob characters."""
    return re.sub(r"([{}\[\]*?\\])", r"\\\1", path)


def read_raw_lines(spark: SparkSession, days: Sequence[RawDay]) -> DataFrame:
    """The lines of one stream over some days: value (the line's bytes as a string, not
    validated), source_file, line_number, ds (the date of the file's folder). Lines end at \\n
    only; whole files are read by Spark in one scan, the complete lines of damaged files come
    from `raw_files.inspect`.

    line_number is 1-based for the salvaged lines of damaged files, and null for the lines of
    whole files: gzip files are not splittable, so one task reads a whole file, in order, and
    whoever maps the partitions numbers its lines as they stream by
    (`raw_lines.batch_checker`). Numbering them here in Spark would take a second pass over
    every file (the first row id of each file is an aggregate over all of its lines)."""
    schema = "value string, source_file string, line_number long, ds date"
    frames = []
    whole = [_glob_escaped(p) for day in days if day.whole_bytes for p in day.whole]
    if whole:
        source_file = F.url_decode(F.col("_metadata.file_path"))
        folder_date = F.to_date(F.regexp_extract(source_file, r"/dt=([0-9]{4}-[0-9]{2}-[0-9]{2})/[^/]*$", 1))
        frames.append(spark.read.option("lineSep", "\n").text(whole).select(
            "value", source_file.alias("source_file"), F.lit(None).cast("long").alias("line_number"),
            folder_date.alias("ds")))
    salvaged = [(line, f"file:{damage.path}", number, dt.date.fromisoformat(day.ds))
                for day in days for damage in day.damaged for number, line in enumerate(damage.lines, start=1)]
    if salvaged:
        frames.append(spark.createDataFrame(salvaged, "value binary, source_file string, line_number long, ds date")
                      .select(F.col("value").cast("string").alias("value"), "source_file", "line_number", "ds"))
    if not frames:
        return spark.createDataFrame([], schema)
    return reduce(DataFrame.unionByName, frames)
