"""The raw log contract, line by line and file by file, inside a normal generated day.

Each case is a raw line and the outcome the README's contract gives it: accepted (bronze) or a
reason code (quarantine) with the field named in the detail. Files that are damaged, misnamed
or odd are added beside the day's normal files. A second day redelivers events with their
time moved both ways. The day must go through (no line or file stops it), every line must be
in bronze or quarantine exactly once, silver must hold exactly the valid distinct events, and
every table must open with an independent Delta reader.
"""
from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import json
import re

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.core import catalog, contract, io
from pipelines.core.settings import load_settings
from pipelines.synthetic.generate import GenerateConfig, generate
from tests.conftest import run, write_raw

DS = "2026-03-10"
NEXT = "2026-03-11"
T0 = "2026-03-10T10:00:00.000Z"


def ev(event_id, event_type="impression", **fields):
    record = {"schema_version": 1, "event_id": event_id, "event_type": event_type, "event_time": T0,
              "user_id": "uc1", "pin_id": "pc1", "session_id": "sc1", "client_ip": "198.51.100.7",
              "user_agent": "Mozilla/5.0"}
    record.update(fields)
    return record


def line(record: dict, drop: tuple[str, ...] = ()) -> str:
    return json.dumps({k: v for k, v in record.items() if k not in drop}, ensure_ascii=False)


