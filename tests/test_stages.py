"""The registry and the runner: one declaration per stage, inputs pinned at the start of a
stage, and reads of undeclared tables refused."""
import dataclasses
import datetime as dt
import json
import threading

import pytest

from pipelines.core import catalog, io, runs
from pipelines.core.settings import load_settings
from pipelines.core.stages import Stage, StageOutput, run_stage
from pipelines.registry import ALL_STAGES, STAGES
from pipelines.synthetic.generate import GenerateConfig, generate
from tests.conftest import rows, run

DS = "2026-01-01"


@pytest.fixture(scope="module")
def graph_lake(spark, tmp_path_factory):
    settings = load_settings(env={}, lake_root=tmp_path_factory.mktemp("stages") / "lake", shuffle_partitions=2)
    generate(GenerateConfig(out=settings.raw_dir, users=60, pins=240, days=1, events_per_day=4000, seed=11,
                            start_date=dt.date(2026, 1, 1)))
    run(spark, settings, "ingest", DS)
    run(spark, settings, "graph", DS)
    return settings


def test_registry_declares_every_table_once_in_an_order_that_runs():
    written = [t.name for s in ALL_STAGES for t in s.writes]
    assert len(written) == len(set(written)), "two stages write one table"
    produced: set[str] = set()
    for stage in ALL_STAGES:
        assert {t.name for t in stage.reads} <= produced, f"{stage.name} reads a table no earlier stage writes"
        assert set(stage.suites) == {t.name for t in stage.writes}, f"{stage.name} leaves a table ungated"
        produced |= {t.name for t in stage.writes}


def test_a_stage_cannot_read_a_table_it_did_not_declare(spark, graph_lake):
    sneaky = Stage("sneaky", lambda ctx: StageOutput(rows_in=ctx.read(catalog.SILVER_PINS).count()),
                   reads=(catalog.GRAPH_EDGES,), writes=())
    with pytest.raises(io.UndeclaredReadError, match="sneaky read table pins"):
        run_stage(sneaky, DS, graph_lake, spark)
    failed = io.read_table(spark, catalog.PIPELINE_RUNS, graph_lake).where("stage = 'sneaky'").collect()
    assert [r["status"] for r in failed] == ["failed"]


def test_a_commit_during_a_stage_is_not_read_and_not_recorded(spark, graph_lake):
    """pin_pin, run as declared, except that graph_edges is emptied (a new commit) after the
    runner pinned it and before the stage reads it: the stage still reads, and records, the
    pinned version, so its output equals an undisturbed run."""
    settings = graph_lake
    undisturbed = run(spark, settings, "pin_pin", DS)
    expected = rows(io.read_table(spark, catalog.PIN_PIN_EDGES, settings), "pin_id", "rank")
    assert expected, "the fixture must give pin_pin something to do"
    pinned = io.table_version(spark, catalog.GRAPH_EDGES, settings)
    assert undisturbed.input_versions["graph_edges"] == pinned

    real = next(s for s in STAGES if s.name == "pin_pin")

    def commit_then_run(ctx):
        empty = spark.createDataFrame([], catalog.GRAPH_EDGES.schema)
        io.overwrite(empty, catalog.GRAPH_EDGES, settings)  # a concurrent writer commits
        return real.run(ctx)

    disturbed = run_stage(dataclasses.replace(real, run=commit_then_run), DS, settings, spark)
    assert io.table_version(spark, catalog.GRAPH_EDGES, settings) == pinned + 1
    assert io.read_table(spark, catalog.GRAPH_EDGES, settings).count() == 0
    assert disturbed.input_versions["graph_edges"] == pinned
    assert rows(io.read_table(spark, catalog.PIN_PIN_EDGES, settings), "pin_id", "rank") == expected
    recorded = io.read_table(spark, catalog.PIPELINE_RUNS, settings).where("stage = 'pin_pin'").orderBy(
        "started_at").collect()[-1]
    assert recorded["input_versions"]["graph_edges"] == pinned
    assert recorded["output_versions"]["pin_pin_edges"] == disturbed.output_versions["pin_pin_edges"]
    assert json.loads(recorded["details"])["pair_cost_sum_min_degree_cap_squared"] > 0


