import datetime as dt

import pytest
from pyspark.sql import functions as F

from pipelines.core import catalog, io
from pipelines.ingest import silver
from pipelines.ingest.bronze import RAW_LINE_MAX_CHARS, QuarantineThresholdError
from tests.conftest import comparable, rows, run, write_raw

DS = "2026-01-01"
T = "2026-01-01T10:00:00.000Z"


def ev(event_id, event_type, user="u1", pin="p1", **extra):
    record = {"schema_version": 1, "event_id": event_id, "event_type": event_type, "event_time": T,
              "user_id": user, "pin_id": pin, "client_ip": "203.0.113.9", "user_agent": "Mozilla/5.0"}
    record.update(extra)
    return {k: v for k, v in record.items() if v is not None}


BOARDS = [
    {"schema_version": 1, "board_id": "b1", "owner_id": "u1", "created_at": T, "updated_at": T,
     "name": "dinners", "description": "weeknight food", "category": "recipes", "is_secret": False},
    {"schema_version": 1, "board_id": "b2", "owner_id": "u2", "created_at": T, "updated_at": T,
     "name": "surprise", "description": "gift ideas", "category": "weddings", "is_secret": True},
    {"schema_version": 1, "board_id": "b3", "owner_id": "u2", "created_at": T, "updated_at": T,
     "name": "cars", "description": "mail me at jane.doe@mail.com", "category": "cars", "is_secret": False},
]
PINS = [
    {"schema_version": 1, "pin_id": "p1", "creator_id": "u3", "created_at": T, "updated_at": T,
     "title": "garlic pasta", "description": "ask bob@example.org", "interests": [{"interest": "recipes", "score": 0.9}]},
    {"schema_version": 1, "pin_id": "p1", "creator_id": "u3", "created_at": T, "updated_at": "2026-01-01T11:00:00.000Z",
     "title": "garlic pasta v2", "description": "updated"},
    {"schema_version": 1, "pin_id": "p2", "creator_id": "u3", "created_at": T, "updated_at": T, "title": "bouquet"},
]
EVENTS = [
    ev("e1", "impression"),                                   # 1 ok
    ev("e2", "save", board_id="b1"),                          # 2 ok
    ev("e3", "save", user="u2", pin="p2", board_id="b2"),     # 3 ok in bronze, secret board: not in silver
    ev("e1", "impression"),                                   # 4 redelivered duplicate
    '{"event_id": "e9", "event_type": ',                      # 5 malformed JSON
    ev("e5", "click", is_outbound="yes"),                     # 6 wrong type
    ev("e6", "impression", user=None),                        # 7 missing required id
    ev("e7", "repin"),                                        # 8 unknown event type
    ev("e8", "impression", event_time="yesterday"),           # 9 bad timestamp
    ev("e10", "click", is_outbound=True, is_merchant=False),  # 10 ok
    ev("e11", "save", board_id=None),                         # 11 save without a board
    ev("e12", "closeup", session_id="x" * 20_000),            # 12 oversize string
    ev("e13", "closeup", event_time="2026-01-10T08:00:00.000Z"),  # 13 future timestamp
    ev("e14", "closeup", event_time="2025-12-29T08:00:00.000Z"),  # 14 late event: accepted
    ev("e15", "closeup", client_version="2.1", experiment={"arm": "a"}),  # 15 newer schema: accepted
    b'{"event_id":"e16","event_type":"impression","event_time":"2026-01-01T10:00:00.000Z",'
    b'"user_id":"u\xff\xfe","pin_id":"p1","schema_version":1}',  # 16 invalid UTF-8
]


def _write_day(settings):
    write_raw(settings, "boards", DS, BOARDS)
    write_raw(settings, "pins", DS, PINS)
    write_raw(settings, "events", DS, EVENTS)


@pytest.fixture(scope="module")
def module_settings(spark, tmp_path_factory):
    from pipelines.core.settings import load_settings

    return load_settings(env={}, lake_root=tmp_path_factory.mktemp("ingest") / "lake",
                         shuffle_partitions=2, quarantine_max_share=1.0)


@pytest.fixture(scope="module")
def ingested(spark, module_settings):
    """One ingested day shared by the read-only tests of this module."""
    _write_day(module_settings)
    return run(spark, module_settings, "ingest", DS)


