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


def test_the_default_lines_are_the_earlier_versions_lines(tmp_path):
    """The lines of `_cfg()` as the generator wrote them before --style-share existed (commit
    ffe3e3c): a new option must not move the draws every other test and benchmark rely on."""
    import hashlib

    generate(_cfg(tmp_path))
    digest = hashlib.sha256()
    for path in sorted(tmp_path.rglob("*.gz")):
        digest.update(str(path.relative_to(tmp_path)).encode())
        digest.update(gzip.decompress(path.read_bytes()))
    assert digest.hexdigest() == "ea92257cdae5c2523c2ef7416fd8f38ae81b6a976702eb858cf32deebdc584ab"


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


def test_style_share_puts_style_words_in_the_text_and_leaves_the_world_alone(tmp_path):
    from pipelines.core.contract import INTERESTS
    from pipelines.synthetic.generate import STYLES

    style_words = {w for words in STYLES.values() for w in words}
    assert not style_words & {w for words in INTERESTS.values() for w in words}  # a style word says no interest
    generate(_cfg(tmp_path / "plain"))
    generate(_cfg(tmp_path / "styled", style_share=0.6))
    generate(_cfg(tmp_path / "again", style_share=0.6))
    for stream in ("events", "boards"):  # who engages with what does not depend on the text
        for day in ("2026-01-01", "2026-01-02"):
            rel = f"{stream}/dt={day}/part-00000.jsonl.gz"
            assert (tmp_path / "plain" / rel).read_bytes() == (tmp_path / "styled" / rel).read_bytes()
    rel = "pins/dt=2026-01-01/part-00000.jsonl.gz"
    assert (tmp_path / "styled" / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes()
    plain = {json.loads(x)["pin_id"]: json.loads(x) for x in _lines(tmp_path / "plain" / rel)}
    styled = [json.loads(x) for x in _lines(tmp_path / "styled" / rel)]
    words = styles = 0
    for pin in styled:
        main = pin["interests"][0]["interest"]
        text = pin["title"].split() + pin["description"].split()[2:]  # after "the best"
        assert set(text) <= set(INTERESTS[main]) | style_words
        assert len({s for s, ws in STYLES.items() if set(ws) & set(text)}) <= 1  # one style per pin
        words, styles = words + len(text), styles + sum(w in style_words for w in text)
        assert {k: v for k, v in pin.items() if k not in ("title", "description")} == \
            {k: v for k, v in plain[pin["pin_id"]].items() if k not in ("title", "description")}
    assert 0.5 < styles / words < 0.7


@pytest.mark.parametrize("kwargs,message", [
    ({"style_share": 1.0}, "--style-share must be at least 0 and below 1"),
    ({"style_share": -0.1}, "--style-share must be at least 0 and below 1"),
    ({"style_share": float("nan")}, "--style-share must be at least 0 and below 1"),
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
