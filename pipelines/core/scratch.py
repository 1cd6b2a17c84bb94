"""Scratch folders of a run (the evaluation's training lakes, Beam's staging, a model before it
is renamed into place), and the sweep of those that a killed run left behind.

A run removes its scratch folder when it ends, failed or not. A kill (SIGKILL, out of memory, a
lost machine) cannot, and the evaluation's training lakes are the size of silver several times
over, so no run should leave them for good. Each scratch folder holds an owner file naming the
process that made it: host, boot, pid and the process's start time, which together name one
process for good (a pid is reused, a pid with the same start time on the same boot is not).
Making a scratch folder first sweeps its siblings:
- a folder whose owner ran on this host and is gone is removed;
- a folder of another host is removed only after `FOREIGN_AGE`, since whether its run is alive
  cannot be seen from here (two drivers on different machines sharing one lake);
- a folder without an owner file (made in the instant before the file was written, or by a
  version of tastegraph before this one) is removed after `ORPHAN_AGE`.
So two runs at the same time never remove each other's folder.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

OWNER = ".owner"
ORPHAN_AGE = 3600.0            # seconds: a folder without an owner file
FOREIGN_AGE = 2 * 86400.0      # seconds: a folder made on another host


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _start_time(pid: int) -> str | None:
    """The process's start time since boot (field 22 of /proc/<pid>/stat), or None when the
    process is not there or there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]  # the command name may hold spaces and parentheses


def owner() -> dict:
    """This process, as an owner file names it."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "boot": _boot_id(), "pid": pid, "start": _start_time(pid)}


def _alive(named: dict) -> bool:
    """Whether the process an owner file names (on this host) still runs."""
    pid = named.get("pid")
    if not isinstance(pid, int):
        return False
    if named.get("boot") is not None and named.get("boot") != _boot_id():
        return False  # the machine restarted since
    if named.get("start") is not None:
        return _start_time(pid) == named["start"]
    try:  # no /proc: is there a process with that pid at all?
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def abandoned(folder: Path, now: float | None = None) -> bool:
    """Whether a scratch folder was left by a run that is gone (see the module docstring)."""
    now = time.time() if now is None else now
    try:
        named = json.loads((folder / OWNER).read_text())
    except (OSError, ValueError):
        named = None
    if not isinstance(named, dict):  # no owner file, or not one of ours
        try:
            return now - folder.stat().st_mtime > ORPHAN_AGE
        except OSError:
            return False  # removed meanwhile
    if named.get("host") != socket.gethostname():
        return now - (folder / OWNER).stat().st_mtime > FOREIGN_AGE
    return not _alive(named)


def sweep(parent: Path) -> list[Path]:
    """Remove the folders under `parent` that killed runs left; the removed ones."""
    if not parent.is_dir():
        return []
    removed = []
    for folder in sorted(parent.iterdir()):
        if folder.is_dir() and abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@contextmanager
def folder(parent: Path) -> Iterator[Path]:
    """A new scratch folder under `parent` (which holds nothing else), owned by this process,
    removed when the block ends; the siblings killed runs left are swept first."""
    sweep(parent)
    made = parent / uuid.uuid4().hex
    made.mkdir(parents=True)
    tmp = made / f"{OWNER}.tmp"
    tmp.write_text(json.dumps(owner()))
    os.replace(tmp, made / OWNER)
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


def release(made: Path) -> None:
    """Drop the owner file of a scratch folder that is about to be renamed into place (a
    model's folder): what is left is no longer scratch."""
    (made / OWNER).unlink(missing_ok=True)
