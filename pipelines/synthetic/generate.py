"""Synthetic raw logs with planted interests, Zipf popularity and a realistic funnel.

Pure Python, streaming (one line in memory at a time per stream), and deterministic: the
same arguments give the same bytes (seeded RNG per day, gzip with a fixed mtime, sorted
JSON keys).
"""
from __future__ import annotations

import bisect
import datetime as dt
import gzip
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from pipelines.core.contract import INTEREST_NAMES, INTERESTS, SCHEMA_VERSION
from pipelines.core.settings import TastegraphError

# Each --noise kind produces one kind of dirt (rate = share of event lines affected).
NOISE_KINDS = (
    "malformed",        # truncated JSON
    "wrong_type",       # a field of the wrong JSON type
    "missing_id",       # a required id left out
    "duplicate",        # the same event line redelivered later in the same file
    "redelivered",      # the same event line redelivered in the next day's file
    "late",             # event time 1-5 days before the file's dt
    "future",           # event time days after the file's dt
    "unknown_type",     # an event type the contract does not know
    "extra_fields",     # unknown extra fields (a newer client schema)
    "oversize",         # a free-text string far over the size limit
    "invalid_utf8",     # stray bytes that are not UTF-8
    "secret_save",      # a save to a secret board
    "pii_text",         # e-mail addresses typed into pin and board descriptions
)
DEFAULT_NOISE = {"malformed": 0.002, "duplicate": 0.003}
OVERSIZE_CHARS = 20_000

# Funnel probabilities: impression >> closeup > click > save.
P_CLOSEUP = 0.15
P_CLICK_GIVEN_CLOSEUP = 0.35
P_SAVE_GIVEN_CLOSEUP = 0.20
P_HIDE = 0.01
P_FOLLOW_PER_SESSION = 0.03
P_EXPLORE = 0.1
P_MERCHANT_CLICK = 0.7          # a click on a product pin goes to the merchant
P_OUTBOUND_CLICK = 0.5          # any other click leaves the site
ZIPF_S = 1.1
# The world: interests per user, secret boards, when pins appear, annotations, products.
INTERESTS_PER_USER_WEIGHTS = {1: 0.4, 2: 0.4, 3: 0.2}
P_SECRET_BOARD = 0.05
P_PIN_ON_FIRST_DAY = 0.6        # other pins appear on a random later day
P_SECOND_INTEREST = 0.3         # a pin annotated with a second, weaker interest
MAIN_INTEREST_SCORE = (0.7, 0.99)
SECOND_INTEREST_SCORE = (0.1, 0.4)
P_PRODUCT_PIN = 0.15
# Styles: an aesthetic a pin's text may talk about, drawn independently of its interest. Users
# choose pins by interest, never by style (see GenerateConfig.style_share). No word is also an
# interest's word, so a style word says nothing about the interest.
STYLES: dict[str, tuple[str, ...]] = {
    "pastel": ("pastel", "pink", "soft", "dreamy", "lilac", "peach"),
    "dark": ("dark", "moody", "black", "gothic", "shadow", "midnight"),
    "earthy": ("earthy", "terracotta", "beige", "sand", "warm", "clay"),
    "bright": ("bright", "colorful", "rainbow", "neon", "bold", "vibrant"),
    "scandi": ("scandi", "white", "clean", "airy", "light", "simple"),
    "seventies": ("seventies", "groovy", "mustard", "orange", "funky", "disco"),
    "luxe": ("luxe", "gold", "marble", "velvet", "elegant", "chic"),
    "cottage": ("cottagecore", "gingham", "meadow", "prairie", "linen", "daisy"),
    "coastal": ("coastal", "blue", "navy", "breezy", "shell", "seaside"),
    "y2k": ("y2k", "glitter", "chrome", "sparkle", "holographic", "butterfly"),
    "industrial": ("industrial", "steel", "grey", "raw", "loft", "iron"),
    "dreamcore": ("aesthetic", "vibe", "inspo", "vibes", "dreamcore", "core"),
}
STYLE_NAMES = tuple(STYLES)
SESSION_IMPRESSIONS = (5, 15)
EVENT_GAP_MS = (200, 4000)


class GenerateError(TastegraphError, ValueError):
    """Bad generator arguments; the message says what to change."""


