"""The README's contract section states every rule declared in pipelines/contract.py."""
import re
from pathlib import Path

from pipelines.core import contract

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SECTION = README[README.index("## Raw log contract"):README.index("## Importing MovieLens")]


def test_every_reason_code_is_documented_in_order():
    table = re.findall(r"^\| `(\w+)` \|", SECTION, flags=re.M)
    assert table == list(contract.REASONS)


def test_every_field_and_limit_is_documented():
    for stream, fields in contract.FIELDS.items():
        for f in fields:
            assert f"`{f.name}`" in SECTION, f"{stream}.{f.name}"
    for event_type in contract.EVENT_TYPES:
        assert event_type in SECTION
    for number in (contract.LINE_MAX_BYTES, contract.ID_MAX_CHARS, contract.TEXT_MAX_CHARS, contract.NAME_MAX_CHARS,
                   contract.INTERESTS_MAX):
        assert f"{number:,}" in SECTION or str(number) in SECTION, number
    assert contract.FILE_SUFFIX in SECTION
    assert "earliest_event_date" in SECTION and "redelivery_window_days" in SECTION
