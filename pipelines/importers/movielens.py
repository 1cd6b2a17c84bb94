"""A MovieLens release -> raw logs under the contract: events, pins and boards by day.

The mapping (the README's "Importing MovieLens" has it as a table): users are `u<userId>`;
movies become pins `m<movieId>` dated by their first rating, with their genres as interests and
their genres and tags as description; each rating is one engagement event by level (>= 4 save,
3 click, 2 closeup, below 2 hide) that keeps the rating as the extra field `rating`; saves go to
a derived board per user and genre (the movie's first genre). Timestamps stay real.

Three formats, told apart by the files present: the 100K format (`u.data`, `u.item`, `u.genre`;
`u.user` holds demographics and is not imported: the contract has no user stream), the `::`
format of 1M and 10M (`ratings.dat`, `movies.dat`, optional `tags.dat`; `users.dat` is not
imported either), and the CSV format of newer releases (`ratings.csv`, `movies.csv`, optional
`tags.csv`). The `::` and CSV formats hold the same fields, so they share the readers below their
line splitting.

Bad input is refused, never imported in part: the first problem raises MovieLensError, one
line naming the file and line. Output is built in a hidden sibling folder of `out` and renamed
into place at the end, so a failed import leaves `out` as it was.

Streaming: ratings are read once, line by line. Event lines are spooled into bucket files by
day, and each day is sorted and compressed from its bucket, so memory holds one bucket, the
movies, the boards, and one (user, movie) pair per rating for the duplicate check. The output is
deterministic: one `part-00000.jsonl.gz` per stream and day, lines sorted, gzip mtime 0.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import json
import os
import re
import shutil
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable, Iterator
from urllib.parse import urlsplit

from pipelines.core import contract as c
from pipelines.core.settings import Settings, TastegraphError

FORMAT_100K, FORMAT_DAT, FORMAT_CSV = "100K", "1M/10M", "CSV"
REQUIRED_FILES = {FORMAT_100K: ("u.data", "u.item", "u.genre"), FORMAT_DAT: ("ratings.dat", "movies.dat"),
                  FORMAT_CSV: ("ratings.csv", "movies.csv")}
TAGS_FILES = {FORMAT_DAT: "tags.dat", FORMAT_CSV: "tags.csv"}
HEADERS = {
    "ratings.csv": ["userId", "movieId", "rating", "timestamp"],
    "movies.csv": ["movieId", "title", "genres"],
    "tags.csv": ["userId", "movieId", "tag", "timestamp"],
}
# The `::` files' fields (no header row), and which one is free text that may itself hold "::".
DAT_FIELDS = {"ratings.dat": (HEADERS["ratings.csv"], None), "movies.dat": (HEADERS["movies.csv"], 1),
              "tags.dat": (HEADERS["tags.csv"], 2)}
NO_GENRE = ("unknown", "(no genres listed)")   # genre names that mean "no genre"
GENERAL_BOARD = ("general", "General")         # (slug, name) of the board for movies with no genre
CREATOR_ID = "movielens"
DEFAULT_DOMAIN = "movielens.org"
PART_FILE = "part-00000" + c.FILE_SUFFIX
MARKER_FILE = "_movielens_import.json"          # names the source of an import; not read by the ingest
EXPECTED = ("u.data, u.item and u.genre (100K format), ratings.dat and movies.dat, optionally tags.dat (1M and 10M), "
            "or ratings.csv and movies.csv, optionally tags.csv (CSV format of newer releases)")
PROGRESS_EVERY = 1_000_000

_BUCKETS = 64
_DIGITS = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_LAST_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z


class MovieLensError(TastegraphError, ValueError):
    """The source cannot be imported as it is; the one-line message names the file and line."""


def _problem(path: Path, line: int | None, problem: str) -> MovieLensError:
    return MovieLensError(f"{path}: line {line}: {problem}" if line else f"{path}: {problem}")


def _shown(text: str, width: int = 60) -> str:
    return repr(text if len(text) <= width else text[:width] + "...")


@dataclass
class Movie:
    movie_id: int
    title: str
    genres: tuple[str, ...]            # in the file's order, without "unknown" / "(no genres listed)"
    link: str | None = None
    tags: dict[str, str] = field(default_factory=dict)  # lowercased tag -> its first spelling (sorted)


@dataclass(frozen=True)
class Rating:
    line: int
    user: int
    movie: int
    rating: int | float                # 1-5 (100K) or 0.5-5.0 in 0.5 steps (1M, 10M, CSV)
    timestamp: int                     # unix seconds


# --- the mapping: pure functions ------------------------------------------------------------

def event_type(rating: float) -> str:
    """The engagement a rating stands for: >= 4 save, 3 click, 2 closeup, below 2 hide."""
    if rating >= 4:
        return c.SAVE
    if rating >= 3:
        return c.CLICK
    if rating >= 2:
        return c.CLOSEUP
    return c.HIDE


def interest_name(genre: str) -> str:
    """A genre as an interest name: lowercased, each run of other characters than a-z 0-9 -> _."""
    return _NOT_ALNUM.sub("_", genre.lower()).strip("_")[: c.NAME_MAX_CHARS]


def board_genre(movie: Movie) -> tuple[str, str]:
    """(slug, name) of the board a save of `movie` goes to: its first genre, else general."""
    for genre in movie.genres:
        slug = interest_name(genre)
        if slug:
            return slug, genre
    return GENERAL_BOARD


def utc_time(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_date(timestamp: int) -> dt.date:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).date()


def event_record(rating: Rating, movie: Movie) -> dict:
    """One rating as an engagement event; saves name the user's board of the movie's genre."""
    kind = event_type(rating.rating)
    record = {
        "schema_version": c.SCHEMA_VERSION, "event_id": f"ml-{rating.user}-{rating.movie}", "event_type": kind,
        "event_time": utc_time(rating.timestamp), "user_id": f"u{rating.user}", "pin_id": f"m{rating.movie}",
        "session_id": f"u{rating.user}-{utc_date(rating.timestamp):%Y%m%d}", "rating": rating.rating,
    }
    if kind == c.SAVE:
        record["board_id"] = f"b{rating.user}-{board_genre(movie)[0]}"
    return record


def description(movie: Movie) -> str:
    """The genres (file order) and the distinct tags (sorted), cut to the contract's text limit."""
    parts = []
    if movie.genres:
        parts.append("Genres: " + ", ".join(movie.genres) + ".")
    if movie.tags:
        parts.append("Tags: " + ", ".join(movie.tags[k] for k in sorted(movie.tags)) + ".")
    return " ".join(parts)[: c.TEXT_MAX_CHARS]