OK = None  # accepted
# (case id, raw line (str or bytes), expected reason, substring of the detail)
EVENT_CASES = [
    # types: nothing is cast
    ("int_event_id", line(ev(12345)), contract.WRONG_TYPE, "event_id: number"),
    ("float_pin_id", line(ev("c-float-pin", pin_id=1.5)), contract.WRONG_TYPE, "pin_id: number"),
    ("bool_user_id", line(ev("c-bool-user", user_id=True)), contract.WRONG_TYPE, "user_id: boolean"),
    ("object_session", line(ev("c-obj-session", session_id={"a": 1})), contract.WRONG_TYPE, "session_id: object"),
    ("string_bool", line(ev("c-string-bool", "click", is_outbound="true")), contract.WRONG_TYPE, "is_outbound"),
    ("string_version", line(ev("c-string-version", schema_version="1")), contract.WRONG_TYPE, "schema_version"),
    ("float_version", line(ev("c-float-version", schema_version=1.5)), contract.WRONG_TYPE, "schema_version"),
    ("version_1_0", line(ev("c-version-1-0", schema_version=1.0)), OK, None),
    ("version_2", line(ev("c-version-2", schema_version=2)), contract.UNSUPPORTED_SCHEMA_VERSION, "2"),
    ("no_version", line(ev("c-no-version"), drop=("schema_version",)), contract.MISSING_REQUIRED, "schema_version"),
    ("number_time", line(ev("c-number-time", event_time=1773136800)), contract.WRONG_TYPE, "event_time: number"),
    ("number_type", line(ev("c-number-type", event_type=5)), contract.WRONG_TYPE, "event_type: number"),
    # JSON dialect: RFC 8259 only, one object per line
    ("single_quotes", "{'schema_version': 1, 'event_id': 'c-sq'}", contract.MALFORMED_JSON, None),
    ("unquoted_names", '{schema_version: 1, "event_id": "c-uq"}', contract.MALFORMED_JSON, None),
    ("nan", line(ev("c-nan")).replace('"schema_version": 1', '"schema_version": NaN'), contract.MALFORMED_JSON, None),
    ("infinity", line(ev("c-inf")).replace('"schema_version": 1', '"schema_version": Infinity'),
     contract.MALFORMED_JSON, None),
    ("trailing_comma", line(ev("c-trailing-comma"))[:-1] + ", }", contract.MALFORMED_JSON, None),
    ("comment", line(ev("c-comment")) + " // note", contract.MALFORMED_JSON, None),
    ("two_objects", line(ev("c-two-a")) + line(ev("c-two-b")), contract.MALFORMED_JSON, "after the object"),
    ("two_objects_comma", line(ev("c-two-comma-a")) + "," + line(ev("c-two-comma-b")), contract.MALFORMED_JSON, None),
    ("object_then_bracket", line(ev("c-then-bracket")) + "]", contract.MALFORMED_JSON, None),
    ("object_then_brace", line(ev("c-then-brace")) + "}", contract.MALFORMED_JSON, None),
    ("object_then_array", line(ev("c-then-array")) + '],[{"a":1}', contract.MALFORMED_JSON, None),
    ("leading_zero", line(ev("c-leading-zero")).replace('"schema_version": 1', '"schema_version": 01'),
     contract.MALFORMED_JSON, None),
    ("array_line", json.dumps([ev("c-array")]), contract.MALFORMED_JSON, "not a JSON object"),
    ("string_line", '"c-string-line"', contract.MALFORMED_JSON, "not a JSON object"),
    ("blank", "", contract.MALFORMED_JSON, "blank"),
    ("spaces", "   \t ", contract.MALFORMED_JSON, "blank"),
    ("duplicate_key", line(ev("c-dup"))[:-1] + ', "event_id": "c-dup-2"}', contract.MALFORMED_JSON, None),
    ("raw_tab_in_string", line(ev("c-raw-tab", user_agent="a\tb")).replace("\\t", "\t"), contract.MALFORMED_JSON,
     None),
    ("bom_not_first_line", "\ufeff" + line(ev("c-bom-late")), contract.MALFORMED_JSON, None),
    ("lone_surrogate", line(ev("c-surrogate")).replace('"Mozilla/5.0"', '"\\ud800"'), contract.MALFORMED_JSON, None),
    ("truncated_json", line(ev("c-cut"))[:40], contract.MALFORMED_JSON, None),
    # timestamps: RFC 3339 UTC, in range
    ("dot_z", line(ev("c-dot-z", event_time="2026-03-10T10:00:00.Z")), contract.BAD_TIMESTAMP, "event_time"),
    ("short_date", line(ev("c-short", event_time="2026-3-10 10:00")), contract.BAD_TIMESTAMP, None),
    ("date_only", line(ev("c-date-only", event_time="2026-03-10")), contract.BAD_TIMESTAMP, None),
    ("year_only", line(ev("c-year-only", event_time="2026")), contract.BAD_TIMESTAMP, None),
    ("no_zone", line(ev("c-no-zone", event_time="2026-03-10T10:00:00")), contract.BAD_TIMESTAMP, None),
    ("space_separator", line(ev("c-space", event_time="2026-03-10 10:00:00Z")), contract.BAD_TIMESTAMP, None),
    ("offset", line(ev("c-offset", event_time="2026-03-10T10:00:00+01:00")), contract.BAD_TIMESTAMP, None),
    ("lowercase", line(ev("c-lower", event_time="2026-03-10t10:00:00z")), contract.BAD_TIMESTAMP, None),
    ("feb_30", line(ev("c-feb30", event_time="2026-02-30T10:00:00Z")), contract.BAD_TIMESTAMP, None),
    ("hour_24", line(ev("c-h24", event_time="2026-03-10T24:00:00Z")), contract.BAD_TIMESTAMP, None),
    ("seven_digits", line(ev("c-7digits", event_time="2026-03-10T10:00:00.1234567Z")), contract.BAD_TIMESTAMP, None),
    ("plus_year", line(ev("c-plus-year", event_time="+2026-03-10T10:00:00Z")), contract.BAD_TIMESTAMP, None),
    ("year_0000", line(ev("c-y0", event_time="0000-01-01T00:00:00Z")), contract.BAD_TIMESTAMP, None),
    ("year_0001", line(ev("c-y1", event_time="0001-01-01T00:00:00Z")), contract.BAD_TIMESTAMP, None),
    ("before_earliest", line(ev("c-1994", event_time="1994-12-31T23:59:59Z")), contract.BAD_TIMESTAMP, "before"),
    ("year_9999", line(ev("c-y9999", event_time="9999-12-31T23:59:59Z")), contract.FUTURE_TIMESTAMP, None),
    ("two_days_ahead", line(ev("c-ahead2", event_time="2026-03-12T00:00:00Z")), contract.FUTURE_TIMESTAMP, None),
    ("one_day_ahead", line(ev("c-ahead1", event_time="2026-03-11T23:59:59Z")), OK, None),
    ("micros", line(ev("c-micros", event_time="2026-03-10T10:00:00.123456Z")), OK, None),
    ("utc_offset", line(ev("c-utc-offset", event_time="2026-03-10T10:00:00+00:00")), OK, None),
    ("late", line(ev("c-late", event_time="2026-03-08T10:00:00Z")), OK, None),
    # ids
    ("empty_id", line(ev("")), contract.INVALID_ID, "event_id"),
    ("email_user", line(ev("c-email-user", user_id="jane@example.com")), contract.INVALID_ID, "user_id"),
    ("ipv4_user", line(ev("c-ipv4-user", user_id="192.168.0.1")), contract.INVALID_ID, "user_id"),
    ("ipv6_user", line(ev("c-ipv6-user", user_id="fe80::1")), contract.INVALID_ID, "user_id"),
    ("space_pin", line(ev("c-space-pin", pin_id="has space")), contract.INVALID_ID, "pin_id"),
    ("long_id", line(ev("c-" + "x" * 200)), contract.OVERSIZE_FIELD, "event_id"),
    # what each event type needs
    ("save_no_board", line(ev("c-save-no-board", "save")), contract.MISSING_REQUIRED, "board_id"),
    ("save_null_board", line(ev("c-save-null-board", "save", board_id=None)), contract.MISSING_REQUIRED, "board_id"),
    ("follow_no_board", line(ev("c-follow-no-board", "follow"), drop=("pin_id",)), contract.MISSING_REQUIRED,
     "board_id"),
    ("click_no_pin", line(ev("c-click-no-pin", "click"), drop=("pin_id",)), contract.MISSING_REQUIRED, "pin_id"),
    ("follow_no_pin", line(ev("c-follow-no-pin", "follow", board_id="bc1"), drop=("pin_id",)), OK, None),
    ("follow_null_pin", line(ev("c-follow-null-pin", "follow", board_id="bc1", pin_id=None)), OK, None),
    ("repin", line(ev("c-repin", "repin")), contract.UNKNOWN_EVENT_TYPE, "repin"),
    ("empty_type", line(ev("c-empty-type", "")), contract.UNKNOWN_EVENT_TYPE, None),
    ("no_user", line(ev("c-no-user"), drop=("user_id",)), contract.MISSING_REQUIRED, "user_id"),
    # fields the contract does not know are kept, whatever their name
    ("corrupt_record_field", line(ev("c-corrupt-field", _corrupt_record="kept")), OK, None),
    ("meta_named_field", line(ev("c-meta-field", ds="2020-01-01", source_file="x")), OK, None),
    ("case_variant_field", line(ev("c-case-field", Event_ID="other")), OK, None),
    ("nested_extra", line(ev("c-nested-extra", experiment={"arm": "b", "n": [1, 2]})), OK, None),
    # encoding, sizes
    ("invalid_utf8", line(ev("c-bad-utf8")).encode().replace(b"Mozilla", b"Moz\xff\xfeilla"), contract.INVALID_UTF8,
     None),
    ("non_ascii", line(ev("c-non-ascii", user_agent="Safari ☕ é")), OK, None),
    ("escaped_non_ascii", line(ev("c-escaped", user_agent="caf\u00e9")).replace("é", "\\u00e9"), OK, None),
    ("oversize_line", line(ev("c-big-line", padding="x" * 70_000)), contract.OVERSIZE_LINE, None),
    ("oversize_text", line(ev("c-big-agent", user_agent="y" * 5000)), contract.OVERSIZE_FIELD, "user_agent"),
    # whitespace JSON allows inside a line: a lone CR is not a line break
    ("cr_inside", line(ev("c-cr-inside")).replace(", ", ",\r ", 1), OK, None),
    ("crlf_end", line(ev("c-crlf")) + "\r", OK, None),
    ("spaces_around", "  " + line(ev("c-spaces-around")) + "  ", OK, None),
]

