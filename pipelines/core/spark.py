"""Builds the one SparkSession a process uses (Delta extensions, local jars, local-mode tuning).

Under spark-submit the JVM is already configured by the submitter: we keep its master and
resources and only add what Delta needs and the session settings results depend on.

Every session the project creates or joins runs its SQL in UTC, and so does the Python
process: PySpark turns naive Python datetimes into instants (and back) with the process's
local time zone, so a host in another zone would otherwise shift times in and out of Spark.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from pyspark.sql import SparkSession

from pipelines.core.settings import Settings, TastegraphError

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
    # that large runs interpreted, slower than the per-operator code Spark falls back to here.
    "spark.sql.codegen.hugeMethodLimit": "8000",
}

LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")

LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    "spark.databricks.delta.schema.autoMerge.enabled": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.sql.files.maxPartitionBytes": str(64 * 1024 * 1024),
    "spark.sql.warehouse.dir": str(Path(os.environ.get("TMPDIR", "/tmp")) / "tastegraph-warehouse"),
}


class MissingJarsError(TastegraphError, RuntimeError):
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


def use_utc() -> None:
    """Make this Python process's local time zone UTC (see the module docstring)."""
    if os.environ.get("TZ") != "UTC":
        os.environ["TZ"] = "UTC"
        time.tzset()


def java_options(log_file: Path | None) -> str:
    """JVM options: UTC, and with a log file, every JVM log line goes there (log4j2)."""
    options = ["-Duser.timezone=UTC"]
    if log_file is not None:
        options += [f"-Dlog4j2.configurationFile={LOG4J_CONFIG.as_uri()}", f"-Dtastegraph.log.file={log_file}"]
    return " ".join(options)


def submit_conf(settings: Settings, log_file: Path | None = None) -> dict[str, str]:
    """The --conf values of a spark-submit that runs a stage as the flow would."""
    return {
        **SESSION_CONF,
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.driver.extraJavaOptions": java_options(log_file),
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.pyspark.python": sys.executable,
        "spark.ui.showConsoleProgress": "false",
    }


def get_spark(settings: Settings, app_name: str = "tastegraph", jvm_log: Path | None = None) -> SparkSession:
    """Return the process's SparkSession, creating it once. With `jvm_log`, a new local JVM
    writes its output and log lines to that file instead of the console."""
    use_utc()
    active = SparkSession.getActiveSession()
    if active is not None:
        return _with_session_conf(active, settings)
    builder = SparkSession.builder.appName(app_name)
    if under_spark_submit():
        # The submitter chose master, resources and jars; add only Delta's SQL settings.
        for key, value in DELTA_CONF.items():
            builder = builder.config(key, value)
        return _with_session_conf(builder.getOrCreate(), settings)
    # Python workers (the contract checker runs in them) use this interpreter and its packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = {
        **LOCAL_CONF,
        **SESSION_CONF,
        **DELTA_CONF,
        "spark.pyspark.python": os.environ["PYSPARK_PYTHON"],
        "spark.jars": ",".join(delta_jars(settings)),
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.driver.extraJavaOptions": java_options(jvm_log),
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.default.parallelism": str(settings.shuffle_partitions),
        **settings.spark_conf,
    }
    builder = builder.master(settings.spark_master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    with _output_to(jvm_log):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return _with_session_conf(spark, settings)


class _output_to:
    """While the JVM starts, point this process's stdout and stderr (file descriptors 1 and 2)
    at `path`: the JVM inherits them, so what it prints before log4j is set up (and whatever
    it prints later) goes to the log file. No-op without a path."""

    def __init__(self, path: Path | None):
        self.path = path

    def __enter__(self):
        if self.path is None:
            return self
        sys.stdout.flush()
        sys.stderr.flush()
        self.saved = (os.dup(1), os.dup(2))
        target = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(target, 1)
        os.dup2(target, 2)
        os.close(target)
        return self

    def __exit__(self, *exc):
        if self.path is None:
            return False
        for fd, saved in zip((1, 2), self.saved):
            os.dup2(saved, fd)
            os.close(saved)
        return False


def _with_session_conf(spark: SparkSession, settings: Settings) -> SparkSession:
    """Apply the session settings results depend on, also to a session the submitter made."""
    wanted = {**SESSION_CONF, "spark.sql.shuffle.partitions": str(settings.shuffle_partitions)}
    for key, value in wanted.items():
        if spark.conf.get(key, None) != value:
            spark.conf.set(key, value)
    return spark