def interests(movie: Movie) -> list[dict]:
    names = list(dict.fromkeys(n for n in map(interest_name, movie.genres) if n))[: c.INTERESTS_MAX]
    return [{"interest": name, "score": 1.0} for name in names]


def domain(link: str | None) -> str:
    try:
        host = urlsplit(link).hostname if link else None
    except ValueError:
        host = None
    return host or DEFAULT_DOMAIN


def pin_record(movie: Movie, first_rating: int) -> dict:
    """A movie as a pin, created and updated at its first rating (release dates predate the
    contract's earliest date, so they are not used as times)."""
    record = {
        "schema_version": c.SCHEMA_VERSION, "pin_id": f"m{movie.movie_id}", "creator_id": CREATOR_ID,
        "created_at": utc_time(first_rating), "updated_at": utc_time(first_rating),
        "title": movie.title[: c.TEXT_MAX_CHARS], "domain": domain(movie.link),
    }
    if description(movie):
        record["description"] = description(movie)
    if movie.link:
        record["link"] = movie.link[: c.TEXT_MAX_CHARS]
    if interests(movie):
        record["interests"] = interests(movie)
    return record


def board_record(user: int, slug: str, name: str, first_save: int) -> dict:
    """A derived board: a user's saves of one genre, created at the first of them."""
    record = {
        "schema_version": c.SCHEMA_VERSION, "board_id": f"b{user}-{slug}", "owner_id": f"u{user}",
        "created_at": utc_time(first_save), "updated_at": utc_time(first_save), "name": name, "is_secret": False,
    }
    if (slug, name) != GENERAL_BOARD:
        record["category"] = slug
    return record


def json_line(record: dict) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- reading the three formats --------------------------------------------------------------

