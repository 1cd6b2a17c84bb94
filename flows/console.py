"""What a person sees: progress per stage and a summary on the console, everything else (Spark,
Prefect, Great Expectations, Feast, warnings) in one log file per run under `<lake>/_logs/`.
`--verbose` shows everything on the console as well.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Iterator

PROGRESS = "tastegraph.progress"
_state: dict[str, object] = {"log_file": None, "verbose": False}


def progress() -> logging.Logger:
    """The logger whose lines a person sees: one per stage started and finished."""
    return logging.getLogger(PROGRESS)


def setup(lake_root: Path, verbose: bool) -> Path:
    """Route logging: progress to the console, everything to a new log file; returns its path."""
    folder = Path(lake_root) / "_logs"
    folder.mkdir(parents=True, exist_ok=True)
    log_file = folder / f"run-{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}.log"
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)
    root.setLevel(logging.INFO)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    if verbose:
        root.addHandler(console)
    else:
        progress().addHandler(console)
    progress().setLevel(logging.INFO)
    logging.captureWarnings(True)
    _state.update(log_file=log_file, verbose=verbose)
    return log_file


def log_file() -> Path | None:
    return _state["log_file"]  # type: ignore[return-value]


def quiet_libraries() -> None:
    """After Prefect is imported: its console handlers go, its records reach the log file."""
    if _state["verbose"] or _state["log_file"] is None:
        return
    file_handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    for name in [None, *logging.root.manager.loggerDict]:
        logger = logging.getLogger(name)
        if not isinstance(logger, logging.Logger) or name == PROGRESS:
            continue
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                logger.removeHandler(handler)
                if not logger.propagate:
                    for file_handler in file_handlers:
                        logger.addHandler(file_handler)


@contextlib.contextmanager
def to_log() -> Iterator[None]:
    """Send what a library prints (Feast's coloured lines, progress bars) to the log file."""
    path = log_file()
    if _state["verbose"] or path is None:
        yield
        return
    with open(path, "a", encoding="utf-8") as sink, contextlib.redirect_stdout(sink), \
            contextlib.redirect_stderr(sink):
        yield
