"""Builds the one SparkSession a process uses (Delta extensions, local jars, local-mode tuning).

Under spark-submit the JVM is already configured by the submitter: we keep its master and
resources and only add what Delta needs if it is missing.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from pipelines.settings import Settings

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

# SQL settings every session the project creates or joins gets, under spark-submit too: results
# must not depend on the host's time zone, and Parquet timestamps are written as microseconds
# (INT96, Spark's default, makes tables unreadable for pyarrow-based readers such as deltalake).
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # The JVM does not JIT-compile methods over 8,000 bytes of bytecode; a whole-stage method
    # that large (the contract parser's rule chain) runs interpreted, 1.5x slower than the
    # per-operator code Spark falls back to at this limit.
    "spark.sql.codegen.hugeMethodLimit": "8000",
}

LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    "spark.databricks.delta.schema.autoMerge.enabled": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.sql.files.maxPartitionBytes": str(64 * 1024 * 1024),
    "spark.sql.warehouse.dir": str(Path(os.environ.get("TMPDIR", "/tmp")) / "tastegraph-warehouse"),
}


class MissingJarsError(RuntimeError):
    pass


def delta_jars(settings: Settings) -> list[str]:
    jars = sorted(str(p) for p in Path(settings.jars_dir).glob("*.jar"))
    names = " ".join(Path(j).name for j in jars)
    if "delta-spark" not in names or "delta-storage" not in names:
        raise MissingJarsError(
            f"Delta Lake jars not found in {settings.jars_dir}. Run `make setup` (it fetches "
            "io.delta:delta-spark and io.delta:delta-storage with Maven), or point "
            "TASTEGRAPH_JARS_DIR at a folder that holds them."
        )
    return jars


def under_spark_submit() -> bool:
    return "PYSPARK_GATEWAY_PORT" in os.environ or os.environ.get("SPARK_SUBMIT") == "1"


def get_spark(settings: Settings, app_name: str = "tastegraph") -> SparkSession:
    """Return the process's SparkSession, creating it once."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return _with_session_conf(active)
    builder = SparkSession.builder.appName(app_name)
    if under_spark_submit():
        # The submitter chose master, resources and jars; add only Delta's SQL settings.
        for key, value in DELTA_CONF.items():
            builder = builder.config(key, value)
        return _with_session_conf(builder.getOrCreate())
    # Python workers (the contract checker runs in them) use this interpreter and its packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = {
        **LOCAL_CONF,
        "spark.pyspark.python": os.environ["PYSPARK_PYTHON"],
        **SESSION_CONF,
        **DELTA_CONF,
        "spark.jars": ",".join(delta_jars(settings)),
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.default.parallelism": str(settings.shuffle_partitions),
        **settings.spark_conf,
    }
    builder = builder.master(settings.spark_master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return _with_session_conf(spark)


def _with_session_conf(spark: SparkSession) -> SparkSession:
    for key, value in SESSION_CONF.items():
        if spark.conf.get(key, None) != value:
            spark.conf.set(key, value)
    return spark