def test_bronze_and_quarantine_split_every_line_once(spark, module_settings, ingested):
    settings = module_settings
    bronze = rows(io.read_table(spark, catalog.BRONZE_EVENTS, settings), "line_number")
    assert [(r["event_id"], r["line_number"]) for r in bronze] == [
        ("e1", 1), ("e2", 2), ("e3", 3), ("e1", 4), ("e10", 10), ("e14", 14), ("e15", 15)
    ]
    assert bronze[-1]["extra_fields"] == {"client_version": "2.1", "experiment": '{"arm":"a"}'}
    assert bronze[0]["extra_fields"] is None
    assert bronze[0]["client_ip"] == "203.0.113.9"  # the restricted zone keeps raw fields
    assert bronze[0]["ds"] == dt.date(2026, 1, 1) and bronze[0]["source_file"].endswith("part-00000.jsonl.gz")

    quarantine = rows(io.read_table(spark, catalog.QUARANTINE, settings).where("stream = 'events'"), "line_number")
    assert [(r["line_number"], r["reason"]) for r in quarantine] == [
        (5, "malformed_json"), (6, "wrong_type"), (7, "missing_required_field"),
        (8, "unknown_event_type"), (9, "bad_timestamp"), (11, "missing_required_field"),
        (12, "oversize_field"), (13, "future_timestamp"), (16, "invalid_utf8"),
    ]
    oversize = next(q for q in quarantine if q["reason"] == "oversize_field")
    assert len(oversize["raw_line"]) == RAW_LINE_MAX_CHARS
    assert quarantine[0]["raw_line"] == '{"event_id": "e9", "event_type": '
    assert ingested.rows_in == len(EVENTS) + len(PINS) + len(BOARDS)
    assert ingested.details["counts"]["events"] == {
        "accepted": 7, "malformed_json": 1, "wrong_type": 1, "missing_required_field": 2,
        "unknown_event_type": 1, "bad_timestamp": 1, "oversize_field": 1, "future_timestamp": 1, "invalid_utf8": 1,
    }


def test_silver_events_deduplicated_private_and_typed(spark, module_settings, ingested):
    settings = module_settings
    silver = io.read_table(spark, catalog.SILVER_EVENTS, settings)
    assert sorted(silver.columns) == sorted(catalog.SILVER_EVENTS.columns)
    assert "client_ip" not in silver.columns and "user_agent" not in silver.columns
    got = rows(silver, "event_id")
    assert [(r["event_id"], r["event_type"], r["board_id"], r["event_date"].isoformat()) for r in got] == [
        ("e1", "impression", None, DS), ("e10", "click", None, DS), ("e14", "closeup", None, "2025-12-29"),
        ("e15", "closeup", None, DS), ("e2", "save", "b1", DS),
    ]
    touched = rows(io.read_table(spark, catalog.TOUCHED_DATES, settings), "event_date")
    assert [(r["event_date"].isoformat(), r["events"]) for r in touched] == [("2025-12-29", 1), (DS, 4)]
    assert got[0]["event_time"] == dt.datetime(2026, 1, 1, 10, 0) and got[0]["event_date"] == dt.date(2026, 1, 1)
    assert got[1]["is_outbound"] is True and got[1]["is_merchant"] is False


def test_silver_dimensions_latest_state_masked_no_secret(spark, module_settings, ingested):
    settings = module_settings
    pins = rows(io.read_table(spark, catalog.SILVER_PINS, settings), "pin_id")
    assert [(p["pin_id"], p["title"]) for p in pins] == [("p1", "garlic pasta v2"), ("p2", "bouquet")]
    assert pins[0]["first_seen"] == dt.datetime(2026, 1, 1, 10) and pins[0]["last_seen"] == dt.datetime(2026, 1, 1, 11)
    boards = rows(io.read_table(spark, catalog.SILVER_BOARDS, settings), "board_id")
    assert [b["board_id"] for b in boards] == ["b1", "b3"]
    assert boards[1]["description"] == "mail me at [email]"


