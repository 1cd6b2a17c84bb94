"""The only module that reads or writes Delta tables (and raw files).

Every write is idempotent: partition overwrite (replaceWhere), keyed MERGE, or an append
guarded by Delta's txnAppId/txnVersion.
"""
from __future__ import annotations

from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipelines.catalog import Table, raw_path
from pipelines.settings import Settings


class MissingInputError(FileNotFoundError):
    """An input a stage needs is absent; the message says which and what produces it."""


def conform(df: DataFrame, table: Table) -> DataFrame:
    """Select the catalog's columns in order, cast to its types (fails loudly on a missing column)."""
    missing = [c for c in table.columns if c not in df.columns]
    if missing:
        raise ValueError(f"cannot write {table.name}: the frame lacks columns {missing}")
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in table.schema.fields])


def table_exists(spark: SparkSession, table: Table, settings: Settings) -> bool:
    return DeltaTable.isDeltaTable(spark, table.path(settings))


def read_table(spark: SparkSession, table: Table, settings: Settings, version: int | None = None) -> DataFrame:
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
    if table_exists(spark, table, settings):
        return read_table(spark, table, settings)
    return spark.createDataFrame([], table.schema)


def table_version(spark: SparkSession, table: Table, settings: Settings) -> int | None:
    if not table_exists(spark, table, settings):
        return None
    return DeltaTable.forPath(spark, table.path(settings)).history(1).collect()[0]["version"]


def _create(df: DataFrame, table: Table, settings: Settings) -> None:
    writer = df.limit(0).write.format("delta").mode("ignore")
    if table.partition_by:
        writer = writer.partitionBy(*table.partition_by)
    writer.save(table.path(settings))


def ensure_table(spark: SparkSession, table: Table, settings: Settings) -> None:
    if not table_exists(spark, table, settings):
        _create(spark.createDataFrame([], table.schema), table, settings)


def overwrite_where(df: DataFrame, table: Table, settings: Settings, predicate: str) -> None:
    """Atomically replace the rows matching `predicate` (a partition filter) with `df`."""
    data = conform(df, table)
    ensure_table(data.sparkSession, table, settings)
    (
        data.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", predicate)
        .save(table.path(settings))
    )


def insert_new(df: DataFrame, table: Table, settings: Settings, prune: str | None = None) -> None:
    """Insert rows whose keys are absent (MERGE, insert-only). `prune` limits the target scan."""
    data = conform(df, table)
    spark = data.sparkSession
    ensure_table(spark, table, settings)
    condition = " AND ".join(f"t.{k} = s.{k}" for k in table.keys)
    if prune:
        condition = f"({prune}) AND {condition}"
    (
        DeltaTable.forPath(spark, table.path(settings)).alias("t")
        .merge(data.alias("s"), condition)
        .whenNotMatchedInsertAll()
        .execute()
    )


def upsert(
    df: DataFrame, table: Table, settings: Settings, newer: str, keep_on_update: tuple[str, ...] = ()
) -> None:
    """MERGE by key: insert new keys, update a key when `newer` (SQL on t/s) holds.

    Columns in `keep_on_update` keep the target's value (e.g. first_seen).
    """
    data = conform(df, table)
    spark = data.sparkSession
    ensure_table(spark, table, settings)
    condition = " AND ".join(f"t.{k} = s.{k}" for k in table.keys)
    updates = {c: f"s.{c}" for c in table.columns if c not in keep_on_update}
    for c in keep_on_update:
        updates[c] = f"least(t.{c}, s.{c})"
    (
        DeltaTable.forPath(spark, table.path(settings)).alias("t")
        .merge(data.alias("s"), condition)
        .whenMatchedUpdate(condition=newer, set=updates)
        .whenNotMatchedInsertAll()
        .execute()
    )


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


def append_once(df: DataFrame, table: Table, settings: Settings, app_id: str, txn_version: int) -> None:
    """Append unless this (app_id, txn_version) was already committed (Delta idempotent writes)."""
    data = conform(df, table)
    ensure_table(data.sparkSession, table, settings)
    (
        data.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", txn_version)
        .save(table.path(settings))
    )


def append(df: DataFrame, table: Table, settings: Settings) -> None:
    data = conform(df, table)
    ensure_table(data.sparkSession, table, settings)
    data.write.format("delta").mode("append").save(table.path(settings))


def read_raw_lines(spark: SparkSession, settings: Settings, stream: str, ds: str) -> DataFrame:
    """Raw JSONL(.gz) lines of one stream and day: value, source_file, line_number (1-based)."""
    path = raw_path(settings, stream, ds)
    if not Path(path).is_dir() or not any(Path(path).iterdir()):
        raise MissingInputError(
            f"no raw {stream} files for {ds} under {path}; generate them with "
            f"`tastegraph generate --out {settings.raw_dir}` or set TASTEGRAPH_RAW_ROOT"
        )
    lines = (
        spark.read.text(path)
        .select(
            F.col("value"),
            F.col("_metadata.file_path").alias("source_file"),
            F.monotonically_increasing_id().alias("_row"),
        )
    )
    # gzip files are not splittable, so a file is read in order by one task: row ids are
    # consecutive within a file and the line number is the offset from the file's first id.
    first = Window.partitionBy("source_file")
    return lines.select(
        "value",
        "source_file",
        (F.col("_row") - F.min("_row").over(first) + 1).alias("line_number"),
    )
