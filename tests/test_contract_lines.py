"""Every line of an independent hostile corpus (tests/contract_corpus.py, 500 cases written from
the README's contract alone) gets the reason the README gives it, without Spark."""
import datetime as dt

import pytest

from pipelines.ingest.raw_lines import LineChecker
from tests.contract_corpus import CASES

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
