"""The `tastegraph` command as a user meets it: a problem they can fix is one `tastegraph: ...`
line and a non-zero exit, never a traceback, and usage errors come before the slow imports."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

TASTEGRAPH = str(Path(sys.executable).parent / "tastegraph")
HEAVY = ("pyspark", "prefect", "feast", "great_expectations", "delta")


def tastegraph(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TASTEGRAPH_")}
    return subprocess.run([TASTEGRAPH, *args], env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


def one_line_error(done: subprocess.CompletedProcess, code: int, *words: str) -> str:
    assert done.returncode == code, (done.returncode, done.stdout[-1500:], done.stderr[-3000:])
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
    # spark-submit merges the driver's stderr into its stdout
    stream = done.stderr if "tastegraph: " in done.stderr else done.stdout
    lines = stream.strip().splitlines()
    last = lines[-1]
    assert last.startswith("tastegraph: "), lines
    assert sum(line.startswith("tastegraph: ") for line in lines) == 1, lines
    for word in words:
        assert word in last, (word, last)
    return last


def test_usage_errors_come_before_the_slow_imports():
    probe = (
        "import sys\nfrom flows import cli\n"
        "try:\n    cli.main(['run'])\nexcept SystemExit as exc:\n    print(exc.code)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.split("\n")[:2] == ["2", "[]"], done.stdout + done.stderr
    assert done.stderr.strip() == ("tastegraph: one of the arguments --demo --ds --start is required "
                                   "(see `tastegraph run --help`)")


@pytest.mark.parametrize("args, words", [
    (["run", "--start", "2026-01-02", "--end", "2026-01-01"], ["--end 2026-01-01 is before --start 2026-01-02"]),
    (["run", "--start", "2026-01-02"], ["--end"]),
    (["run", "--ds", "2026-02-30"], ["2026-02-30"]),
    (["run", "--ds", "2026-01-01", "--one-batch"], ["--one-batch runs a range: give --start and --end"]),
    (["lookup", "--user", "u1", "--pins", "p1, p2"], ["comma-separated pin ids"]),
    (["lookup", "--user", "u1", "--pins", "p1;p2"], ["comma-separated pin ids"]),
    (["submit", "no_such_stage", "--ds", "2026-01-01"], ["no_such_stage", "ingest"]),
    (["submit", "pin_pin", "--ds", "2026-01-01", "--through", "2026-01-03"],
     ["stage pin_pin runs one day", "ingest, graph, feature_tables, training_examples"]),
    (["submit", "graph", "--ds", "2026-01-03", "--through", "2026-01-01"], ["--through 2026-01-01 is before --ds"]),
])
def test_bad_arguments_are_one_line(tmp_path, args, words):
    (tmp_path / "lake").mkdir()
    one_line_error(tastegraph(*args, "--lake", str(tmp_path / "lake")), 2, *words)


@pytest.mark.parametrize("args, code, words", [
    (["build", "--start", "2026-01-05", "--end", "2026-01-01"], 2, ["2026-01-05..2026-01-01 is empty"]),
    (["build", "--start", "2026-01-01", "--end", "2026-01-05", "--test-start", "2026-02-01"], 1,
     ["test split starts on 2026-02-01, outside the range"]),
    (["build", "--start", "2026-01-01", "--end", "2026-01-05", "--feature-service", "nope"], 1,
     ["no feature service 'nope'", "ranking_v1"]),
    (["rebuild", "--id", "ts-nope"], 1, ["no training set 'ts-nope'", "training-set build"]),
])
def test_training_set_problems_are_one_line(tmp_path, args, code, words):
    (tmp_path / "lake").mkdir()
    one_line_error(tastegraph("training-set", *args, "--lake", str(tmp_path / "lake")), code, *words)


@pytest.mark.parametrize("command", [["run", "--ds", "2026-01-01"], ["lookup", "--user", "u1"], ["feast"]])
def test_a_lake_that_does_not_exist_is_an_error_not_a_new_lake(tmp_path, command):
    missing = tmp_path / "no-lake"
    done = tastegraph(*command, "--lake", str(missing), *(["--", "apply"] if command == ["feast"] else []))
    one_line_error(done, 2, str(missing), "does not exist")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # checked before any library speaks
    assert not missing.exists()


def test_a_bad_setting_names_its_source(tmp_path):
    (tmp_path / "lake").mkdir()
    done = tastegraph("run", "--ds", "2026-01-01", "--lake", str(tmp_path / "lake"),
                      env={"TASTEGRAPH_WALK_LENGTH": "2.7"})
    one_line_error(done, 2, "TASTEGRAPH_WALK_LENGTH", "2.7")
    config = tmp_path / "bad.toml"
    config.write_text("coengaged_weight = -5\n")
    done = tastegraph("run", "--ds", "2026-01-01", "--lake", str(tmp_path / "lake"), "--config", str(config))
    one_line_error(done, 2, "coengaged_weight", str(config))


def test_lookup_before_any_run_says_what_to_do(tmp_path):
    (tmp_path / "lake").mkdir()
    one_line_error(tastegraph("lookup", "--user", "u1", "--lake", str(tmp_path / "lake")), 2, "tastegraph run")


def test_days_without_raw_logs_are_one_line_before_anything_starts(tmp_path):
    lake = tmp_path / "lake"
    (lake / "raw" / "events" / "dt=2026-01-01").mkdir(parents=True)
    (lake / "raw" / "events" / "dt=2026-01-01" / "part-0.jsonl.gz").write_bytes(b"")
    (lake / "raw" / "events" / "dt=2026-01-02").mkdir(parents=True)
    (lake / "raw" / "events" / "dt=2026-01-02" / "notes.txt").write_text("not input")
    done = tastegraph("run", "--start", "2026-01-01", "--end", "2026-01-03", "--lake", str(lake))
    last = one_line_error(done, 2, "no raw events for 2026-01-02, 2026-01-03", "tastegraph generate")
    assert "2026-01-01," not in last
    assert not (lake / "_logs").exists(), "nothing started"


def test_a_missing_input_table_is_one_line_from_the_spark_submit_entry_point(spark, tmp_path, capsys):
    """pipelines/jobs.py, run in this process (it joins the session as it does under spark-submit)."""
    from pipelines import jobs

    lake = tmp_path / "lake"
    lake.mkdir()
    code = jobs.main(["pin_pin", "--ds", "2026-01-01", "--config", str(_config(tmp_path, lake))])
    captured = capsys.readouterr()
    assert code == 1
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("tastegraph: table gold.graph_edges does not exist"), captured.err
    assert "tastegraph stages" in last


def _config(tmp_path, lake):
    config = tmp_path / "settings.toml"
    config.write_text(f'lake_root = "{lake}"\nshuffle_partitions = 2\n')
    return config


def test_settings_and_stages_list_what_there_is():
    from pipelines.core.settings import FIELDS
    from pipelines.registry import ALL_STAGES

    listed = tastegraph("settings").stdout
    # every setting on a line of its own, its name a word apart from its default
    assert sorted(line.split()[0] for line in listed.splitlines() if not line.startswith(" ")) == sorted(FIELDS)
    stages = tastegraph("stages").stdout
    assert [line.split()[0] for line in stages.splitlines() if not line.startswith(" ")] == [s.name for s in ALL_STAGES]


def test_settings_shows_the_values_a_file_and_the_environment_set_and_refuses_bad_ones(tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text("[tastegraph]\nwalks_per_pin = 50\neval_holdout = \"latest\"\n")
    listed = tastegraph("settings", "--config", str(config), env={"TASTEGRAPH_EVAL_HOLDOUT": "random"}).stdout.splitlines()
    after = {line.split()[0]: listed[i + 1] for i, line in enumerate(listed[:-1]) if not line.startswith(" ")}
    assert after["walks_per_pin"].split() == ["in", "effect:", "50", "(from", "TOML", "key", "`walks_per_pin`", "in",
                                              f"{config})"]
    # the environment wins over the file, as in every other command
    assert after["eval_holdout"].split() == ["in", "effect:", "random", "(from", "environment", "variable",
                                             "TASTEGRAPH_EVAL_HOLDOUT)"]
    assert not after["walk_length"].lstrip().startswith("in effect")  # a default is not repeated
    last = one_line_error(tastegraph("settings", env={"TASTEGRAPH_EMBEDDING_DIM": "0"}), 2)
    assert "TASTEGRAPH_EMBEDDING_DIM" in last, last


def test_the_gate_imports_in_a_process_without_a_main_file():
    """Importing Great Expectations imports pyspark's Spark Connect client, which ends a process
    whose __main__ has no file (python -c, pytest-xdist workers) with exit code 0 unless its own
    dependencies (pyspark[connect]) are installed."""
    done = subprocess.run([sys.executable, "-c", "import great_expectations\nprint('imported')"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("imported"), done.stdout + done.stderr[-1500:]
