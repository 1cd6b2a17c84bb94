"""`tastegraph import movielens`: a MovieLens release -> raw logs that the ingest reads with no
quarantined line. Small fixtures are written by the tests (the real data set's licence forbids
copying it into the repository); one test reads the real MovieLens 100K from the shared folder."""
from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest

from pipelines.core.contract import ID_PATTERN, STREAMS
from pipelines.importers.movielens import MARKER_FILE, PART_FILE, MovieLensError, import_movielens
from tests.conftest import run
from tests.test_cli import one_line_error, tastegraph

ML100K = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "movielens-100k"
if not ML100K.is_dir():
    ML100K = Path("/work/shared/datasets/movielens-100k")


def ts(when: str) -> int:
    return int(dt.datetime.fromisoformat(when).replace(tzinfo=dt.timezone.utc).timestamp())


# --- fixtures: tiny releases in both formats, written by the tests ----------------------------

GENRES_100K = "unknown|0\nAction|1\nChildren's|2\nComedy|3\nSci-Fi|4\n\n"
ITEMS_100K = [
    "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|1|1|0",
    "2|Amélie (2001)|01-Jan-2001|||0|0|0|1|0",
    "3|unknown||||1|0|0|0|0",
    "4|Star Wars (1977)|01-Jan-1977||http://us.imdb.com/M/title-exact?Star%20Wars%20(1977)|0|1|0|0|1",
    "5|Never Rated (1990)|01-Jan-1990|||0|0|0|1|0",
]
# user, item, rating, time; not in time order (the first rating of movie 1 is the second line)
RATINGS_100K = [
    (2, 1, 2, "1997-09-20T23:59:59"),
    (1, 1, 5, "1997-09-20T10:00:00"),
    (1, 4, 4, "1997-09-20T10:05:00"),
    (1, 2, 3, "1997-09-22T09:00:00"),
    (2, 3, 4, "1997-09-22T12:00:00"),
    (2, 4, 1, "1997-09-22T13:00:00"),
    (3, 1, 4, "1997-09-22T08:00:00"),
]
DAYS_100K = ["1997-09-20", "1997-09-21", "1997-09-22"]  # 09-21 has no rating


def write_100k(folder: Path, ratings=RATINGS_100K) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.genre").write_text(GENRES_100K, encoding="latin-1")
    (folder / "u.item").write_bytes(("\n".join(ITEMS_100K) + "\n").encode("latin-1"))
    (folder / "u.data").write_text("".join(f"{u}\t{m}\t{r}\t{ts(t)}\n" for u, m, r, t in ratings))
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n")
    return folder


MOVIES_CSV = [
    "movieId,title,genres",
    '10,"American President, The (1995)",Comedy|Drama|Romance',
    "20,Heat (1995),Action|Crime|Thriller",
    "30,Toy Story (1995),(no genres listed)",
    '40,"Unrated, The (2000)",Drama',
]
RATINGS_CSV = [
    (1, 10, "4.5", "2015-03-01T10:00:00"),
    (1, 20, "3.5", "2015-03-01T11:00:00"),
    (2, 10, "0.5", "2015-03-02T09:00:00"),
    (2, 30, "2.5", "2015-03-02T09:30:00"),
    (2, 20, "5.0", "2015-03-02T10:00:00"),
    (3, 30, "4.0", "2015-03-01T12:00:00"),
    (3, 10, "2.0", "2015-03-02T12:00:00"),
    (3, 20, "3", "2015-03-02T13:00:00"),
    (1, 30, "1.5", "2015-03-02T14:00:00"),
]
TAGS_CSV = [
    "userId,movieId,tag,timestamp",
    f"1,10,Politics,{ts('2015-03-01T10:01:00')}",
    f"2,10,politics,{ts('2015-03-02T09:01:00')}",
    f'1,10,"funny, warm",{ts("2015-03-01T10:02:00")}',
    f"3,20,Al Pacino,{ts('2015-03-02T13:01:00')}",
]


def write_csv(folder: Path, ratings=RATINGS_CSV) -> Path:
    """CRLF line endings, as some releases have."""
    folder.mkdir(parents=True, exist_ok=True)
    crlf = (lambda lines: "".join(line + "\r\n" for line in lines).encode("utf-8"))
    (folder / "movies.csv").write_bytes(crlf(MOVIES_CSV))
    (folder / "ratings.csv").write_bytes(crlf(["userId,movieId,rating,timestamp",
                                               *(f"{u},{m},{r},{ts(t)}" for u, m, r, t in ratings)]))
    (folder / "tags.csv").write_bytes(crlf(TAGS_CSV))
    return folder