def test_versions_and_rows_written_come_from_the_delta_log_as_delta_reports_them(spark, settings):
    from delta.tables import DeltaTable

    table = catalog.TOUCHED_DATES
    assert io.table_version(spark, table, settings) is None
    rows_ = [{"ds": dt.date(2026, 1, 1), "event_date": dt.date(2026, 1, 1), "events": 3}]
    assert io.overwrite(spark.createDataFrame(rows_, table.schema), table, settings) == 1
    rows_.append({"ds": dt.date(2026, 1, 1), "event_date": dt.date(2025, 12, 31), "events": 1})
    assert io.upsert(spark.createDataFrame(rows_, table.schema), table, settings, newer="true") == 2  # 1 new, 1 updated
    history = DeltaTable.forPath(spark, table.path(settings)).history(1).first()
    assert io.table_version(spark, table, settings) == history["version"] >= 1
    # The newest commit carrying a metadata field, as Delta's own history reports it.
    key = "spark.databricks.delta.commitInfo.userMetadata"
    for metadata in ('{"mark": 1}', None, '{"mark": 5}', "not json", '{"other": 2}', "[3]"):
        if metadata:
            spark.conf.set(key, metadata)
        io.append(spark.createDataFrame(rows_[:1], table.schema), table, settings)
        spark.conf.unset(key)
    carried = [(r["version"], json.loads(r["userMetadata"])["mark"]) for r in DeltaTable.forPath(
        spark, table.path(settings)).history().collect() if (r["userMetadata"] or "").startswith('{"mark"')]
    assert io.last_commit_metadata(spark, table, settings, "mark") == carried[0][1] == 5
    assert io.last_commit_metadata(spark, table, settings, "other") == 2
    assert io.last_commit_metadata(spark, table, settings, "absent") is None
    assert io.last_commit_metadata(spark, catalog.GRAPH_EDGES, settings, "mark") is None  # no table


def test_written_rows_of_a_change_feed_are_each_keys_latest_row(spark, settings):
    """What the gate checks of a table it reads through its Change Data Feed: the rows the run
    inserted or updated, each key once, at its latest; a key the run deleted is absent."""
    table = catalog.GRAPH_EDGE_DAYS
    day = dt.date(2026, 1, 1)

    def edges(counts: dict[str, int]):
        t = dt.datetime(2026, 1, 1, 9)
        return spark.createDataFrame(
            [{"event_date": day, "src_type": "user", "src_id": "u1", "dst_type": "pin", "dst_id": pin,
              "edge_type": "save", "event_count": n, "first_seen": t, "last_seen": t} for pin, n in counts.items()],
            table.schema)

    def written(before: int, after: int) -> list[tuple[str, int]]:
        got = io.written_rows(spark, table, settings, day.isoformat(), before, after)
        return sorted((r["dst_id"], r["event_count"]) for r in got.collect())

    where = f"event_date = '{day}'"
    io.overwrite(edges({"p1": 1, "p2": 1}), table, settings)
    first = io.table_version(spark, table, settings)
    # One commit that deletes p1's old row and inserts its new one: the new one, every time.
    io.overwrite_where(edges({"p1": 2, "p3": 1}), table, settings, where)
    second = io.table_version(spark, table, settings)
    assert written(first, second) == [("p1", 2), ("p3", 1)]
    # Two commits: p1 at its latest; p3, inserted by the first and deleted by the second, absent.
    io.overwrite_where(edges({"p1": 3}), table, settings, where)
    third = io.table_version(spark, table, settings)
    assert written(first, third) == [("p1", 3)]
    assert written(second, second) == []
    # A key written twice is shown twice, so the gate's key check sees it (one commit or more).
    io.overwrite_where(edges({"p1": 4}).unionByName(edges({"p1": 5})), table, settings, where)
    assert written(third, io.table_version(spark, table, settings)) == [("p1", 4), ("p1", 5)]
    assert written(first, io.table_version(spark, table, settings)) == [("p1", 4), ("p1", 5)]


def test_ops_records_in_background_are_written_in_order_before_the_block_ends(spark, graph_lake):
    """Inside records_in_background a record returns before its append (here held until
    released); leaving the block writes every record in order, also when the block raises
    (a failed step's row is there when its error reaches the caller)."""
    started = dt.datetime(2026, 1, 1, 12)
    release = threading.Event()
    calls: list[str] = []
    before = io.table_version(spark, catalog.PIPELINE_RUNS, graph_lake)
    with runs.records_in_background():
        runs._record(lambda: (release.wait(30), calls.append("held")))
        for i in range(3):
            runs.record_run(spark, graph_lake, "bg-run", runs.StageResult(stage=f"bg{i}", ds=DS, rows_in=i),
                            "success", started)
        assert calls == []  # the flow went on while the first append waited
        release.set()
    assert calls == ["held"]
    with pytest.raises(ValueError, match="step broke"):
        with runs.records_in_background():
            runs.record_run(spark, graph_lake, "bg-run", runs.StageResult(stage="bg3", ds=DS), "failed", started,
                            message="step broke")
            raise ValueError("step broke")
    # One commit per record, in the order recorded: version before + k holds the first k.
    for k in range(1, 5):
        at = io.read_table(spark, catalog.PIPELINE_RUNS, graph_lake, version=before + k).where("run_id = 'bg-run'")
        assert sorted(r["stage"] for r in at.collect()) == [f"bg{i}" for i in range(k)]
    failed = io.read_table(spark, catalog.PIPELINE_RUNS, graph_lake).where("stage = 'bg3'").first()
    assert (failed["status"], failed["message"]) == ("failed", "step broke")


def test_an_ops_record_that_fails_in_the_background_fails_the_block():
    def broken():
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        with runs.records_in_background():
            runs._record(broken)
    assert not runs._WRITER  # the next block starts afresh
    with runs.records_in_background():
        with runs.records_in_background():  # nested: waits for what was recorded so far
            done: list[int] = []
            runs._record(lambda: done.append(1))
        assert done == [1]