@dataclass(frozen=True)
class GenerateConfig:
    out: Path
    users: int = 200
    pins: int = 2000
    days: int = 2
    start_date: dt.date = dt.date(2026, 1, 1)
    seed: int = 7
    events_per_day: int | None = None  # default: 30 per user
    noise: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_NOISE))
    # Share of the words of a pin's title and description drawn from its style (STYLES) instead
    # of its interest: text that describes how a pin looks more than what it is about, as much
    # real pin text does. 0 keeps the text purely topical (and the bytes of earlier versions).
    style_share: float = 0.0

    def validate(self) -> "GenerateConfig":
        if self.users < 1 or self.pins < 1 or self.days < 1:
            raise GenerateError("--users, --pins and --days must each be at least 1")
        if self.pins < len(INTEREST_NAMES):
            raise GenerateError(f"--pins must be at least {len(INTEREST_NAMES)} (one per interest)")
        unknown = set(self.noise) - set(NOISE_KINDS)
        if unknown:
            raise GenerateError(f"unknown --noise kinds {sorted(unknown)}; known: {list(NOISE_KINDS)}")
        bad = {k: v for k, v in self.noise.items() if not 0.0 <= v <= 0.5}
        if bad:
            raise GenerateError(f"--noise rates must be between 0 and 0.5, got {bad}")
        if not 0.0 <= self.style_share < 1.0:
            raise GenerateError(f"--style-share must be at least 0 and below 1, got {self.style_share}")
        return self

    @property
    def daily_events(self) -> int:
        return self.events_per_day if self.events_per_day is not None else 30 * self.users


def parse_noise(spec: str | None) -> dict[str, float]:
    """'malformed=0.01,duplicate=0' -> dict; unspecified kinds keep their defaults."""
    noise = dict(DEFAULT_NOISE)
    if not spec:
        return noise
    for item in spec.split(","):
        if not item.strip():
            continue
        if "=" not in item:
            raise GenerateError(f"--noise item {item!r} must look like kind=rate, e.g. malformed=0.01")
        kind, rate = item.split("=", 1)
        try:
            noise[kind.strip()] = float(rate)
        except ValueError:
            raise GenerateError(f"--noise rate for {kind!r} is not a number: {rate!r}") from None
    return noise


@dataclass(frozen=True)
class World:
    """Users, boards and pins with their planted interests (derived from the seed only)."""

    user_interests: list[tuple[str, ...]]
    boards: list[dict]                     # board records
    user_boards: list[dict[str, list[int]]]  # user -> interest -> board indexes
    pins: list[dict]                       # pin records
    pin_day: list[int]                     # day index a pin appears
    pins_by_interest: dict[str, list[int]]