# The 1M / 10M format: "::"-separated, no header; 1M's text is Latin-1, its ratings whole stars.
MOVIES_DAT = [
    "1::Toy Story (1995)::Animation|Children's|Comedy",
    "2::Café au lait (1993)::Comedy",
    "3::Two Colons :: A Title (2000)::Drama",  # the title keeps its "::"
    "4::Unrated (1999)::Drama",
]
RATINGS_DAT = [
    (6040, 1, "5", "2000-04-25T23:05:32"),
    (6040, 2, "3", "2000-04-25T23:10:00"),
    (1, 3, "1", "2000-04-26T08:00:00"),
    (1, 1, "4", "2000-04-26T09:00:00"),
    (2, 2, "2", "2000-04-25T12:00:00"),
]
TAGS_DAT = [f"1::1::pixar::{ts('2000-04-26T09:01:00')}", f"2::3::odd :: meta::{ts('2000-04-26T09:02:00')}"]


def write_dat(folder: Path, ratings=RATINGS_DAT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.dat").write_bytes(("\n".join(MOVIES_DAT) + "\n").encode("latin-1"))
    (folder / "ratings.dat").write_text("".join(f"{u}::{m}::{r}::{ts(t)}\n" for u, m, r, t in ratings))
    (folder / "tags.dat").write_text("\n".join(TAGS_DAT) + "\n", encoding="utf-8")
    (folder / "users.dat").write_text("1::F::1::10::48067\n")
    return folder


def read_raw(root: Path) -> dict[str, dict[str, list[dict]]]:
    """stream -> dt -> records, checking that each file's lines are sorted."""
    out: dict[str, dict[str, list[dict]]] = {}
    for stream in STREAMS:
        for path in sorted((root / stream).glob(f"dt=*/{PART_FILE}")):
            lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
            assert lines == sorted(lines), path
            out.setdefault(stream, {})[path.parent.name[3:]] = [json.loads(line) for line in lines]
    return out


def by_key(raw: dict, stream: str, key: str) -> dict[str, tuple[str, dict]]:
    return {r[key]: (day, r) for day, records in raw.get(stream, {}).items() for r in records}


def contract_problems(root: Path) -> list[tuple]:
    """Every line through the ingest's own contract checker: (stream, dt, line, reason, detail)."""
    from pipelines.core.settings import Settings
    from pipelines.ingest.raw_lines import LineChecker

    problems = []
    for stream in STREAMS:
        for path in sorted((root / stream).glob("dt=*/*")):
            day = dt.date.fromisoformat(path.parent.name[3:])
            checker = LineChecker(stream, day, Settings().earliest_event_date)
            for number, raw in enumerate(gzip.decompress(path.read_bytes()).splitlines(), 1):
                reason, detail, _, _ = checker.check(raw, number)
                if reason is not None:
                    problems.append((stream, day, number, reason, detail))
    return problems


def day_folders(root: Path, stream: str) -> set[str]:
    return {p.parent.name[3:] for p in (root / stream).glob(f"dt=*/{PART_FILE}")}


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- the mapping ----------------------------------------------------------------------------

def test_100k_format_maps_ratings_movies_and_boards(tmp_path):
    src = write_100k(tmp_path / "ml")
    summary = import_movielens(src, tmp_path / "raw")
    raw = read_raw(tmp_path / "raw")

    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == sorted([*STREAMS, MARKER_FILE])  # no u.user
    events = by_key(raw, "events", "event_id")
    assert {k: (day, r["event_type"], r["rating"], r.get("board_id")) for k, (day, r) in events.items()} == {
        "ml-2-1": ("1997-09-20", "closeup", 2, None),
        "ml-1-1": ("1997-09-20", "save", 5, "b1-children_s"),
        "ml-1-4": ("1997-09-20", "save", 4, "b1-action"),
        "ml-1-2": ("1997-09-22", "click", 3, None),
        "ml-2-3": ("1997-09-22", "save", 4, "b2-general"),
        "ml-2-4": ("1997-09-22", "hide", 1, None),
        "ml-3-1": ("1997-09-22", "save", 4, "b3-children_s"),
    }
    assert events["ml-2-1"][1] == {
        "schema_version": 1, "event_id": "ml-2-1", "event_type": "closeup", "event_time": "1997-09-20T23:59:59Z",
        "user_id": "u2", "pin_id": "m1", "session_id": "u2-19970920", "rating": 2,
    }
    assert raw["events"]["1997-09-21"] == []  # a day with no rating still has its (empty) events file

    pins = by_key(raw, "pins", "pin_id")
    assert sorted(pins) == ["m1", "m2", "m3", "m4"]  # m5 is never rated
    assert pins["m1"] == ("1997-09-20", {
        "schema_version": 1, "pin_id": "m1", "creator_id": "movielens", "created_at": "1997-09-20T10:00:00Z",
        "updated_at": "1997-09-20T10:00:00Z", "title": "Toy Story (1995)",
        "description": "Genres: Children's, Comedy.", "link": "http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)",
        "domain": "us.imdb.com",
        "interests": [{"interest": "children_s", "score": 1.0}, {"interest": "comedy", "score": 1.0}],
    })
    assert pins["m2"][1]["title"] == "Amélie (2001)" and pins["m2"][1]["domain"] == "movielens.org"
    assert "link" not in pins["m2"][1]
    assert "interests" not in pins["m3"][1] and "description" not in pins["m3"][1]  # genre "unknown" is none
    assert [i["interest"] for i in pins["m4"][1]["interests"]] == ["action", "sci_fi"]

    boards = by_key(raw, "boards", "board_id")
    assert {k: (day, r["name"], r.get("category"), r["created_at"]) for k, (day, r) in boards.items()} == {
        "b1-children_s": ("1997-09-20", "Children's", "children_s", "1997-09-20T10:00:00Z"),
        "b1-action": ("1997-09-20", "Action", "action", "1997-09-20T10:05:00Z"),
        "b2-general": ("1997-09-22", "General", None, "1997-09-22T12:00:00Z"),
        "b3-children_s": ("1997-09-22", "Children's", "children_s", "1997-09-22T08:00:00Z"),
    }
    assert all(r["owner_id"] == "u" + k[1] and r["is_secret"] is False for k, (_, r) in boards.items())

    assert (summary.users, summary.pins, summary.boards, summary.skipped_unrated) == (3, 4, 4, 1)
    assert summary.events == {"save": 4, "click": 1, "closeup": 1, "hide": 1}
    assert (summary.first_date, summary.last_date, summary.days, summary.days_with_ratings) == (
        "1997-09-20", "1997-09-22", 3, 2)
    assert contract_problems(tmp_path / "raw") == []


def test_csv_format_with_crlf_quoted_titles_half_stars_and_tags(tmp_path):
    src = write_csv(tmp_path / "ml")
    summary = import_movielens(src, tmp_path / "raw")
    raw = read_raw(tmp_path / "raw")

    events = by_key(raw, "events", "event_id")
    assert {k: (r["event_type"], r["rating"], r.get("board_id")) for k, (_, r) in events.items()} == {
        "ml-1-10": ("save", 4.5, "b1-comedy"), "ml-1-20": ("click", 3.5, None), "ml-2-10": ("hide", 0.5, None),
        "ml-2-30": ("closeup", 2.5, None), "ml-2-20": ("save", 5.0, "b2-action"), "ml-3-30": ("save", 4.0, "b3-general"),
        "ml-3-10": ("closeup", 2.0, None), "ml-3-20": ("click", 3.0, None), "ml-1-30": ("hide", 1.5, None),
    }
    assert b'"rating":4.5' in gzip.decompress((tmp_path / "raw/events/dt=2015-03-01" / PART_FILE).read_bytes())
    assert events["ml-3-20"][1]["session_id"] == "u3-20150302" and events["ml-3-20"][0] == "2015-03-02"

    pins = by_key(raw, "pins", "pin_id")
    assert sorted(pins) == ["m10", "m20", "m30"]
    day, m10 = pins["m10"]
    assert (day, m10["title"], m10["created_at"]) == ("2015-03-01", "American President, The (1995)",
                                                      "2015-03-01T10:00:00Z")
    assert m10["description"] == "Genres: Comedy, Drama, Romance. Tags: funny, warm, Politics."
    assert m10["domain"] == "movielens.org" and "link" not in m10
    assert [i["interest"] for i in m10["interests"]] == ["comedy", "drama", "romance"]
    assert pins["m20"][1]["description"] == "Genres: Action, Crime, Thriller. Tags: Al Pacino."
    assert "interests" not in pins["m30"][1] and pins["m30"][0] == "2015-03-01"  # first rated by user 3

    boards = by_key(raw, "boards", "board_id")
    assert {k: (d, r["name"]) for k, (d, r) in boards.items()} == {
        "b1-comedy": ("2015-03-01", "Comedy"), "b2-action": ("2015-03-02", "Action"),
        "b3-general": ("2015-03-01", "General")}
    assert (summary.users, summary.pins, summary.boards, summary.skipped_unrated, summary.tags) == (3, 3, 3, 1, 4)
    assert summary.events == {"save": 3, "click": 2, "closeup": 2, "hide": 2}
    assert contract_problems(tmp_path / "raw") == []


def test_1m_format_with_latin_1_titles_colons_in_text_and_tags(tmp_path):
    summary = import_movielens(write_dat(tmp_path / "ml"), tmp_path / "raw")
    raw = read_raw(tmp_path / "raw")
    events = by_key(raw, "events", "event_id")
    assert {k: (d, r["event_type"], r["rating"], r.get("board_id")) for k, (d, r) in events.items()} == {
        "ml-6040-1": ("2000-04-25", "save", 5.0, "b6040-animation"), "ml-6040-2": ("2000-04-25", "click", 3.0, None),
        "ml-1-3": ("2000-04-26", "hide", 1.0, None), "ml-1-1": ("2000-04-26", "save", 4.0, "b1-animation"),
        "ml-2-2": ("2000-04-25", "closeup", 2.0, None),
    }
    pins = by_key(raw, "pins", "pin_id")
    assert sorted(pins) == ["m1", "m2", "m3"]  # movie 4 is never rated
    assert pins["m2"][1]["title"] == "Café au lait (1993)"  # read as Latin-1, written as UTF-8
    assert pins["m3"][1]["title"] == "Two Colons :: A Title (2000)"
    assert pins["m1"][1]["description"] == "Genres: Animation, Children's, Comedy. Tags: pixar."
    assert pins["m3"][1]["description"] == "Genres: Drama. Tags: odd :: meta."
    assert [i["interest"] for i in pins["m1"][1]["interests"]] == ["animation", "children_s", "comedy"]
    assert (summary.format, summary.users, summary.pins, summary.boards, summary.skipped_unrated, summary.tags) == (
        "1M/10M", 3, 3, 2, 1, 2)
    assert contract_problems(tmp_path / "raw") == []


@pytest.mark.parametrize("write", [write_100k, write_dat, write_csv])
def test_every_day_with_pins_or_boards_has_events_and_ids_follow_the_contract(tmp_path, write):
    import re

    import_movielens(write(tmp_path / "ml"), tmp_path / "raw")
    root = tmp_path / "raw"
    events = day_folders(root, "events")
    assert day_folders(root, "pins") | day_folders(root, "boards") <= events
    first, last = min(events), max(events)
    span = (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days + 1
    assert len(events) == span  # every day of the range, so `run --start --end` finds each
    keys = {"events": ("event_id", "user_id", "pin_id", "board_id", "session_id"), "pins": ("pin_id", "creator_id"),
            "boards": ("board_id", "owner_id")}
    for stream, by_day in read_raw(root).items():
        for day, records in by_day.items():
            for record in records:
                assert record["schema_version"] == 1
                assert all(re.fullmatch(ID_PATTERN, record[k]) for k in keys[stream] if k in record), record
                times = [v for k, v in record.items() if k in ("event_time", "created_at", "updated_at")]
                assert times and all(t.startswith(day + "T") and t.endswith("Z") for t in times), (day, record)


@pytest.mark.parametrize("write", [write_100k, write_dat, write_csv])
def test_same_input_gives_the_same_bytes_whatever_the_line_order(tmp_path, write):
    import_movielens(write(tmp_path / "ml"), tmp_path / "a")
    import_movielens(tmp_path / "ml", tmp_path / "b")
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    gz = (tmp_path / "a" / "events").glob(f"dt=*/{PART_FILE}").__next__().read_bytes()
    assert gz[4:8] == b"\0\0\0\0"  # gzip mtime 0

    ratings = {write_100k: RATINGS_100K, write_dat: RATINGS_DAT, write_csv: RATINGS_CSV}[write]
    import_movielens(write(tmp_path / "reversed", ratings=ratings[::-1]), tmp_path / "c")
    streams = {k: v for k, v in tree(tmp_path / "a").items() if k != MARKER_FILE}
    assert streams == {k: v for k, v in tree(tmp_path / "c").items() if k != MARKER_FILE}


# --- bad input: one line naming the file and line, and nothing written ---------------------

def _replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_bytes().decode("latin-1").split("\n")  # latin-1 keeps every other byte as it was
    lines[number - 1] = text + ("\r" if lines[number - 1].endswith("\r") else "")
    path.write_bytes("\n".join(lines).encode("latin-1"))


def _append(path: Path, text: str) -> None:
    path.write_bytes(path.read_bytes() + (text + ("\r\n" if path.suffix == ".csv" else "\n")).encode("utf-8"))


T0 = ts("1997-09-20T10:00:00")
T1 = ts("2015-03-01T10:00:00")
BAD = {
    # name: (fixture, file, edit, line, words in the message)
    "100k short line": (write_100k, "u.data", lambda p: _replace_line(p, 3, "1\t4\t4"), 3, ["4 tab-separated"]),
    "100k truncated last line": (write_100k, "u.data", lambda p: _append(p, "3\t2\t"), 8, ["4 tab-separated"]),
    "100k non-numeric": (write_100k, "u.data", lambda p: _replace_line(p, 2, f"1\t1\tfive\t{T0}"), 2, ["'five'"]),
    "100k non-numeric time": (write_100k, "u.data", lambda p: _replace_line(p, 2, "1\t1\t5\t8.7e8"), 2, ["timestamp"]),
    "100k unknown movie": (write_100k, "u.data", lambda p: _replace_line(p, 4, f"1\t99\t3\t{T0}"), 4,
                           ["movie 99 is not in u.item"]),
    "100k rating 6": (write_100k, "u.data", lambda p: _replace_line(p, 2, f"1\t1\t6\t{T0}"), 2, ["1-5"]),
    "100k rating 0": (write_100k, "u.data", lambda p: _replace_line(p, 2, f"1\t1\t0\t{T0}"), 2, ["1-5"]),
    "100k half star": (write_100k, "u.data", lambda p: _replace_line(p, 2, f"1\t1\t4.5\t{T0}"), 2, ["1-5"]),
    "100k duplicate": (write_100k, "u.data", lambda p: _append(p, f"3\t1\t2\t{T0}"), 8, ["user 3", "movie 1 twice"]),
    "100k before 1995": (write_100k, "u.data", lambda p: _replace_line(p, 2, "1\t1\t5\t86400"), 2, ["1995-01-01"]),
    "100k item cut short": (write_100k, "u.item", lambda p: _replace_line(p, 2, "2|Amelie|x"), 2, ["10 '|'-separated"]),
    "1m short line": (write_dat, "ratings.dat", lambda p: _replace_line(p, 2, "6040::2::3"), 2,
                      ["4 '::'-separated"]),
    "1m truncated last line": (write_dat, "ratings.dat", lambda p: _append(p, "3::2::"), 6, ["4 '::'-separated"]),
    "1m unknown movie": (write_dat, "ratings.dat", lambda p: _replace_line(p, 3, f"1::99::3::{T1}"), 3,
                         ["movie 99 is not in movies.dat"]),
    "1m rating 6": (write_dat, "ratings.dat", lambda p: _replace_line(p, 1, f"6040::1::6::{T1}"), 1, ["0.5-5.0"]),
    "1m movie cut short": (write_dat, "movies.dat", lambda p: _replace_line(p, 4, "4::Unrated (1999)"), 4,
                           ["3 '::'-separated"]),
    "1m tag of unknown movie": (write_dat, "tags.dat", lambda p: _append(p, f"1::77::x::{T1}"), 3, ["movie 77"]),
    "csv short line": (write_csv, "ratings.csv", lambda p: _replace_line(p, 3, "1,20,3.5"), 3, ["expected 4 fields"]),
    "csv non-numeric user": (write_csv, "ratings.csv", lambda p: _replace_line(p, 2, f"x,10,4.5,{T1}"), 2, ["'x'"]),
    "csv unknown movie": (write_csv, "ratings.csv", lambda p: _replace_line(p, 5, f"2,77,3.0,{T1}"), 5,
                          ["movie 77 is not in movies.csv"]),
    "csv rating 3.7": (write_csv, "ratings.csv", lambda p: _replace_line(p, 2, f"1,10,3.7,{T1}"), 2, ["0.5-5.0"]),
    "csv rating 5.5": (write_csv, "ratings.csv", lambda p: _replace_line(p, 2, f"1,10,5.5,{T1}"), 2, ["0.5-5.0"]),
    "csv rating 0": (write_csv, "ratings.csv", lambda p: _replace_line(p, 2, f"1,10,0.0,{T1}"), 2, ["0.5-5.0"]),
    "csv rating -1": (write_csv, "ratings.csv", lambda p: _replace_line(p, 2, f"1,10,-1,{T1}"), 2, ["0.5-5.0"]),
    "csv duplicate": (write_csv, "ratings.csv", lambda p: _append(p, f"1,10,3.0,{T1}"), 11, ["rated movie 10 twice"]),
    "csv header": (write_csv, "ratings.csv", lambda p: _replace_line(p, 1, "user,movie,rating,time"), 1, ["header"]),
    "csv tag of unknown movie": (write_csv, "tags.csv", lambda p: _append(p, f"1,77,x,{T1}"), 6, ["movie 77"]),
    "csv not utf-8": (write_csv, "movies.csv", lambda p: p.write_bytes(p.read_bytes() + b"50,Caf\xe9,Drama\r\n"), 6,
                      ["UTF-8"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_naming_file_and_line_and_writes_nothing(tmp_path, case):
    write, name, edit, line, words = BAD[case]
    src = write(tmp_path / "ml")
    edit(src / name)
    out = tmp_path / "new" / "raw"
    with pytest.raises(MovieLensError) as err:
        import_movielens(src, out)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{src / name}: line {line}: "), message
    assert all(word in message for word in words), message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml"]  # not even the parent of --out, no temp folder


def test_a_folder_without_movielens_files_names_the_expected_files(tmp_path):
    (tmp_path / "ml").mkdir()
    (tmp_path / "ml" / "u.user").write_text("1|24|M|technician|85711\n")
    with pytest.raises(MovieLensError, match=r"no MovieLens ratings found: expected u\.data, u\.item and u\.genre .*"
                                             r"ratings\.dat and movies\.dat.*ratings\.csv and movies\.csv"):
        import_movielens(tmp_path / "ml", tmp_path / "raw")
    (tmp_path / "ml" / "ratings.dat").write_text(f"1::1::5::{T1}\n")
    with pytest.raises(MovieLensError, match="movies.dat missing: the 1M/10M format needs ratings.dat, movies.dat"):
        import_movielens(tmp_path / "ml", tmp_path / "raw")
    (tmp_path / "ml" / "u.data").write_text(f"1\t1\t5\t{T0}\n")
    with pytest.raises(MovieLensError, match="holds u.data and ratings.dat, the ratings of more than one format: pass"):
        import_movielens(tmp_path / "ml", tmp_path / "raw")
    (tmp_path / "ml" / "ratings.dat").unlink()
    with pytest.raises(MovieLensError, match="u.item and u.genre missing"):
        import_movielens(tmp_path / "ml", tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_out_must_be_new_empty_or_an_earlier_import_of_the_same_source(tmp_path):
    src, other = write_100k(tmp_path / "ml"), write_csv(tmp_path / "ml-csv")
    out = tmp_path / "raw"
    out.mkdir()
    import_movielens(src, out)  # an empty folder is fine
    first = tree(out)
    import_movielens(src, out)  # an earlier import of the same source is replaced
    assert tree(out) == first
    with pytest.raises(MovieLensError, match="not empty and does not hold only an earlier import"):
        import_movielens(other, out)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(MovieLensError, match="not empty"):
        import_movielens(src, out)
    assert tree(out) == {**first, "notes.txt": b"mine"}
    (out / "notes.txt").unlink()

    _append(src / "u.data", "1\t99\t1\t874000000")  # a failed re-import leaves the earlier one as it was
    with pytest.raises(MovieLensError, match="movie 99"):
        import_movielens(src, out)
    assert tree(out) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml", "ml-csv", "raw"]


# --- the real data set ----------------------------------------------------------------------

@pytest.mark.skipif(not (ML100K / "u.data").is_file(), reason=f"MovieLens 100K is not at {ML100K} (shared data set)")
def test_real_movielens_100k_imports_every_rating_and_passes_the_contract(tmp_path):
    summary = import_movielens(ML100K, tmp_path / "raw")
    assert summary.event_count == 100_000
    assert summary.events == {"save": 55_375, "click": 27_145, "closeup": 11_370, "hide": 6_110}
    assert (summary.users, summary.pins, summary.skipped_unrated, summary.boards) == (943, 1_682, 0, 7_924)
    assert (summary.first_date, summary.last_date) == ("1997-09-20", "1998-04-22")
    assert (summary.days, summary.days_with_ratings) == (215, 213)

    root = tmp_path / "raw"
    assert len(day_folders(root, "events")) == 215
    assert day_folders(root, "pins") | day_folders(root, "boards") <= day_folders(root, "events")
    raw = read_raw(root)
    assert sum(len(r) for r in raw["events"].values()) == 100_000
    assert sum(len(r) for r in raw["pins"].values()) == 1_682
    assert len({r["user_id"] for records in raw["events"].values() for r in records}) == 943
    assert contract_problems(root) == []


# --- through the real ingest (Spark) --------------------------------------------------------

def test_the_ingest_reads_an_import_with_nothing_quarantined(spark, tmp_path):
    from pipelines.core import catalog, io
    from pipelines.core.settings import load_settings

    import_movielens(write_100k(tmp_path / "ml"), tmp_path / "raw")
    settings = load_settings(env={}, lake_root=tmp_path / "lake", raw_root=tmp_path / "raw", shuffle_partitions=2)
    for ds in DAYS_100K:
        result = run(spark, settings, "ingest", ds)
        assert all(set(by_reason) <= {"accepted"} for by_reason in result.details["counts"].values()), result.details

    assert io.read_or_empty(spark, catalog.QUARANTINE, settings).count() == 0
    silver = io.read_table(spark, catalog.SILVER_EVENTS, settings)
    assert silver.count() == len(RATINGS_100K)
    assert sorted(r["event_type"] for r in silver.collect()) == sorted(
        ["closeup", "save", "save", "click", "save", "hide", "save"])
    assert io.read_table(spark, catalog.SILVER_PINS, settings).count() == 4
    assert io.read_table(spark, catalog.SILVER_BOARDS, settings).count() == 4
    bronze = {r["event_id"]: r["extra_fields"] for r in io.read_table(spark, catalog.BRONZE_EVENTS, settings).collect()}
    assert bronze["ml-1-1"] == {"rating": "5"} and bronze["ml-2-4"] == {"rating": "1"}  # the rating is recoverable


# --- the command ----------------------------------------------------------------------------

def test_cli_imports_and_prints_the_next_command(tmp_path):
    done = tastegraph("import", "movielens", "--src", str(write_100k(tmp_path / "ml")), "--out", str(tmp_path / "raw"))
    assert done.returncode == 0, done.stderr
    assert "events            7  (save 4, click 1, closeup 1, hide 1)" in done.stdout
    assert (f"TASTEGRAPH_RAW_ROOT={tmp_path / 'raw'} tastegraph run --lake lake --start 1997-09-20 --end 1997-09-22 --one-batch"
            in done.stdout)
    assert (tmp_path / "raw" / "events" / "dt=1997-09-21" / PART_FILE).is_file()


def test_cli_bad_source_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "ml").mkdir()
    done = tastegraph("import", "movielens", "--src", str(tmp_path / "ml"), "--out", str(tmp_path / "raw"))
    one_line_error(done, 1, str(tmp_path / "ml"), "u.data", "ratings.csv")
    write_100k(tmp_path / "ml")
    _append(tmp_path / "ml" / "u.data", "1\t1")
    done = tastegraph("import", "movielens", "--src", str(tmp_path / "ml"), "--out", str(tmp_path / "raw"))
    one_line_error(done, 1, "u.data: line 8", "cut short")
    assert not (tmp_path / "raw").exists()
