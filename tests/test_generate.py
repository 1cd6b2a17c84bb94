import datetime as dt
import gzip
import json
from collections import Counter

import pytest

from pipelines.synthetic.generate import GenerateConfig, GenerateError, build_world, generate, parse_noise


def _cfg(out, **kw):
    base = dict(out=out, users=50, pins=300, days=2, start_date=dt.date(2026, 1, 1), seed=11, events_per_day=3000)
    base.update(kw)
    return GenerateConfig(**base)


def _lines(path):
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return fh.read().splitlines()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    generate(_cfg(tmp_path / "a"))
    generate(_cfg(tmp_path / "b"))
    generate(_cfg(tmp_path / "c", seed=12))
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.gz"))
    assert len(files) == 6  # three streams x two days
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    assert (tmp_path / "a" / files[-1]).read_bytes() != (tmp_path / "c" / files[-1]).read_bytes()


def test_funnel_interests_noise_and_zipf(tmp_path):
    cfg = _cfg(tmp_path, noise=parse_noise("malformed=0.01,duplicate=0.01"))
    generate(cfg)
    lines = _lines(tmp_path / "events" / "dt=2026-01-01" / "part-00000.jsonl.gz")
    parsed, malformed = [], 0
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            malformed += 1
    kinds = Counter(e["event_type"] for e in parsed)
    assert kinds["impression"] > 3 * kinds["closeup"] > 0
    assert kinds["closeup"] > kinds["click"] > kinds["save"] > 0
    assert 0 < malformed < 0.03 * len(lines)
    ids = Counter(e["event_id"] for e in parsed)
    assert 0 < sum(1 for n in ids.values() if n > 1) < 0.03 * len(ids)
    pins = Counter(e["pin_id"] for e in parsed if e["event_type"] == "impression")
    top = pins.most_common()
    assert top[0][1] > 5 * top[len(top) // 2][1]  # heavy head: Zipf-like popularity
    assert all(e["event_time"].startswith("2026-01-01") for e in parsed)

    world = build_world(cfg)
    assert {len(i) for i in world.user_interests} <= {1, 2, 3}
    saves = [e for e in parsed if e["event_type"] == "save"]
    owners = {b["board_id"]: b["owner_id"] for b in world.boards}
    assert all(owners[e["board_id"]] == e["user_id"] for e in saves)  # users save to their own boards


def test_pins_titles_come_from_their_interest_vocabulary(tmp_path):
    from pipelines.core.contract import INTERESTS

    world = build_world(_cfg(tmp_path))
    for pin in world.pins[:100]:
        main = pin["interests"][0]["interest"]
        assert set(pin["title"].split()) <= set(INTERESTS[main])


@pytest.mark.parametrize("kwargs,message", [
    ({"users": 0}, "at least 1"),
    ({"pins": 5}, "at least 30"),
    ({"noise": {"sparkles": 0.1}}, "unknown --noise kinds"),
])
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(GenerateError, match=message):
        generate(_cfg(tmp_path, **kwargs))


def test_parse_noise_errors():
    with pytest.raises(GenerateError, match="kind=rate"):
        parse_noise("malformed")
    assert parse_noise("duplicate=0")["duplicate"] == 0.0