@pytest.mark.parametrize("text,scrubbed", [
    ("write to a.b-c@x.co.uk now", "write to [email] now"),
    ("écrivez à info@café-crème.fr", "écrivez à [email]"),
    ("mailto:jane@example.com?subject=x", "mailto:[email]?subject=x"),
    ("https://x.example/?to=jane%40example.com", "https://x.example/?to=[email]"),
    ("from 192.168.0.1 and 2001:db8::1 and ::1", "from [ip] and [ip] and [ip]"),
    ("at 10:30:45 on std::vector, mac 00:1a:2b:3c:4d:5e", "at 10:30:45 on std::vector, mac 00:1a:2b:3c:4d:5e"),
])
def test_scrub_masks_email_and_ip_addresses_only(spark, text, scrubbed):
    df = spark.createDataFrame([(text,)], "t string")
    assert df.select(silver.scrub(F.col("t")).alias("m")).first()["m"] == scrubbed


def test_rerun_leaves_tables_identical(spark, module_settings, ingested):
    settings = module_settings
    tables = (catalog.BRONZE_EVENTS, catalog.QUARANTINE, catalog.SILVER_EVENTS, catalog.SILVER_PINS, catalog.SILVER_BOARDS)
    ignore = {"ingested_at"}

    def snapshot():
        return {t.name: rows(io.read_table(spark, t, settings).drop(*ignore & set(t.columns)), *[
            c for c in t.columns if c not in ignore]) for t in tables}

    before = snapshot()
    run(spark, settings, "ingest", DS)
    assert snapshot() == before


def test_later_day_redelivery_counted_once_and_board_turned_secret_removed(spark, settings):
    _write_day(settings)
    run(spark, settings.replace(quarantine_max_share=1.0), "ingest", DS)
    day2 = "2026-01-02"
    b1_secret = dict(BOARDS[0], updated_at="2026-01-02T09:00:00.000Z", is_secret=True)
    write_raw(settings, "boards", day2, [b1_secret])
    write_raw(settings, "pins", day2, [])
    write_raw(settings, "events", day2, [ev("e10", "click", is_outbound=True, is_merchant=False), ev("e20", "closeup")])
    run(spark, settings, "ingest", day2)
    ids = [r["event_id"] for r in rows(io.read_table(spark, catalog.SILVER_EVENTS, settings), "event_id")]
    assert ids == ["e1", "e10", "e14", "e15", "e20"]  # e10 once; e2 (a save to b1) went with the board
    boards = [r["board_id"] for r in rows(io.read_table(spark, catalog.SILVER_BOARDS, settings), "board_id")]
    assert boards == ["b3"]


def test_lines_are_numbered_within_their_own_file(spark, settings):
    """Small files share a read partition; each file's lines still count from 1, in file order."""
    write_raw(settings, "events", DS, [ev("a1", "impression"), "not json", ev("a3", "click")])
    write_raw(settings, "events", DS, [ev("b1", "impression")], name="part-00001.jsonl.gz")
    write_raw(settings, "events", DS, ["{", ev("c2", "closeup"), ev("c3", "closeup"), "}"],
              name="part-00002.jsonl.gz")
    run(spark, settings.replace(quarantine_max_share=1.0), "ingest", DS)
    where = F.regexp_extract("source_file", r"part-0000([0-9])", 1)
    placed = {(r["file"], r["line_number"], r["event_id"] or r["reason"])
              for table in (catalog.BRONZE_EVENTS, catalog.QUARANTINE)
              for r in io.read_table(spark, table, settings).select(
                  where.alias("file"), "line_number",
                  F.col("event_id") if table is catalog.BRONZE_EVENTS else F.lit(None).alias("event_id"),
                  F.lit(None).alias("reason") if table is catalog.BRONZE_EVENTS else "reason").collect()}
    assert placed == {("0", 1, "a1"), ("0", 2, "malformed_json"), ("0", 3, "a3"), ("1", 1, "b1"),
                      ("2", 1, "malformed_json"), ("2", 2, "c2"), ("2", 3, "c3"), ("2", 4, "malformed_json")}


def test_quarantine_share_above_threshold_fails_with_top_reasons(spark, settings):
    _write_day(settings)
    with pytest.raises(QuarantineThresholdError, match=r"events:missing_required_field \(2\)"):
        run(spark, settings.replace(quarantine_max_share=0.01), "ingest", DS)
    assert not io.table_exists(spark, catalog.SILVER_EVENTS, settings)