PIN_T = "2026-03-10T08:00:00Z"


def pin(pin_id, **fields):
    record = {"schema_version": 1, "pin_id": pin_id, "creator_id": "uc1", "created_at": PIN_T, "updated_at": PIN_T,
              "title": "garden beds", "interests": [{"interest": "gardening", "score": 0.9}]}
    record.update(fields)
    return record


PIN_CASES = [
    ("ann_no_score", line(pin("pc-no-score", interests=[{"interest": "gardening"}])), contract.MISSING_REQUIRED,
     "interests[0].score"),
    ("ann_string_score", line(pin("pc-str-score", interests=[{"interest": "art", "score": "0.5"}])),
     contract.WRONG_TYPE, "interests[0].score"),
    ("ann_big_score", line(pin("pc-big-score", interests=[{"interest": "art", "score": 1.5}])),
     contract.INVALID_VALUE, "score is not in [0, 1]"),
    ("ann_extra_key", line(pin("pc-extra-key", interests=[{"interest": "art", "score": 0.5, "src": "x"}])),
     contract.WRONG_TYPE, "unknown key src"),
    ("ann_second_bad", line(pin("pc-second-bad", interests=[{"interest": "art", "score": 0.5},
                                                            {"interest": 7, "score": 0.5}])),
     contract.WRONG_TYPE, "interests[1].interest"),
    ("ann_not_array", line(pin("pc-not-array", interests={"interest": "art", "score": 0.5})), contract.WRONG_TYPE,
     "interests: object"),
    ("ann_string_element", line(pin("pc-str-elem", interests=["art"])), contract.WRONG_TYPE, "interests[0]"),
    ("ann_repeated", line(pin("pc-repeated", interests=[{"interest": "art", "score": 0.5},
                                                        {"interest": "art", "score": 0.4}])),
     contract.INVALID_VALUE, "twice"),
    ("ann_empty_name", line(pin("pc-empty-name", interests=[{"interest": " ", "score": 0.5}])),
     contract.INVALID_VALUE, "empty"),
    ("ann_long_name", line(pin("pc-long-name", interests=[{"interest": "n" * 65, "score": 0.5}])),
     contract.OVERSIZE_FIELD, "longer than 64"),
    ("ann_none", line(pin("pc-no-annotations", interests=[])), OK, None),
    ("price_string", line(pin("pc-price-str", price="12.5")), contract.WRONG_TYPE, "price: string"),
    ("price_negative", line(pin("pc-price-neg", price=-1)), contract.INVALID_VALUE, "price"),
    ("price_huge", line(pin("pc-price-huge", price=1)).replace('"price": 1', '"price": 1e400'),
     contract.INVALID_VALUE, "price"),
    ("price_int", line(pin("pc-price-int", price=12)), OK, None),
    ("bad_created", line(pin("pc-bad-created", created_at="yesterday")), contract.BAD_TIMESTAMP, "created_at"),
    ("idn_email", line(pin("pc-idn-email", description="écrivez à info@café-crème.fr")), OK, None),
    ("mailto_link", line(pin("pc-mailto", link="mailto:jane.doe@example.com?subject=hi")), OK, None),
    ("encoded_mailto", line(pin("pc-mailto-enc", link="https://x.example/?to=jane%40example.com")), OK, None),
    ("ips_in_text", line(pin("pc-ips", title="box 10.0.0.12 or 2001:db8::7 or fe80::1%eth0", domain="192.0.2.1")),
     OK, None),
    ("email_in_interest", line(pin("pc-email-interest", interests=[{"interest": "me@x.example.org", "score": 0.5}])),
     OK, None),
]