def source_format(src: Path) -> str:
    """FORMAT_100K, FORMAT_DAT or FORMAT_CSV, from the files present; a one-line error when none fits."""
    if not src.is_dir():
        raise MovieLensError(f"{src}: no such folder: --src must be a MovieLens release folder holding {EXPECTED}")
    found = [fmt for fmt, names in REQUIRED_FILES.items() if (src / names[0]).is_file()]
    if not found:
        raise MovieLensError(f"{src}: no MovieLens ratings found: expected {EXPECTED}")
    if len(found) > 1:
        held = " and ".join(REQUIRED_FILES[fmt][0] for fmt in found)
        raise MovieLensError(f"{src}: holds {held}, the ratings of more than one format: pass the folder of one release")
    missing = [name for name in REQUIRED_FILES[found[0]] if not (src / name).is_file()]
    if missing:
        raise MovieLensError(f"{src}: {' and '.join(missing)} missing: the {found[0]} format needs "
                             f"{', '.join(REQUIRED_FILES[found[0]])}")
    return found[0]


def _decoded_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """(line number, text without its \\n or \\r\\n) of every line of a file, blank ones too."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                text = raw.decode(encoding).rstrip("\n").rstrip("\r")
            except UnicodeDecodeError:
                raise _problem(path, number, f"not valid {encoding.upper()} text") from None
            yield number, text.lstrip("\ufeff") if number == 1 else text


def _numbered_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """The lines that hold a record: blank lines are skipped."""
    return ((number, text) for number, text in _decoded_lines(path, encoding) if text.strip())


def _number(path: Path, line: int, what: str, text: str) -> int:
    if not _DIGITS.fullmatch(text):
        raise _problem(path, line, f"{what} {_shown(text)} is not a whole number")
    return int(text)


def _genres_100k(path: Path) -> list[str]:
    by_index: dict[int, str] = {}
    for line, text in _numbered_lines(path, "latin-1"):
        parts = text.split("|")
        if len(parts) != 2:
            raise _problem(path, line, f"expected genre|index, got {_shown(text)}")
        index = _number(path, line, "genre index", parts[1])
        if index in by_index:
            raise _problem(path, line, f"genre index {index} is listed twice")
        by_index[index] = parts[0]
    if sorted(by_index) != list(range(len(by_index))) or not by_index:
        raise _problem(path, None, "expected genres with indexes 0, 1, 2, ... (genre|index per line)")
    return [by_index[i] for i in range(len(by_index))]


def _genres(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.strip() for n in names if n.strip() and n.strip() not in NO_GENRE))


def _movies_100k(path: Path, genres: list[str]) -> dict[int, Movie]:
    movies: dict[int, Movie] = {}
    width = 5 + len(genres)
    for line, text in _numbered_lines(path, "latin-1"):
        parts = text.split("|")
        if len(parts) != width:
            raise _problem(path, line, f"expected {width} '|'-separated fields (id|title|release date|video release|"
                                       f"IMDb URL|{len(genres)} genre flags), got {len(parts)}: cut short?")
        movie_id = _number(path, line, "movie id", parts[0])
        flags = parts[5:]
        if any(flag not in ("0", "1") for flag in flags):
            raise _problem(path, line, "genre flags must be 0 or 1")
        if movie_id in movies:
            raise _problem(path, line, f"movie {movie_id} is listed twice")
        chosen = _genres(g for g, flag in zip(genres, flags) if flag == "1")
        movies[movie_id] = Movie(movie_id, parts[1].strip(), chosen, parts[4].strip() or None)
    return movies


def _ratings_100k(path: Path) -> Iterator[Rating]:
    for line, text in _numbered_lines(path, "latin-1"):
        parts = text.split("\t")
        if len(parts) != 4:
            raise _problem(path, line, f"expected 4 tab-separated fields (user, item, rating, timestamp), "
                                       f"got {len(parts)}: cut short?")
        user, movie = _number(path, line, "user id", parts[0]), _number(path, line, "item id", parts[1])
        if not (_DIGITS.fullmatch(parts[2]) and 1 <= int(parts[2]) <= 5):
            raise _problem(path, line, f"rating {_shown(parts[2])} is not on the 100K scale (a whole number 1-5)")
        yield Rating(line, user, movie, int(parts[2]), _number(path, line, "timestamp", parts[3]))


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a CSV file after its header row, which must be the expected one."""
    header = HEADERS[path.name]
    reader = csv.reader((text + "\n" for _, text in _decoded_lines(path, "utf-8")), strict=True)
    try:
        first = next(reader, None)
        if first != header:
            got = "an empty file" if first is None else _shown(",".join(first))
            raise _problem(path, 1, f"expected the header row {','.join(header)}, got {got}")
        for row in reader:
            if not row or row == [""]:
                continue
            if len(row) != len(header):
                raise _problem(path, reader.line_num, f"expected {len(header)} fields ({','.join(header)}), "
                                                      f"got {len(row)}: cut short?")
            yield reader.line_num, row
    except csv.Error as exc:
        raise _problem(path, reader.line_num, f"not valid CSV ({exc})") from None