def _iso(ts: dt.datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def build_world(cfg: GenerateConfig) -> World:
    rng = random.Random(f"world-{cfg.seed}")
    t0 = dt.datetime.combine(cfg.start_date, dt.time(0, 0))
    user_interests = []
    for _ in range(cfg.users):
        k = rng.choices(tuple(INTERESTS_PER_USER_WEIGHTS), weights=tuple(INTERESTS_PER_USER_WEIGHTS.values()))[0]
        user_interests.append(tuple(rng.sample(INTEREST_NAMES, k)))

    boards: list[dict] = []
    user_boards: list[dict[str, list[int]]] = []
    for u, interests in enumerate(user_interests):
        mine: dict[str, list[int]] = {}
        # A board for each of the user's interests, then a few more on any of them.
        for theme in (*interests, *(rng.choice(interests) for _ in range(rng.randint(0, 2)))):
            b = len(boards)
            words = rng.sample(INTERESTS[theme], 2)
            boards.append({
                "schema_version": SCHEMA_VERSION,
                "board_id": f"b{b:07d}",
                "owner_id": f"u{u:06d}",
                "created_at": _iso(t0 + dt.timedelta(seconds=rng.randrange(3600))),
                "updated_at": _iso(t0 + dt.timedelta(seconds=3600)),
                "name": f"{words[0]} {words[1]}",
                "description": f"my {theme.replace('_', ' ')} ideas",
                "category": theme,
                "is_secret": rng.random() < P_SECRET_BOARD,
            })
            mine.setdefault(theme, []).append(b)
        user_boards.append(mine)

    pins: list[dict] = []
    pin_day: list[int] = []
    pins_by_interest: dict[str, list[int]] = {name: [] for name in INTEREST_NAMES}
    for p in range(cfg.pins):
        # Guarantee every interest has pins, then spread at random.
        main = INTEREST_NAMES[p] if p < len(INTEREST_NAMES) else rng.choice(INTEREST_NAMES)
        vocab = INTERESTS[main]
        day = 0 if (p < len(INTEREST_NAMES) or rng.random() < P_PIN_ON_FIRST_DAY) else rng.randrange(cfg.days)
        created = t0 + dt.timedelta(days=day, seconds=rng.randrange(86400))
        annotations = [{"interest": main, "score": round(rng.uniform(*MAIN_INTEREST_SCORE), 3)}]
        if rng.random() < P_SECOND_INTEREST:
            other = rng.choice(INTEREST_NAMES)
            if other != main:
                annotations.append({"interest": other, "score": round(rng.uniform(*SECOND_INTEREST_SCORE), 3)})
        domain = f"{rng.choice(vocab)}{rng.randint(1, 50)}.example.com"
        is_product = rng.random() < P_PRODUCT_PIN
        creator = f"u{rng.randrange(cfg.users):06d}"  # (the RNG's order of draws is the earlier versions')
        title, description = rng.sample(vocab, 3), rng.sample(vocab, 4)
        if cfg.style_share:
            title, description = _styled(title, description, cfg.style_share, random.Random(f"style-{cfg.seed}-{p}"))
        pins.append({
            "schema_version": SCHEMA_VERSION,
            "pin_id": f"p{p:07d}",
            "creator_id": creator,
            "created_at": _iso(created),
            "updated_at": _iso(created),
            "title": " ".join(title),
            "description": "the best " + " ".join(description),
            "link": f"https://{domain}/{p}",
            "domain": domain,
            "interests": annotations,
            "merchant": f"shop{rng.randint(1, 40)}" if is_product else None,
            "price": round(rng.uniform(5, 300), 2) if is_product else None,
        })
        pin_day.append(day)
        pins_by_interest[main].append(p)
    return World(user_interests, boards, user_boards, pins, pin_day, pins_by_interest)


def _styled(title: list[str], description: list[str], share: float,
            rng: random.Random) -> tuple[list[str], list[str]]:
    """The words with `share` of them, on average, replaced by words of one seeded style. A
    separate RNG per pin, so the world (interests, boards, events) is the same at every share."""
    style = STYLES[rng.choice(STYLE_NAMES)]
    def swap(words: list[str]) -> list[str]:
        return [rng.choice(style) if rng.random() < share else w for w in words]
    return swap(title), swap(description)


def _zipf_cum_weights(n: int) -> list[float]:
    total, cum = 0.0, []
    for rank in range(n):
        total += 1.0 / (rank + 1) ** ZIPF_S
        cum.append(total)
    return cum


class _Session:
    """One user session: its events follow each other by a few seconds, within the day."""

    def __init__(self, rng: random.Random, day_start: dt.datetime, user_id: str, session_id: str, ip: str,
                 agent: str):
        self.rng, self.user_id, self.session_id, self.ip, self.agent = rng, user_id, session_id, ip, agent
        self.last = day_start + dt.timedelta(hours=23, minutes=59, seconds=59)
        self.t = day_start + dt.timedelta(seconds=rng.randrange(86400 - 600))

    def event(self, kind: str, pin: int | None, **extra) -> dict:
        rng = self.rng
        self.t = self.t + dt.timedelta(milliseconds=rng.randrange(*EVENT_GAP_MS))
        record = {
            "schema_version": SCHEMA_VERSION,
            "event_id": f"e{rng.getrandbits(64):016x}",
            "event_type": kind,
            "event_time": _iso(min(self.t, self.last)),
            "user_id": self.user_id,
            "pin_id": f"p{pin:07d}" if pin is not None else None,
            "session_id": self.session_id,
            "client_ip": self.ip,
            "user_agent": self.agent,
        }
        record.update(extra)
        return record


def _events_for_day(cfg: GenerateConfig, world: World, day: int) -> Iterator[dict]:
    rng = random.Random(f"events-{cfg.seed}-{day}")
    day_start = dt.datetime.combine(cfg.start_date, dt.time(0, 0)) + dt.timedelta(days=day)
    available = {
        name: [p for p in idx if world.pin_day[p] <= day] for name, idx in world.pins_by_interest.items()
    }
    cum = {name: _zipf_cum_weights(len(idx)) for name, idx in available.items()}
    target = cfg.daily_events
    produced = 0
    while produced < target:
        u = rng.randrange(cfg.users)
        user_id = f"u{u:06d}"
        session_id = f"s{rng.getrandbits(48):012x}"
        ip = f"203.0.{rng.randrange(113, 114)}.{u % 250 + 1}"
        agent = rng.choice(("Mozilla/5.0 (iPhone)", "Mozilla/5.0 (Android 14)", "Mozilla/5.0 (Macintosh)"))
        interests = world.user_interests[u]
        theme = rng.choice(INTEREST_NAMES) if rng.random() < P_EXPLORE else rng.choice(interests)
        pool = available[theme]
        if not pool:
            continue
        session = _Session(rng, day_start, user_id, session_id, ip, agent)
        event = session.event
        for _ in range(rng.randint(*SESSION_IMPRESSIONS)):
            pin = pool[bisect.bisect_left(cum[theme], rng.random() * cum[theme][-1])]
            yield event("impression", pin)
            produced += 1
            if rng.random() < P_HIDE:
                yield event("hide", pin)
                produced += 1
                continue
            if rng.random() >= P_CLOSEUP:
                continue
            yield event("closeup", pin)
            produced += 1
            if rng.random() < P_CLICK_GIVEN_CLOSEUP:
                merchant = world.pins[pin]["merchant"] is not None and rng.random() < P_MERCHANT_CLICK
                yield event("click", pin, is_outbound=rng.random() < P_OUTBOUND_CLICK or merchant, is_merchant=merchant)
                produced += 1
            if rng.random() < P_SAVE_GIVEN_CLOSEUP:
                own = world.user_boards[u]
                choices = own.get(theme) or [b for bs in own.values() for b in bs]
                board = world.boards[rng.choice(choices)]["board_id"]
                yield event("save", pin, board_id=board)
                produced += 1
        if rng.random() < P_FOLLOW_PER_SESSION:
            b = rng.randrange(len(world.boards))
            yield event("follow", None, board_id=world.boards[b]["board_id"])
            produced += 1


def _dumps(record: dict) -> str:
    return json.dumps({k: v for k, v in record.items() if v is not None}, sort_keys=True, separators=(",", ":"))


def _dirty(record: dict, kind: str, rng: random.Random, day_start: dt.datetime, secret_boards: list[str]) -> dict:
    """A copy of an event record with one kind of dirt: a new event of its own (fresh event_id)."""
    r = dict(record, event_id=f"e{rng.getrandbits(64):016x}")
    if kind == "wrong_type":
        r[rng.choice(("is_outbound", "schema_version"))] = rng.choice(("yes", [1, 2], {"x": 1}))
    elif kind == "missing_id":
        r.pop(rng.choice(("event_id", "user_id")), None)
    elif kind == "late":
        r["event_time"] = _iso(day_start - dt.timedelta(days=rng.randint(1, 5), seconds=-rng.randrange(86400)))
    elif kind == "future":
        r["event_time"] = _iso(day_start + dt.timedelta(days=rng.randint(3, 30), seconds=rng.randrange(86400)))
    elif kind == "unknown_type":
        r["event_type"] = rng.choice(("repin", "swipe", "zoom"))
    elif kind == "extra_fields":
        r["client_version"] = f"{rng.randint(1, 9)}.{rng.randint(0, 20)}"
        r["experiment"] = {"name": "feed_v2", "arm": rng.choice(("a", "b"))}
    elif kind == "oversize":
        r["session_id"] = "x" * OVERSIZE_CHARS
    elif kind == "secret_save" and secret_boards:
        r["event_type"], r["board_id"] = "save", rng.choice(secret_boards)
    return r


RECORD_KINDS = ("wrong_type", "missing_id", "late", "future", "unknown_type", "extra_fields", "oversize", "secret_save")


def _with_noise(
    records: Iterator[dict],
    noise: dict[str, float],
    rng: random.Random,
    day_start: dt.datetime,
    secret_boards: list[str],
    carry_in: list[bytes],
    carry_out: list[bytes],
) -> Iterator[bytes]:
    """Event lines with dirt: one rng draw per kind and line, so each knob is independent."""
    yield from carry_in  # yesterday's redeliveries come first
    pending: list[bytes] = []
    record_kinds = [k for k in RECORD_KINDS if noise.get(k, 0.0) > 0]
    for record in records:
        for kind in record_kinds:
            if rng.random() < noise[kind]:
                yield _dumps(_dirty(record, kind, rng, day_start, secret_boards)).encode()
        line = _dumps(record).encode()
        yield line
        if rng.random() < noise.get("duplicate", 0.0):
            pending.append(line)
        if rng.random() < noise.get("redelivered", 0.0):
            carry_out.append(line)
        if rng.random() < noise.get("malformed", 0.0):
            yield line[: max(1, len(line) // 2)]  # truncated JSON
        if rng.random() < noise.get("invalid_utf8", 0.0):
            yield line[:-2] + b"\xff\xfe" + line[-2:]
        if pending and rng.random() < 0.2:
            yield pending.pop(0)
    yield from pending


def _with_pii(record: dict, rng: random.Random, rate: float) -> dict:
    if rate and rng.random() < rate:
        record = dict(record)
        record["description"] = f"{record.get('description', '')} contact me at user{rng.randrange(10**6)}@example.com"
    return record


LINES_PER_FILE = 250_000  # gzip is not splittable: several parts let Spark read a day in parallel


def _write_parts(folder: Path, lines: Iterator[str | bytes], lines_per_file: int = LINES_PER_FILE) -> int:
    """Write lines into part-NNNNN.jsonl.gz files of at most `lines_per_file` lines each.

    Each part is written to a temporary name and renamed when complete; a fixed gzip mtime
    keeps the bytes reproducible. Parts left by an earlier, larger run are removed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    count, part, written = 0, 0, []
    gz = raw = None
    for line in lines:
        if gz is None:
            path = folder / f"part-{part:05d}.jsonl.gz"
            raw = open(path.with_name(path.name + ".tmp"), "wb")
            gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
        gz.write((line if isinstance(line, bytes) else line.encode("utf-8")) + b"\n")
        count += 1
        if count % lines_per_file == 0:
            gz.close(), raw.close()
            os.replace(raw.name, path)
            written.append(path)
            gz = None
            part += 1
    if gz is not None or not written:
        if gz is None:  # an empty stream still gets one (empty) file, so the day exists
            path = folder / f"part-{part:05d}.jsonl.gz"
            raw = open(path.with_name(path.name + ".tmp"), "wb")
            gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
        gz.close(), raw.close()
        os.replace(raw.name, path)
        written.append(path)
    for stale in folder.glob("part-*.jsonl.gz"):
        if stale not in written:
            stale.unlink()
    return count


def generate(cfg: GenerateConfig, progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write all streams for all days; returns line counts per stream."""
    cfg.validate()
    world = build_world(cfg)
    counts = {"events": 0, "pins": 0, "boards": 0}
    secret_boards = [b["board_id"] for b in world.boards if b["is_secret"]]
    carry: list[bytes] = []
    for day in range(cfg.days):
        ds = (cfg.start_date + dt.timedelta(days=day)).isoformat()
        day_start = dt.datetime.combine(cfg.start_date + dt.timedelta(days=day), dt.time(0, 0))
        noise_rng = random.Random(f"noise-{cfg.seed}-{day}")
        pii_rate = cfg.noise.get("pii_text", 0.0)
        boards = (_dumps(_with_pii(b, noise_rng, pii_rate)) for b in (world.boards if day == 0 else []))
        pins = (_dumps(_with_pii(p, noise_rng, pii_rate)) for p, d in zip(world.pins, world.pin_day) if d == day)
        counts["boards"] += _write_parts(cfg.out / "boards" / f"dt={ds}", boards)
        counts["pins"] += _write_parts(cfg.out / "pins" / f"dt={ds}", pins)
        carry_in, carry = carry, []
        events = _with_noise(_events_for_day(cfg, world, day), cfg.noise, noise_rng, day_start, secret_boards,
                             carry_in, carry)
        counts["events"] += _write_parts(cfg.out / "events" / f"dt={ds}", events)
        if progress:
            progress(f"generated {ds}: {counts['events']:,} event lines so far")
    return counts


def dates(cfg: GenerateConfig) -> list[str]:
    return [(cfg.start_date + dt.timedelta(days=d)).isoformat() for d in range(cfg.days)]
