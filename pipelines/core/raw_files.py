"""Raw log files: which files of a day are input, which are damaged, and the lines they hold.

Only ``*.jsonl.gz`` files directly in ``<raw>/<stream>/dt=<ds>/`` are input; anything else
(a half-written ``.tmp``, a stray ``.json``, a folder) is listed as skipped and never read.
Every input file's gzip stream is decompressed once to check that it is whole (C zlib, in
threads: a fraction of a second per hundred megabytes). Whole files are read by Spark. A file
cut short or damaged keeps every complete line before the damage; the damage itself becomes
one quarantine row (`truncated_file` or `corrupt_file`, with the byte offset), so one bad file
never stops a day.

Lines end at ``\\n`` only (an optional ``\\r`` before it is removed later, with the other line
rules, in the parser); line numbers count ``\\n``.
"""
from __future__ import annotations

import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipelines.core.contract import CORRUPT_FILE, FILE_SUFFIX, TRUNCATED_FILE

_CHUNK = 1 << 20
_GZIP = 31  # zlib wbits for a gzip header and trailer (checks the CRC and the length)


@dataclass(frozen=True)
class Damage:
    """What could be read of a damaged file: its complete lines and where the damage starts."""

    path: str
    reason: str               # truncated_file or corrupt_file
    lines: tuple[bytes, ...]  # complete lines before the damage, in order
    fragment: bytes           # the partial line at the damage (may be empty)
    offset: int               # uncompressed bytes decoded before the damage
    message: str

    @property
    def cut_line(self) -> int:
        return len(self.lines) + 1

    @property
    def detail(self) -> str:
        return f"{self.message} after {self.offset:,} uncompressed bytes (line {self.cut_line})"


@dataclass(frozen=True)
class RawDay:
    """The files of one stream and day, sorted by name."""

    stream: str
    ds: str
    folder: Path
    whole: tuple[str, ...] = ()
    whole_bytes: int = 0          # uncompressed bytes of the whole files (0: they hold no line)
    damaged: tuple[Damage, ...] = ()
    skipped: tuple[str, ...] = ()
    empty: tuple[str, ...] = ()   # zero-byte input files: no lines
    exists: bool = True

    @property
    def input_files(self) -> int:
        return len(self.whole) + len(self.damaged) + len(self.empty)


@dataclass
class _Decoded:
    data: bytearray | None
    size: int = 0
    error: str | None = None   # truncated_file / corrupt_file
    message: str = ""


def _decode(path: str, keep: bool) -> _Decoded:
    """Decompress a gzip file (any number of members) to its end; keep the output if asked."""
    out = _Decoded(bytearray() if keep else None)
    d, member_started = zlib.decompressobj(_GZIP), False
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            data = chunk
            while data:
                try:
                    piece = d.decompress(data)
                except zlib.error as exc:
                    out.error, out.message = CORRUPT_FILE, f"gzip data is damaged ({exc})"
                    return out
                member_started = True
                out.size += len(piece)
                if keep:
                    out.data += piece
                if d.eof:  # a member ended: what follows is another member (or nothing)
                    data, d, member_started = d.unused_data, zlib.decompressobj(_GZIP), False
                else:
                    data = b""
    if member_started:
        out.error, out.message = TRUNCATED_FILE, "gzip stream ends before its end marker"
    return out


def inspect(path: str) -> Damage | int:
    """The uncompressed size when the file's gzip stream is whole; else what can be saved of it."""
    check = _decode(path, keep=False)
    if check.error is None:
        return check.size
    decoded = _decode(path, keep=True)
    data = bytes(decoded.data or b"")
    *lines, fragment = data.split(b"\n")
    return Damage(path, decoded.error or CORRUPT_FILE, tuple(lines), fragment, decoded.size, decoded.message)


def has_input(raw_dir: Path, stream: str, ds: str) -> bool:
    """Whether a day of a stream has at least one input file (a cheap check before a run)."""
    folder = raw_dir / stream / f"dt={ds}"
    return folder.is_dir() and any(
        e.is_file() and e.name.endswith(FILE_SUFFIX) and not e.name.startswith((".", "_")) for e in folder.iterdir())


def list_day(raw_dir: Path, stream: str, ds: str, threads: int = 4) -> RawDay:
    """The input files of one stream and day, each checked for damage."""
    folder = (raw_dir / stream / f"dt={ds}").resolve()
    if not folder.is_dir():
        return RawDay(stream, ds, folder, exists=False)
    inputs, skipped, empty = [], [], []
    for entry in sorted(folder.iterdir()):
        name = entry.name
        if entry.is_file() and name.endswith(FILE_SUFFIX) and not name.startswith((".", "_")):
            (empty if entry.stat().st_size == 0 else inputs).append(str(entry))
        else:
            skipped.append(name + ("/" if entry.is_dir() else ""))
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(inputs), os.cpu_count() or 1))) as pool:
        checks = list(pool.map(inspect, inputs)) if inputs else []
    whole = tuple(p for p, check in zip(inputs, checks) if not isinstance(check, Damage))
    size = sum(check for check in checks if not isinstance(check, Damage))
    damaged = tuple(check for check in checks if isinstance(check, Damage))
    return RawDay(stream, ds, folder, whole, size, damaged, tuple(skipped), tuple(empty))