def test_missing_raw_input_names_the_fix(spark, settings):
    with pytest.raises(io.MissingInputError, match="tastegraph generate"):
        run(spark, settings, "ingest", DS)


def _three_days(settings):
    """Day 1 with every kind of bad line; day 2 makes board b1 secret and redelivers e10; day 3
    brings a late event of day 1 and an event of 2026-01-04, which only day 3's own file date
    accepts (day 1's would call it future)."""
    _write_day(settings)
    write_raw(settings, "boards", "2026-01-02", [dict(BOARDS[0], updated_at="2026-01-02T09:00:00.000Z", is_secret=True)])
    write_raw(settings, "pins", "2026-01-02", [dict(PINS[2], updated_at="2026-01-02T09:00:00.000Z", title="roses")])
    write_raw(settings, "events", "2026-01-02", [ev("e10", "click", is_outbound=True, is_merchant=False),
                                                 ev("e20", "closeup", event_time="2026-01-02T10:00:00.000Z")])
    write_raw(settings, "boards", "2026-01-03", [])
    write_raw(settings, "pins", "2026-01-03", [dict(PINS[2], updated_at="2026-01-02T09:00:00.000Z", title="tie")])
    write_raw(settings, "events", "2026-01-03", [ev("e21", "closeup"), ev("e22", "click", event_time="2026-01-04T08:00:00.000Z"),
                                                 ev("e23", "hide", event_time="2026-01-06T08:00:00.000Z")])


def test_a_range_ingested_in_one_batch_equals_its_days_one_by_one(spark, settings, tmp_path):
    settings = settings.replace(quarantine_max_share=1.0)
    batch = settings.replace(lake_root=tmp_path / "batch")
    _three_days(settings)
    _three_days(batch)
    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        run(spark, settings, "ingest", day)
    result = run(spark, batch, "ingest", "2026-01-01", through="2026-01-03")
    assert result.details["event_dates"] == ["2025-12-29", "2026-01-01", "2026-01-02", "2026-01-04"]

    for table in (catalog.BRONZE_EVENTS, catalog.BRONZE_PINS, catalog.BRONZE_BOARDS, catalog.QUARANTINE,
                  catalog.SILVER_EVENTS, catalog.SILVER_PINS, catalog.SILVER_BOARDS):
        assert (comparable(io.read_table(spark, table, batch))
                == comparable(io.read_table(spark, table, settings))), table.name
    # touched_dates is bookkeeping: day by day, day 2 also lists the date of its redelivery of
    # e10 and day 1 counts e2, which day 2's secret board takes back out; the batch lists what
    # reached silver. Either way the stages downstream rewrite every date that changed.
    touched = {(r["ds"].isoformat(), r["event_date"].isoformat(), r["events"])
               for r in io.read_table(spark, catalog.TOUCHED_DATES, batch).collect()}
    assert touched == {("2026-01-01", "2025-12-29", 1), ("2026-01-01", "2026-01-01", 3),
                       ("2026-01-02", "2026-01-02", 1), ("2026-01-03", "2026-01-01", 1),
                       ("2026-01-03", "2026-01-04", 1)}
    silver_ids = [r["event_id"] for r in rows(io.read_table(spark, catalog.SILVER_EVENTS, batch), "event_id")]
    assert silver_ids == ["e1", "e10", "e14", "e15", "e20", "e21", "e22"]  # e23 is future even for day 3
    pin = io.read_table(spark, catalog.SILVER_PINS, batch).where("pin_id = 'p2'").first()
    assert pin["title"] == "roses"  # the same updated_at on a later day is not newer


def test_one_day_over_the_quarantine_limit_stops_a_range_before_silver(spark, settings):
    _three_days(settings)
    with pytest.raises(QuarantineThresholdError, match="ingest 2026-01-01: "):
        run(spark, settings.replace(quarantine_max_share=0.2), "ingest", "2026-01-01", through="2026-01-03")
    assert not io.table_exists(spark, catalog.SILVER_EVENTS, settings)
    assert io.read_table(spark, catalog.QUARANTINE, settings).select("ds").distinct().count() == 2
