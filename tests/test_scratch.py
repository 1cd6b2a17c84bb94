"""Scratch folders: removed when the run ends, and swept by the next run when a kill left them,
but never while the run that made them is alive (two runs at once)."""
import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from pipelines.core import scratch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _in_child(parent, then: str) -> subprocess.Popen:
    """A process that makes a scratch folder under `parent`, prints its path, then runs `then`."""
    code = textwrap.dedent(f"""
        import os, signal, sys, time
        from pathlib import Path
        from pipelines.core import scratch
        with scratch.folder(Path({str(parent)!r})) as made:
            (made / "part.parquet").write_text("x")
            print(made, flush=True)
            {then}
    """)
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)


def test_a_scratch_folder_is_removed_when_its_block_ends_failed_or_not(tmp_path):
    with scratch.folder(tmp_path) as made:
        assert json.loads((made / scratch.OWNER).read_text())["pid"] == os.getpid()
    assert not made.exists()
    with pytest.raises(RuntimeError):
        with scratch.folder(tmp_path) as made:
            raise RuntimeError("failed")
    assert not made.exists()


def test_a_folder_left_by_a_killed_run_is_swept_by_the_next_and_a_live_runs_folder_is_not(tmp_path):
    killed = _in_child(tmp_path, "os.kill(os.getpid(), signal.SIGKILL)")
    left = killed.stdout.readline().strip()
    assert killed.wait() == -9 and os.path.isdir(left)  # the kill left it
    alive = _in_child(tmp_path, "time.sleep(60)")
    running = alive.stdout.readline().strip()
    try:
        with scratch.folder(tmp_path) as mine:
            assert not os.path.exists(left)                 # swept
            assert os.path.isdir(running)                   # its run is alive: kept
            assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, os.path.basename(running)])
    finally:
        alive.kill()
        alive.wait()
    assert scratch.sweep(tmp_path) == [tmp_path / os.path.basename(running)]  # now it is gone too


def test_a_reused_pid_does_not_keep_a_dead_runs_folder(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    named = {**scratch.owner(), "start": "1"}  # this pid, but a process that started at another time
    (folder / scratch.OWNER).write_text(json.dumps(named))
    assert scratch.abandoned(folder)
    (folder / scratch.OWNER).write_text(json.dumps({**scratch.owner(), "boot": "another boot"}))
    assert scratch.abandoned(folder)
    (folder / scratch.OWNER).write_text(json.dumps(scratch.owner()))
    assert not scratch.abandoned(folder)


def test_folders_of_another_host_or_without_an_owner_are_swept_only_when_old(tmp_path):
    foreign, orphan = tmp_path / "foreign", tmp_path / "orphan"
    for f in (foreign, orphan):
        f.mkdir()
    (foreign / scratch.OWNER).write_text(json.dumps({**scratch.owner(), "host": socket.gethostname() + "-other"}))
    now = time.time()
    assert not scratch.abandoned(foreign, now) and not scratch.abandoned(orphan, now)
    assert not scratch.abandoned(foreign, now + scratch.ORPHAN_AGE + 60)      # another host: kept longer
    assert scratch.abandoned(orphan, now + scratch.ORPHAN_AGE + 60)
    assert scratch.abandoned(foreign, now + scratch.FOREIGN_AGE + 60)
    old = now - scratch.FOREIGN_AGE - 60
    os.utime(foreign / scratch.OWNER, (old, old))
    assert scratch.sweep(tmp_path) == [foreign]                               # the orphan is young
