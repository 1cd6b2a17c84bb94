"""Every line of an independent hostile corpus (tests/contract_corpus.py, 500 cases written from
the README's contract alone) gets the reason the README gives it, without Spark."""
import datetime as dt

import pytest

from pipelines.ingest.raw_lines import LineChecker
from tests.contract_corpus import CASES, B, E, P, q

CHECKERS = {s: LineChecker(s, dt.date(2026, 3, 10), dt.date(1995, 1, 1)) for s in ("events", "pins", "boards")}


def test_corpus_is_large_and_covers_every_line_reason():
    from pipelines.core import contract

    reasons = {expected for _, _, _, expected, _ in CASES}
    line_reasons = set(contract.REASONS) - {contract.TRUNCATED_FILE, contract.CORRUPT_FILE}
    assert len(CASES) >= 400 and line_reasons <= reasons and None in reasons


@pytest.mark.parametrize("stream,name,raw,expected,note", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_line_gets_the_reason_the_contract_gives(stream, name, raw, expected, note):
    reason, detail, values, _ = CHECKERS[stream].check(raw, 1 if name.startswith("L1_") else 2)
    assert reason == expected, f"{detail} ({note})"
    assert (values is None) == (expected is not None)


FAST_EDGES = [  # lines where a float or a decoder could disagree with the rules as written
    ("pins", P(set={"price": "-1e-400"})), ("pins", P(set={"price": "-0"})), ("pins", P(set={"price": "1e-400"})),
    ("pins", P(set={"price": "0.1"})), ("pins", P(set={"price": "12"})), ("pins", P(set={"price": "1e400"})),
    ("pins", P(set={"interests": '[{"interest":"a","score":1.0000000000000000001}]'})),
    ("pins", P(set={"interests": '[{"interest":"a","score":1}]'})),
    ("pins", P(set={"interests": '[{"interest":"a","score":-1e-400}]'})),
    ("pins", P(set={"interests": '[{"interest":"a:b","score":0.25},{"interest":"c","score":0}]'})),
    ("pins", P(set={"interests": '[{"interest":"a","score":0.2},{"interest":"a","score":0.3}]'})),
    ("pins", P(set={"interests": '[{"interest":" ","score":0.2}]'})),
    ("pins", P(set={"interests": '[{"interest":"a","score":0.2,"score":0.3}]'})),
    ("pins", P(set={"title": '"x:y"', "title ": '"z"'})),
    ("events", E(set={"user_id": '"u_1"'})), ("events", E(set={"user_id": '"10.0.0.1"'})),
    ("events", E(set={"user_id": '"\\u0075"'})), ("events", E(set={"session_id": '"s:1"', "pin_id": '"p2"'})),
    ("events", E(set={"event_time": '"2026-03-10T12:00:00.123456+00:00"'})),
    ("events", E(set={"event_time": '"2026-02-30T12:00:00Z"'})),
    ("events", E(set={"event_time": '"1994-12-31T23:59:59.999999Z"'})),
    ("events", E(set={"event_time": '"2026-03-11T23:59:59.999999Z"'})),
    ("events", E(set={"event_time": '"2026-03-12T00:00:00Z"'})),
    ("events", E(set={"user_agent": '"a:b" , "user_id" : "u2"'})),
    ("events", E(set={"user_id": '"u1"', "pin_id": "null"})),
    ("boards", B(set={"name": q("\U0001F600" * 4096)})), ("boards", B(set={"name": q("\u00e9" * 4097)})),
    ("events", b"\xef\xbb\xbf" + E().encode()), ("events", E().encode() + b"\r"), ("events", E() + " "),
]


@pytest.mark.parametrize("stream,raw", [(c[0], c[2]) for c in CASES] + [(s, r if isinstance(r, bytes) else r.encode())
                                                                        for s, r in FAST_EDGES])
def test_the_fast_path_accepts_only_what_the_exact_path_accepts_with_the_same_row(stream, raw):
    from pipelines.ingest.raw_lines import exact_row

    checker = CHECKERS[stream]
    fast = checker.fast.row(raw)
    if fast is not None:
        assert fast == exact_row(checker, raw, 2)


def test_the_fast_path_takes_the_common_lines():
    from pipelines.ingest.raw_lines import exact_row

    common = [(c[0], c[2]) for c in CASES if c[1] in ("base_click", "base_pin", "base_board", "save_ok", "all_optionals")]
    common += [("pins", P(set={"price": "12.5", "interests": '[{"interest":"a","score":0.5}]'}).encode())]
    assert len(common) == 6
    for stream, raw in common:
        assert CHECKERS[stream].fast.row(raw) == exact_row(CHECKERS[stream], raw, 2) is not None
