"""One SparkSession for the whole suite (local[2], few shuffle partitions), temporary lakes."""
from __future__ import annotations

import atexit
import gzip
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Isolate Prefect's state (temporary server database) and keep every library offline and quiet.
# The main process makes the folder and removes it when it exits; pytest-xdist workers inherit it.
if "PREFECT_HOME" not in os.environ:
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="tastegraph-prefect-")
    atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)

from pipelines.core.settings import disable_telemetry, load_settings  # noqa: E402

disable_telemetry()


@pytest.fixture(scope="session")
def spark():
    from pipelines.core.spark import get_spark

    session = get_spark(load_settings(shuffle_partitions=2))
    yield session
    session.stop()


@pytest.fixture
def settings(tmp_path, spark):
    """Settings bound to a fresh temporary lake."""
    return load_settings(env={}, lake_root=tmp_path / "lake", shuffle_partitions=2)


def run(spark, settings, name: str, ds: str, through: str | None = None):
    """Run a declared stage through the runner, as the flow and spark-submit do."""
    from pipelines.core.stages import run_stage
    from pipelines.registry import stage

    return run_stage(stage(name), ds, settings, spark, through=through)


def write_raw(settings, stream: str, ds: str, lines: list, name: str = "part-00000.jsonl.gz") -> Path:
    """Write raw lines (dicts become JSON, strings are written as they are) like the generator does."""
    path = settings.raw_dir / stream / f"dt={ds}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as fh:
        for line in lines:
            if isinstance(line, dict):
                line = json.dumps(line, sort_keys=True)
            fh.write((line if isinstance(line, bytes) else line.encode("utf-8")) + b"\n")
    return path


def comparable(frame) -> list[str]:
    """A table's rows for an exact comparison across two lakes: without the ingest clock,
    raw file paths relative to their lake's raw folder, doubles to 9 decimals (a decay applied
    in one step or in two differs in the last bits); sorted."""
    from pyspark.sql import functions as F

    frame = frame.drop("ingested_at")
    if "source_file" in frame.columns:
        frame = frame.withColumn("source_file", F.regexp_extract("source_file", r"[a-z]+/dt=[^/]+/[^/]+$", 0))
    for field in frame.schema.fields:
        if field.dataType.typeName() == "double":
            frame = frame.withColumn(field.name, F.round(field.name, 9))
    return sorted(map(repr, rows(frame)))


def rows(df, *order: str) -> list[dict]:
    """A DataFrame as a sorted list of plain dicts, for exact comparisons."""
    data = [r.asDict(recursive=True) for r in df.collect()]
    return sorted(data, key=lambda r: tuple((r[c] is not None, r[c]) for c in order)) if order else data


def headless_dom(page: Path, profile: Path) -> str:
    """The DOM of a local page after Chromium (Debian's, headless, no network) ran its scripts."""
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "make setup installs Debian's chromium"
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


# The modules whose shared fixtures take minutes, started first so that with two workers
# (`make test`, pytest-xdist by file) the long ones run side by side, not one after the other.
SLOW_FIRST = ("tests/test_flow_e2e.py", "tests/test_evaluation.py")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        path = item.nodeid.split("::")[0]
        return SLOW_FIRST.index(path) if path in SLOW_FIRST else len(SLOW_FIRST)
    items.sort(key=rank)  # stable: every module keeps its own order