def _dat_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a `::` file (no header). Its free-text field (a title, a tag) keeps
    any "::" it holds; text is UTF-8 where the whole file decodes as UTF-8, else Latin-1 (1M)."""
    names, free = DAT_FIELDS[path.name]
    for line, text in _numbered_lines(path, _utf8_or_latin1(path)):
        parts = text.split("::")
        if free is not None and len(parts) > len(names):
            extra = len(parts) - len(names)
            parts = [*parts[:free], "::".join(parts[free:free + extra + 1]), *parts[free + extra + 1:]]
        if len(parts) != len(names):
            raise _problem(path, line, f"expected {len(names)} '::'-separated fields ({'::'.join(names)}), "
                                       f"got {len(parts)}: cut short?")
        yield line, parts


def _utf8_or_latin1(path: Path) -> str:
    """The file's encoding: UTF-8 when all of it decodes as UTF-8, else Latin-1. Read in 1 MB
    chunks (10M's ratings.dat is 250 MB)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        try:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    return _dat_rows(path) if path.suffix == ".dat" else _csv_rows(path)


def _movies(path: Path) -> dict[int, Movie]:
    movies: dict[int, Movie] = {}
    for line, (movie_id, title, genres) in _rows(path):
        number = _number(path, line, "movieId", movie_id)
        if number in movies:
            raise _problem(path, line, f"movie {number} is listed twice")
        movies[number] = Movie(number, title.strip(), _genres(genres.split("|")))
    return movies


def _add_tags(path: Path, movies: dict[int, Movie], movies_file: str) -> int:
    count = 0
    for line, (user, movie_id, tag, timestamp) in _rows(path):
        _number(path, line, "userId", user), _number(path, line, "timestamp", timestamp)
        movie = movies.get(_number(path, line, "movieId", movie_id))
        if movie is None:
            raise _problem(path, line, f"movie {movie_id} is not in {movies_file}")
        tag = " ".join(tag.split())
        if tag:
            key = tag.lower()
            movie.tags[key] = min(movie.tags.get(key, tag), tag)
            count += 1
    return count


def _half_stars(path: Path, line: int, text: str) -> float:
    value = Decimal(text) if _DECIMAL.fullmatch(text) else None
    if value is None or not (Decimal("0.5") <= value <= 5) or (value * 2) % 1:
        raise _problem(path, line, f"rating {_shown(text)} is not on the scale 0.5-5.0 in steps of 0.5")
    return float(value)


def _ratings(path: Path) -> Iterator[Rating]:
    for line, (user, movie, rating, timestamp) in _rows(path):
        yield Rating(line, _number(path, line, "userId", user), _number(path, line, "movieId", movie),
                     _half_stars(path, line, rating), _number(path, line, "timestamp", timestamp))


def write_part(folder: Path, lines: Iterable[str]) -> None:
    """The stream's one file of a day: lines sorted, gzip with mtime 0 (same lines, same bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / PART_FILE).open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                               compresslevel=6) as gz:
        for line in sorted(lines):
            gz.write(line.encode("utf-8") + b"\n")


class _DaySpool:
    """Lines spooled by day into a few bucket files, then handed back one day at a time."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir()
        self.files: dict[int, object] = {}

    def add(self, day: dt.date, line: str) -> None:
        bucket = day.toordinal() % _BUCKETS
        fh = self.files.get(bucket)
        if fh is None:
            fh = self.files[bucket] = (self.folder / f"bucket-{bucket:02d}").open("w", encoding="utf-8", newline="\n")
        fh.write(f"{day.isoformat()}\t{line}\n")

    def days(self) -> Iterator[tuple[str, list[str]]]:
        for fh in self.files.values():
            fh.close()
        for bucket in sorted(self.files):
            by_day: dict[str, list[str]] = defaultdict(list)
            with (self.folder / f"bucket-{bucket:02d}").open(encoding="utf-8", newline="\n") as fh:
                for entry in fh:
                    day, line = entry.rstrip("\n").split("\t", 1)
                    by_day[day].append(line)
            yield from sorted(by_day.items())

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class ImportSummary:
    source: Path
    out: Path
    format: str
    users: int
    pins: int
    boards: int
    events: dict[str, int]             # by event type
    first_date: str
    last_date: str
    days: int                          # days from first to last, each with an events folder
    days_with_ratings: int
    skipped_unrated: int               # movies never rated: no time to date them
    tags: int = 0

    @property
    def event_count(self) -> int:
        return sum(self.events.values())

    def lines(self) -> list[str]:
        by_type = ", ".join(f"{kind} {n:,}" for kind, n in self.events.items())
        empty = self.days - self.days_with_ratings
        return [
            f"imported MovieLens ({self.format} format) from {self.source} into {self.out}",
            f"  users   {self.users:>11,}",
            f"  pins    {self.pins:>11,}  (rated movies; {self.skipped_unrated:,} never rated, skipped)",
            f"  boards  {self.boards:>11,}  (one per user and genre saved)",
            f"  events  {self.event_count:>11,}  ({by_type})",
            f"  days    {self.days:>11,}  ({self.first_date} .. {self.last_date}; {self.days_with_ratings:,} with "
            f"ratings{f', {empty:,} with an empty events file' if empty else ''})",
            *([f"  tags    {self.tags:>11,}  (in pin descriptions)"] if self.tags else []),
        ]


class _Import:
    """One pass over the ratings: events spooled by day, first times of movies and boards kept."""

    def __init__(self, staging: Path, movies: dict[int, Movie], movies_file: str, earliest: dt.date,
                 progress: Callable[[str], None] | None):
        self.staging, self.movies, self.movies_file, self.progress = staging, movies, movies_file, progress
        self.earliest_date = earliest
        self.earliest = int(dt.datetime.combine(earliest, dt.time(), dt.timezone.utc).timestamp())
        self.first_rating: dict[int, int] = {}
        self.first_save: dict[tuple[int, str], int] = {}
        self.board_names: dict[str, str] = {}
        self.rated: set[tuple[int, int]] = set()
        self.users: set[int] = set()
        self.days: set[dt.date] = set()
        self.counts: Counter = Counter()
        self.spool = _DaySpool(staging / "_spool")

    def add(self, path: Path, rating: Rating) -> None:
        movie = self.movies.get(rating.movie)
        if movie is None:
            raise _problem(path, rating.line, f"movie {rating.movie} is not in {self.movies_file}")
        pair = (rating.user, rating.movie)
        if pair in self.rated:
            raise _problem(path, rating.line, f"user {rating.user} rated movie {rating.movie} twice")
        if rating.timestamp < self.earliest:
            raise _problem(path, rating.line, f"timestamp {rating.timestamp} ({utc_time(rating.timestamp)}) is before "
                                              f"{self.earliest_date}, the ingest's earliest_event_date")
        if rating.timestamp > _LAST_TIMESTAMP:
            raise _problem(path, rating.line, f"timestamp {rating.timestamp} is not a real time")
        self.rated.add(pair)
        self.users.add(rating.user)
        record = event_record(rating, movie)
        self.counts[record["event_type"]] += 1
        day = utc_date(rating.timestamp)
        self.days.add(day)
        self.spool.add(day, json_line(record))
        first = self.first_rating.get(rating.movie)
        if first is None or rating.timestamp < first:
            self.first_rating[rating.movie] = rating.timestamp
        if record["event_type"] == c.SAVE:
            slug, name = board_genre(movie)
            self.board_names[slug] = min(self.board_names.get(slug, name), name)
            first = self.first_save.get((rating.user, slug))
            if first is None or rating.timestamp < first:
                self.first_save[(rating.user, slug)] = rating.timestamp
        if self.progress and len(self.rated) % PROGRESS_EVERY == 0:
            self.progress(f"read {len(self.rated):,} ratings")

    def write(self) -> None:
        """Write every stream and day; every day from the first to the last gets an events file."""
        for day, lines in self.spool.days():
            write_part(self.staging / "events" / f"dt={day}", lines)
        self.spool.close()
        first, last = min(self.days), max(self.days)
        for offset in range((last - first).days + 1):
            day = first + dt.timedelta(days=offset)
            if day not in self.days:  # no ratings that day: an empty file, so a run over the range finds it
                write_part(self.staging / "events" / f"dt={day}", [])
        pins: dict[dt.date, list[str]] = defaultdict(list)
        for movie_id, timestamp in self.first_rating.items():
            pins[utc_date(timestamp)].append(json_line(pin_record(self.movies[movie_id], timestamp)))
        boards: dict[dt.date, list[str]] = defaultdict(list)
        for (user, slug), timestamp in self.first_save.items():
            boards[utc_date(timestamp)].append(json_line(board_record(user, slug, self.board_names[slug], timestamp)))
        for stream, by_day in (("pins", pins), ("boards", boards)):
            for day, lines in by_day.items():
                write_part(self.staging / stream / f"dt={day}", lines)


def _marker(src: Path, fmt: str) -> dict:
    return {"importer": "movielens", "format": fmt, "source": str(src.resolve())}


def _check_out(out: Path, src: Path) -> None:
    """`out` may be new, empty, or hold only an earlier import of the same source (replaced)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise MovieLensError(f"{out}: --out is a file, not a folder")
    entries = {p.name for p in out.iterdir()}
    if not entries:
        return
    try:
        previous = json.loads((out / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = None
    if (not isinstance(previous, dict) or previous.get("source") != str(src.resolve())
            or not entries <= {*c.STREAMS, MARKER_FILE}):
        raise MovieLensError(f"{out}: --out is not empty and does not hold only an earlier import of {src}: "
                             f"pass a new or empty folder (an earlier import of the same source is replaced)")


def _place(staging: Path, out: Path) -> None:
    """Rename the finished import into place; an earlier import is moved aside, then removed."""
    if not out.exists():
        os.rename(staging, out)
        return
    old = out.with_name(f".{out.name}.replaced-{os.getpid()}")
    os.rename(out, old)
    try:
        os.rename(staging, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old)


def import_movielens(src: Path, out: Path, earliest: dt.date | None = None,
                     progress: Callable[[str], None] | None = None) -> ImportSummary:
    """Convert the MovieLens release in `src` into raw logs under `out` (all or nothing).

    `earliest` is the ingest's earliest_event_date (default: the setting's default): a rating
    before it is refused here rather than quarantined later.
    """
    src, out = Path(src), Path(out)
    fmt = source_format(src)
    _check_out(out, src)
    earliest = earliest or Settings().earliest_event_date
    created = [p for p in (out.parent, *out.parent.parents) if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    try:
        os.chmod(staging, 0o755)
        summary = _import(src, fmt, out, staging, earliest, progress)
        (staging / MARKER_FILE).write_text(json.dumps(_marker(src, fmt), sort_keys=True) + "\n", encoding="utf-8")
        _place(staging, out)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:  # parents made for --out, innermost first
            try:
                folder.rmdir()
            except OSError:
                break
        if isinstance(exc, OSError):
            raise MovieLensError(f"{exc.filename or out}: {exc.strerror or exc}") from None
        raise
    return summary


def _import(src: Path, fmt: str, out: Path, staging: Path, earliest: dt.date,
            progress: Callable[[str], None] | None) -> ImportSummary:
    tags = 0
    if fmt == FORMAT_100K:
        movies = _movies_100k(src / "u.item", _genres_100k(src / "u.genre"))
        ratings_path = src / "u.data"
        ratings = _ratings_100k(ratings_path)
    else:
        ratings_path, movies_path = (src / name for name in REQUIRED_FILES[fmt])
        movies = _movies(movies_path)
        if (src / TAGS_FILES[fmt]).is_file():
            tags = _add_tags(src / TAGS_FILES[fmt], movies, movies_path.name)
        ratings = _ratings(ratings_path)
    run = _Import(staging, movies, "u.item" if fmt == FORMAT_100K else REQUIRED_FILES[fmt][1], earliest, progress)
    try:
        for rating in ratings:
            run.add(ratings_path, rating)
        if not run.rated:
            raise _problem(ratings_path, None, "holds no ratings")
        run.write()
    finally:
        run.spool.close()
    first, last = min(run.days), max(run.days)
    return ImportSummary(
        source=src, out=out, format=fmt, users=len(run.users), pins=len(run.first_rating),
        boards=len(run.first_save), events={kind: run.counts[kind] for kind in (c.SAVE, c.CLICK, c.CLOSEUP, c.HIDE)},
        first_date=first.isoformat(), last_date=last.isoformat(), days=(last - first).days + 1,
        days_with_ratings=len(run.days), skipped_unrated=len(movies) - len(run.first_rating), tags=tags,
    )