BOARD_T = "2026-03-10T07:00:00Z"


def board(board_id, **fields):
    record = {"schema_version": 1, "board_id": board_id, "owner_id": "uc1", "created_at": BOARD_T,
              "updated_at": BOARD_T, "name": "beds", "category": "gardening", "is_secret": False}
    record.update(fields)
    return record


BOARD_CASES = [
    ("public_board", line(board("bc1")), OK, None),
    ("secret_string", line(board("bc-string-secret", is_secret="yes")), contract.WRONG_TYPE, "is_secret: string"),
    ("owner_email", line(board("bc-owner-email", owner_id="a@b.example")), contract.INVALID_ID, "owner_id"),
    ("board_pii", line(board("bc-pii", description="mail me: ana@correo.example.es, or ring 203.0.113.5")), OK, None),
]
# Saves to the board whose secrecy could not be read must stay out of silver.
WITHHELD_SAVE = ev("c-save-withheld", "save", board_id="bc-string-secret")
PUBLIC_SAVE = ev("c-save-public", "save", board_id="bc1")


def _write_lines(path, lines: list, final_newline: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"\n".join(x if isinstance(x, bytes) else x.encode("utf-8") for x in lines)
    with gzip.open(path, "wb") as fh:
        fh.write(data + (b"\n" if final_newline else b""))


def _day_folder(settings, stream, ds):
    return settings.raw_dir / stream / f"dt={ds}"


REDELIVERED = {  # event_id -> the time it has in its second delivery (next day's file)
    "c-move-later": "2026-03-11T09:00:00Z",
    "c-move-earlier": "2026-03-09T09:00:00Z",
    "c-exact-again": T0,
}


@pytest.fixture(scope="module")
def contract_day(spark, tmp_path_factory):
    settings = load_settings(env={}, lake_root=tmp_path_factory.mktemp("contract") / "lake", shuffle_partitions=2,
                             quarantine_max_share=1.0)
    generate(GenerateConfig(out=settings.raw_dir, users=20, pins=120, days=1, events_per_day=1500, seed=9,
                            start_date=dt.date(2026, 3, 10)))
    events = _day_folder(settings, "events", DS)
    corpus = [c[1] for c in EVENT_CASES] + [line(WITHHELD_SAVE), line(PUBLIC_SAVE)]
    corpus += [line(ev(eid, event_time=T0)) for eid in REDELIVERED]
    _write_lines(events / "corpus.jsonl.gz", corpus)
    _write_lines(_day_folder(settings, "pins", DS) / "corpus.jsonl.gz", [c[1] for c in PIN_CASES])
    _write_lines(_day_folder(settings, "boards", DS) / "corpus.jsonl.gz", [c[1] for c in BOARD_CASES])
    # files: a BOM on the first line, no final newline, CRLF line ends
    _write_lines(events / "bom.jsonl.gz", [b"\xef\xbb\xbf" + line(ev("f-bom")).encode(), line(ev("f-bom-2"))])
    _write_lines(events / "no-final-newline.jsonl.gz", [line(ev("f-nonl-1")), line(ev("f-nonl-2"))],
                 final_newline=False)
    _write_lines(events / "crlf.jsonl.gz", [line(ev("f-crlf-1")) + "\r", line(ev("f-crlf-2")) + "\r"])
    # a gzip file cut short: its complete lines are kept, the cut is one quarantine row
    whole = gzip.compress(("\n".join(line(ev(f"f-cut-{i}")) for i in range(400)) + "\n").encode(), mtime=0)
    (events / "cut.jsonl.gz").write_bytes(whole[: len(whole) * 2 // 3])
    (events / "not-gzip.jsonl.gz").write_bytes((line(ev("f-plain")) + "\n").encode())  # plain text, wrong name
    (events / "empty.jsonl.gz").write_bytes(b"")
    # files that are not input
    _write_lines(events / "half.jsonl.gz.tmp", [line(ev("f-tmp"))])
    _write_lines(events / "notes.json", [line(ev("f-json"))])
    _write_lines(events / ".hidden.jsonl.gz", [line(ev("f-hidden"))])
    _write_lines(events / "_SUCCESS.jsonl.gz", [line(ev("f-underscore"))])
    (events / "nested").mkdir()
    _write_lines(events / "nested" / "inner.jsonl.gz", [line(ev("f-nested"))])
    # a file name Spark would read as a glob pattern
    _write_lines(events / "part [1] {a}.jsonl.gz", [line(ev("f-glob-name"))])
    result = run(spark, settings, "ingest", DS)

    # the next day redelivers three events, two of them with their time moved by a day
    next_day = [line(ev(eid, event_time=t)) for eid, t in REDELIVERED.items()] + [line(ev("n-new", event_time=
                                                                                      "2026-03-11T08:00:00Z"))]
    write_raw(settings, "events", NEXT, next_day)
    write_raw(settings, "pins", NEXT, [])
    write_raw(settings, "boards", NEXT, [])
    run(spark, settings, "ingest", NEXT)
    return settings, result


def _outcomes(spark, settings, stream, file_name):
    """line number -> (reason or None, detail) for one file."""
    bronze = io.read_table(spark, catalog.BRONZE_BY_STREAM[stream], settings).where(F.col("ds") == F.lit(DS))
    quarantine = io.read_table(spark, catalog.QUARANTINE, settings).where(
        (F.col("stream") == stream) & (F.col("ds") == F.lit(DS)))
    def pick(df):
        return df.where(F.col("source_file").endswith("/" + file_name))
    out = {}
    for r in pick(bronze).select("line_number").collect():
        assert r["line_number"] not in out
        out[r["line_number"]] = (None, None)
    for r in pick(quarantine).select("line_number", "reason", "detail").collect():
        assert r["line_number"] not in out, f"line {r['line_number']} is in bronze and quarantine"
        out[r["line_number"]] = (r["reason"], r["detail"])
    return out


@pytest.mark.parametrize("stream,cases", [("events", EVENT_CASES), ("pins", PIN_CASES), ("boards", BOARD_CASES)])
def test_every_case_gets_the_outcome_the_contract_gives_it(spark, contract_day, stream, cases):
    settings, _ = contract_day
    got = _outcomes(spark, settings, stream, "corpus.jsonl.gz")
    wrong = []
    for number, (case, _, reason, detail) in enumerate(cases, start=1):
        have_reason, have_detail = got.get(number, ("<missing>", None))
        if have_reason != reason or (detail and detail not in (have_detail or "")):
            wrong.append(f"{case}: expected {reason} ({detail}), got {have_reason} ({have_detail})")
    assert not wrong, "\n".join(wrong)
    expected_lines = len(cases) + (2 + len(REDELIVERED) if stream == "events" else 0)
    assert sorted(got) == list(range(1, expected_lines + 1)), "a line was lost or split"


def test_files_damaged_odd_or_not_input(spark, contract_day):
    settings, result = contract_day
    assert _outcomes(spark, settings, "events", "bom.jsonl.gz") == {1: (None, None), 2: (None, None)}
    assert _outcomes(spark, settings, "events", "no-final-newline.jsonl.gz") == {1: (None, None), 2: (None, None)}
    assert _outcomes(spark, settings, "events", "crlf.jsonl.gz") == {1: (None, None), 2: (None, None)}
    assert _outcomes(spark, settings, "events", "part [1] {a}.jsonl.gz") == {1: (None, None)}
    cut = _outcomes(spark, settings, "events", "cut.jsonl.gz")
    kept = sorted(n for n, (reason, _) in cut.items() if reason is None)
    assert kept == list(range(1, len(kept) + 1)) and 100 < len(kept) < 400  # the complete lines before the cut
    assert cut[len(kept) + 1][0] == contract.TRUNCATED_FILE and "uncompressed bytes" in cut[len(kept) + 1][1]
    assert len(cut) == len(kept) + 1
    plain = _outcomes(spark, settings, "events", "not-gzip.jsonl.gz")
    assert list(plain) == [1] and plain[1][0] == contract.CORRUPT_FILE
    assert _outcomes(spark, settings, "events", "empty.jsonl.gz") == {}
    skipped = set(result.details["skipped_files"]["events"])
    assert skipped == {"half.jsonl.gz.tmp", "notes.json", ".hidden.jsonl.gz", "_SUCCESS.jsonl.gz", "nested/"}
    bronze_ids = {r["event_id"] for r in io.read_table(spark, catalog.BRONZE_EVENTS, settings).collect()}
    assert not {"f-tmp", "f-json", "f-hidden", "f-underscore", "f-nested", "f-plain"} & bronze_ids
    assert "skipped" in result.details["summary"] and "half.jsonl.gz.tmp" in result.details["summary"]


def test_every_raw_line_is_in_bronze_or_quarantine_once(spark, contract_day):
    settings, result = contract_day
    bronze = sum(io.read_table(spark, t, settings).where(F.col("ds") == F.lit(DS)).count()
                 for t in catalog.BRONZE_BY_STREAM.values())
    quarantined = io.read_table(spark, catalog.QUARANTINE, settings).where(F.col("ds") == F.lit(DS)).count()
    assert bronze + quarantined == result.rows_in
    lines = 0
    for stream in contract.STREAMS:
        for path in _day_folder(settings, stream, DS).glob("*.jsonl.gz"):
            if path.name.startswith((".", "_")) or path.name in ("cut.jsonl.gz", "not-gzip.jsonl.gz", "empty.jsonl.gz"):
                continue
            data = gzip.decompress(path.read_bytes())
            lines += data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    cut = _outcomes(spark, settings, "events", "cut.jsonl.gz")
    assert result.rows_in == lines + len(cut) + 1  # + the cut file's rows, + the not-gzip row


def test_silver_holds_exactly_the_valid_distinct_events(spark, contract_day):
    settings, _ = contract_day
    silver = io.read_table(spark, catalog.SILVER_EVENTS, settings)
    assert silver.count() == silver.select("event_id").distinct().count()
    ids = {r["event_id"] for r in silver.select("event_id").collect()}
    accepted = {json.loads(c[1])["event_id"] for c in EVENT_CASES if c[2] is OK}
    assert accepted <= ids
    rejected = {json.loads(c[1])["event_id"] for c in EVENT_CASES if c[2] is not OK and _parses(c[1])}
    assert not rejected & ids
    assert "c-save-public" in ids and "c-save-withheld" not in ids
    times = {r["event_id"]: r["event_time"] for r in silver.where(F.col("event_id").isin(*REDELIVERED)).collect()}
    assert times == {eid: dt.datetime(2026, 3, 10, 10) for eid in REDELIVERED}  # the first delivery wins
    assert "n-new" in ids
    boards = {r["board_id"] for r in io.read_table(spark, catalog.SILVER_BOARDS, settings).collect()}
    assert "bc1" in boards and "bc-string-secret" not in boards


def _parses(raw) -> bool:
    try:
        return isinstance(json.loads(raw), dict) and isinstance(json.loads(raw).get("event_id"), str)
    except (ValueError, TypeError):
        return False


def test_nested_values_and_extra_fields_are_typed_and_kept(spark, contract_day):
    settings, _ = contract_day
    bronze = {r["event_id"]: r for r in io.read_table(spark, catalog.BRONZE_EVENTS, settings).collect()}
    assert bronze["c-corrupt-field"]["extra_fields"] == {"_corrupt_record": "kept"}
    assert bronze["c-meta-field"]["extra_fields"] == {"ds": "2020-01-01", "source_file": "x"}
    assert bronze["c-case-field"]["extra_fields"] == {"Event_ID": "other"}
    assert json.loads(bronze["c-nested-extra"]["extra_fields"]["experiment"]) == {"arm": "b", "n": [1, 2]}
    assert bronze["c-micros"]["event_time"] == dt.datetime(2026, 3, 10, 10, 0, 0, 123456)
    assert bronze["c-escaped"]["user_agent"] == "café"
    pins = {r["pin_id"]: r for r in io.read_table(spark, catalog.BRONZE_PINS, settings).collect()}
    assert pins["pc-price-int"]["price"] == 12.0 and pins["pc-no-annotations"]["interests"] == []
    assert pins["pc-price-int"]["extra_fields"] is None and bronze["c-micros"]["extra_fields"] is None


def _ip_like(text: str) -> list[str]:
    found = re.findall(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w])", text)
    for token in re.findall(r"[0-9A-Fa-f:.%\w]*:[0-9A-Fa-f:.%\w]*", text):
        try:
            ipaddress.ip_address(token.split("%")[0])
            found.append(token)
        except ValueError:
            pass
    return found


def _pii(value: str) -> list[str]:
    return re.findall(r"[^\s@\"'<>]+(?:@|%40)[^\s@\"'<>]+\.[^\s@\"'<>]+", value) + _ip_like(value)


def test_no_pii_past_bronze_in_any_string(spark, contract_day):
    """Every string of every silver table (nested ones too), e-mail and IP addresses of any form."""
    settings, _ = contract_day
    assert _pii("info@café-crème.fr, fe80::1%eth0, 2001:db8::7, 10.0.0.1")  # the scan itself finds them
    for table in catalog.ALL_TABLES:
        if table.zone in ("bronze",) or not io.table_exists(spark, table, settings):
            continue
        df = io.read_table(spark, table, settings)
        strings = [F.to_json(F.col(f.name)) if not isinstance(f.dataType, T.StringType) else F.col(f.name)
                   for f in df.schema.fields if isinstance(f.dataType, (T.StringType, T.ArrayType, T.MapType,
                                                                         T.StructType))]
        for r in df.select(*[s.alias(f"c{i}") for i, s in enumerate(strings)]).collect():
            for value in r:
                assert not value or not _pii(value), f"{table.name}: {value}"
    pins = {r["pin_id"]: r for r in io.read_table(spark, catalog.SILVER_PINS, settings).collect()}
    assert "[email]" in pins["pc-idn-email"]["description"] and "[email]" in pins["pc-mailto"]["link"]
    assert pins["pc-ips"]["title"].count("[ip]") == 3 and pins["pc-ips"]["domain"] == "[ip]"


def test_every_table_opens_with_an_independent_reader(spark, contract_day):
    from deltalake import DeltaTable

    settings, _ = contract_day
    opened = 0
    for table in catalog.ALL_TABLES:
        if not io.table_exists(spark, table, settings):
            continue
        arrow = DeltaTable(table.path(settings)).to_pyarrow_table()
        assert arrow.num_rows == io.read_table(spark, table, settings).count(), table.name
        arrow.to_pandas()
        opened += 1
    assert opened >= 8


def test_rerun_of_the_contract_day_is_identical(spark, contract_day):
    settings, _ = contract_day
    tables = (catalog.BRONZE_EVENTS, catalog.QUARANTINE, catalog.SILVER_EVENTS, catalog.SILVER_PINS,
              catalog.SILVER_BOARDS)

    def snapshot():
        return {t.name: sorted(map(str, io.read_table(spark, t, settings).drop("ingested_at").collect()))
                for t in tables}

    before = snapshot()
    run(spark, settings, "ingest", DS)
    assert snapshot() == before
