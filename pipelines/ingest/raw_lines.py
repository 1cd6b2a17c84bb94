"""Raw lines -> the bronze columns of a stream, and for each line the first contract rule it
breaks (`reason`, null when accepted) with a `detail` that names the field.

The rules are checked by `LineChecker.check`, plain Python over one line, so the whole
contract reads top to bottom in one place and is tested without Spark. Spark runs it over
Arrow batches (`mapInArrow`), one call per batch. Why not Spark's built-in functions: its JSON
reader casts and is lenient (single quotes, NaN, trailing content, duplicate names), and its
strict variant parser plus a type check per field cost 1.6x the old lenient ingest on a
1M-event day (measured; BENCHMARKS.md). The common line first takes `_FastPath`, a typed
decode in C that accepts only a strict subset of the contract (4.9 us a line where the exact
path takes 12.0: `make bench BENCH_ARGS=ingest`); every other line takes the exact path.

Parsing is `json.loads`, which is RFC 8259 and rejects trailing content itself ("Extra data"),
but for three things it allows and that are refused here: NaN/Infinity (parse_constant),
duplicate names (object_pairs_hook) and unpaired surrogate escapes. Numbers are kept as the
text they were written with (`_Number`), so an integer is checked on its digits, a bound on
the exact value, and an unknown field keeps its number as written. Nothing is cast: a value of
another JSON type than the field's is `wrong_type`. The rules run in the order of the reason
codes in `contract.REASONS`, across all fields: the first rule broken anywhere in the line
gives the reason.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import math
import re
from decimal import Decimal
from operator import itemgetter
from typing import Annotated, Any, Callable, Iterator, Literal

import msgspec
import orjson
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.core import catalog
from pipelines.core import contract as c

_META = {"extra_fields", "ds", "source_file", "line_number", "ingested_at"}
_BOM = b"\xef\xbb\xbf"
_EPOCH = dt.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)
_VALID_ID = re.compile(r"[A-Za-z0-9_.:-]+")
_DOTTED_QUAD = re.compile(r"(?<![0-9])[0-9]{1,3}(\.[0-9]{1,3}){3}(?![0-9])")
_HEX_RUN = re.compile(r"[0-9A-Fa-f:.]+")
_TIME = re.compile(c.TIMESTAMP_PATTERN)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_EXPECTED = {"id": "string", "text": "string", "time": "string", "enum": "string", "bool": "boolean",
             "int": "integer", "number": "number", "interests": "array"}


class _Number(str):
    """A JSON number as it was written (json.loads' parse_int and parse_float)."""

    __slots__ = ()


_PYTHON_TYPES = {"id": (str,), "text": (str,), "time": (str,), "enum": (str,), "bool": (bool,), "int": (_Number,),
                 "number": (_Number,), "interests": (list,)}
_JSON_TYPES = {str: "string", bool: "boolean", _Number: "number", list: "array", dict: "object", type(None): "null"}
_RANK = {reason: rank for rank, reason in enumerate(c.REASONS)}


class _Broken(Exception):
    """A contract rule the line breaks: the reason code and a detail naming the field."""

    def __init__(self, reason: str, detail: str):
        super().__init__(reason)
        self.reason, self.detail = reason, detail


def _no_duplicates(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        name = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _Broken(c.MALFORMED_JSON, f"duplicate name {name!r}")
    return out


def _no_constant(name: str) -> None:
    raise _Broken(c.MALFORMED_JSON, f"{name} is not JSON")


def _type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _is_integer(number: str) -> bool:
    digits = number[1:] if number.startswith("-") else number
    return digits.isdigit() or Decimal(number) == Decimal(number).to_integral_value()


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON text (strings skipped)."""
    depth = deepest = 0
    for token in _STRING_OR_BRACKET.findall(text):
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def _time(text: str) -> dt.datetime | None:
    """RFC 3339 UTC text -> naive UTC datetime, or None for any other form or impossible time.
    The regex fixes the form; fromisoformat (C) then rejects impossible dates and times."""
    if _TIME.fullmatch(text) is None:
        return None
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        return None


def _is_ipv6(token: str) -> bool:
    try:
        ipaddress.IPv6Address(token)
    except ValueError:
        return False
    return True


def id_problem(value: str) -> bool:
    """Not the id characters, or holding an IP address: a dotted quad anywhere, or a run of
    hex digits, colons and dots that is an IPv6 address."""
    if value.isascii() and value.isalnum():  # the common case, without a regex
        return False
    if _VALID_ID.fullmatch(value) is None:
        return True
    if "." in value and _DOTTED_QUAD.search(value):
        return True
    return value.count(":") > 1 and any(t.count(":") > 1 and _is_ipv6(t) for t in _HEX_RUN.findall(value))


def _json_text(value: Any) -> str:
    """JSON text of a parsed value, numbers as they were written."""
    if type(value) is _Number:
        return str.__str__(value)
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _json_text(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _flat_object(raw: bytes, text: str) -> dict | None:
    """The fast path for the common line: orjson (strict RFC 8259, 8x faster than json.loads)
    parses it, and it is used only when the object is flat, its numbers are integers and its
    text has no \\u escape. Then a duplicate name is the only thing orjson would let through,
    and it shows in the colons: outside strings a colon only separates a name from its value,
    so the text holds one colon per member written plus those inside its strings, and the
    parsed object accounts for all of them exactly when no name was dropped as a duplicate."""
    if "\\u" in text:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(value) is not dict:
        return None
    colons = len(value)
    for key, item in value.items():
        kind = type(item)
        if kind is str:
            colons += item.count(":")
        elif kind is int:
            value[key] = _Number(item)
        elif item is not None and kind is not bool:
            return None  # a float, an array or an object: the exact path keeps numbers as written
        colons += key.count(":")
    return value if colons == text.count(":") else None


def _object(raw: bytes, line_number: int) -> dict:
    """The line's JSON object, or _Broken for the line rules (encoding, size, JSON)."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if line_number == 1 and raw.startswith(_BOM):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Broken(c.INVALID_UTF8, f"byte {exc.start}") from None
    if len(raw) > c.LINE_MAX_BYTES:
        raise _Broken(c.OVERSIZE_LINE, f"{len(raw):,} bytes")
    if not text.strip(" \t\r\n"):
        raise _Broken(c.MALFORMED_JSON, "blank line")
    if text.count("[") + text.count("{") > c.NESTING_MAX and _depth(text) > c.NESTING_MAX:
        raise _Broken(c.MALFORMED_JSON, f"nested deeper than {c.NESTING_MAX} levels")
    flat = _flat_object(raw, text)
    if flat is not None:
        return flat
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                           parse_int=_Number, parse_float=_Number)
    except (ValueError, RecursionError) as exc:
        message = str(exc).split(":")[0]
        if message == "Extra data":
            message = "content after the object (one JSON object per line)"
        raise _Broken(c.MALFORMED_JSON, message) from None
    if type(value) is not dict:
        raise _Broken(c.MALFORMED_JSON, f"not a JSON object: {_type_name(value)}")
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise _Broken(c.MALFORMED_JSON, "unpaired surrogate escape") from None
    return value


class _FastAnnotation(msgspec.Struct, forbid_unknown_fields=True):
    interest: Annotated[str, msgspec.Meta(min_length=1, max_length=c.NAME_MAX_CHARS)]
    score: float


def _certainly_not_negative(number: float) -> bool:
    """True when the number as written is >= 0 for sure: a float that is > 0, or a zero with a
    positive sign (-1e-400 parses to -0.0 and is negative as written)."""
    return number > 0 or (number == 0 and math.copysign(1.0, number) > 0)


class _FastPath:
    """The common line, accepted without building a dict: msgspec decodes it (in C) into a
    Struct whose field types accept only a strict subset of what the rules accept (times in
    the timestamp form, known event types, schema_version 1, no null, no unknown field), and
    a few rules are checked after it: ids of ASCII letters, digits, _ and - only (never shaped
    like an IP address), the time range, a pin or board that the event type needs, numbers and
    annotations. `row` gives the line's row when the line is certainly accepted, else None:
    then the exact path (`LineChecker.check`) checks it, and it alone says why a line is
    refused. A test holds the two paths to the same
    rows on every line of the hostile corpus.

    msgspec keeps the last of two equal names, so duplicates are found by colons, as in
    `_flat_object`: outside strings a colon only ends a name, and unescaped colons inside
    strings are in the decoded strings too (a line with a \\u escape takes the exact path)."""

    def __init__(self, checker: "LineChecker"):
        kinds = {f.name: f for f in checker.fields}
        time_pattern = c.TIMESTAMP_PATTERN[:-1] + r"\Z"
        types = {"id": Annotated[str, msgspec.Meta(min_length=1, max_length=c.ID_MAX_CHARS)],
                 "text": Annotated[str, msgspec.Meta(max_length=c.TEXT_MAX_CHARS)],
                 "time": Annotated[str, msgspec.Meta(pattern=time_pattern)],
                 "bool": bool, "int": Literal[c.SCHEMA_VERSION], "number": float,
                 "interests": Annotated[list[_FastAnnotation], msgspec.Meta(max_length=c.INTERESTS_MAX)]}
        fields = []
        for name, _ in checker.columns:
            f = kinds[name]
            kind = Literal[tuple(c.ENUMS[name])] if f.kind == "enum" else types[f.kind]
            fields.append((name, kind) if f.required else (name, kind, None))
        struct = msgspec.defstruct(f"Fast{checker.stream.title()}", fields, kw_only=True, forbid_unknown_fields=True)
        self.decoder = msgspec.json.Decoder(struct)
        positions = {name: i for i, (name, _) in enumerate(checker.columns)}
        self.strings = itemgetter(*[positions[f.name] for f in checker.fields if f.kind in ("id", "text", "time", "enum")])
        self.ids = itemgetter(*[positions[f.name] for f in checker.fields if f.kind == "id"])
        self.times = [positions[f.name] for f in checker.fields if f.kind == "time"]
        self.price = positions.get("price")
        self.interests = positions.get("interests")
        self.events = checker.stream == "events"
        if self.events:
            self.event_type, self.pin, self.board = positions["event_type"], positions["pin_id"], positions["board_id"]
        self.earliest, self.last_day = checker.earliest.replace(tzinfo=dt.timezone.utc), checker.last_day
        self.tail = (None,) * 5  # extra_fields, reason, detail, record_key, value

    def row(self, raw: bytes) -> tuple | None:
        if len(raw) > c.LINE_MAX_BYTES or b"\\u" in raw or raw.endswith(b"\r") or raw.startswith(_BOM):
            return None
        try:
            values = list(msgspec.structs.astuple(self.decoder.decode(raw)))
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
            return None
        members = len(values) - values.count(None)
        inside = "".join(filter(None, self.strings(values))).count(":")
        annotations = values[self.interests] if self.interests is not None else None
        if annotations:
            members += 2 * len(annotations)
            inside += sum(a.interest.count(":") for a in annotations)
        if raw.count(b":") != members + inside:
            return None
        ids = "".join(filter(None, self.ids(values))).replace("-", "").replace("_", "")
        if not (ids.isascii() and ids.isalnum()):
            return None
        for i in self.times:
            try:
                when = dt.datetime.fromisoformat(values[i])  # UTC (Z or +00:00), so aware
            except ValueError:
                return None
            if when < self.earliest or when.date() > self.last_day:
                return None
            # exact: whole seconds after 1970 are exact in a double, the microseconds are added
            values[i] = int(when.timestamp()) * 1_000_000 + when.microsecond
        if self.events:
            etype = values[self.event_type]
            if (values[self.pin] is None and etype in c.PIN_EVENT_TYPES) or (
                    values[self.board] is None and etype in c.BOARD_EVENT_TYPES):
                return None
        if self.price is not None and values[self.price] is not None and not _certainly_not_negative(values[self.price]):
            return None
        if annotations:
            names = {a.interest for a in annotations}
            # a score that parses to 1.0 may be written just above 1: the exact path decides
            if len(names) < len(annotations) or not all(
                    a.interest.strip() and a.score < 1 and _certainly_not_negative(a.score) for a in annotations):
                return None
            values[self.interests] = [{"interest": a.interest, "score": a.score} for a in annotations]
        return (*values, *self.tail)


class LineChecker:
    """The contract for one stream and file date: `check(raw, line_number)` gives the typed
    values of an accepted line, or the reason and detail of the first rule it breaks."""

    def __init__(self, stream: str, ds: dt.date, earliest: dt.date):
        self.stream = stream
        self.fields = c.FIELDS[stream]
        self.known = {f.name for f in self.fields}
        limits = {"id": c.ID_MAX_CHARS, "text": c.TEXT_MAX_CHARS, "time": c.TEXT_MAX_CHARS, "enum": c.TEXT_MAX_CHARS}
        self.plan = [(f.name, f.kind, _PYTHON_TYPES[f.kind], f.required, limits.get(f.kind)) for f in self.fields]
        self.earliest = dt.datetime.combine(earliest, dt.time())
        self.last_day = ds + dt.timedelta(days=c.FUTURE_TOLERANCE_DAYS)
        self.key = c.KEY[stream]
        kinds = {f.name: f.kind for f in self.fields}
        self.columns = [(f.name, kinds.get(f.name)) for f in _bronze_fields(stream)]
        self.nulls = (None,) * len(self.columns)
        self.fast = _FastPath(self)

    def check(self, raw: bytes, line_number: int) -> tuple[str | None, str | None, dict | None, str | None]:
        """(reason, detail, values, record_key); values is None unless the line is accepted."""
        obj = None
        try:
            obj = _object(raw, line_number)
            return None, None, self._values(obj), None
        except _Broken as broken:
            key = obj.get(self.key) if obj is not None else None
            return broken.reason, broken.detail, None, key if type(key) is str else None

    def _values(self, obj: dict) -> dict:
        """The typed values of a parsed line, or _Broken for the first rule it breaks: one pass
        over the fields notes every problem with its rule's rank, and the lowest rank (then the
        first field) wins, so the order of REASONS holds across fields."""
        get = obj.get
        version = get("schema_version")
        if type(version) is _Number and _is_integer(version) and Decimal(version) != c.SCHEMA_VERSION:
            raise _Broken(c.UNSUPPORTED_SCHEMA_VERSION, f"schema_version {version}")
        problems: list[tuple[int, int, str, str]] = []
        converted: dict[str, Any] = {}
        for seq, (name, kind, allowed, required, limit) in enumerate(self.plan):
            value = get(name)
            if value is None:
                if required:
                    problems.append((_RANK[c.MISSING_REQUIRED], seq, c.MISSING_REQUIRED, name))
                continue
            if type(value) not in allowed or (kind == "int" and not _is_integer(value)):
                problems.append((_RANK[c.WRONG_TYPE], seq, c.WRONG_TYPE,
                                 f"{name}: {_type_name(value)}, expected {_EXPECTED[kind]}"))
                continue
            if limit and len(value) > limit:
                problems.append((_RANK[c.OVERSIZE_FIELD], seq, c.OVERSIZE_FIELD, f"{name}: longer than {limit:,}"))
                continue
            if kind == "id" and id_problem(value):
                problems.append((_RANK[c.INVALID_ID], seq, c.INVALID_ID, name))
            elif kind == "time":
                when = _time(value)
                if when is None or when < self.earliest:
                    late = "" if when is None else f"before {self.earliest.date().isoformat()}: "
                    problems.append((_RANK[c.BAD_TIMESTAMP], seq, c.BAD_TIMESTAMP, f"{name}: {late}{value}"))
                elif when.date() > self.last_day:
                    problems.append((_RANK[c.FUTURE_TIMESTAMP], seq, c.FUTURE_TIMESTAMP, f"{name}: {value}"))
                converted[name] = when
            elif kind == "number":
                number = float(value)
                if not math.isfinite(number):
                    problems.append((_RANK[c.INVALID_VALUE], seq, c.INVALID_VALUE,
                                     f"{name}: not a finite number (it must fit a double)"))
                elif value.startswith("-") and Decimal(value) < 0:
                    problems.append((_RANK[c.INVALID_VALUE], seq, c.INVALID_VALUE, f"{name}: negative"))
                converted[name] = number
            elif kind == "interests":
                annotations = _Annotations(value)
                problem = annotations.problem()
                if problem:
                    problems.append((_RANK[problem[0]], seq, *problem))
                converted[name] = annotations.pairs() if not problem else None
        if self.stream == "events" and type(get("event_type")) is str:
            etype = obj["event_type"]
            if etype in c.PIN_EVENT_TYPES and get("pin_id") is None:
                problems.append((_RANK[c.MISSING_REQUIRED], len(self.plan), c.MISSING_REQUIRED,
                                 f"pin_id (required for {etype})"))
            if etype in c.BOARD_EVENT_TYPES and get("board_id") is None:
                problems.append((_RANK[c.MISSING_REQUIRED], len(self.plan) + 1, c.MISSING_REQUIRED,
                                 f"board_id (required for {etype})"))
            if etype not in c.EVENT_TYPES:
                problems.append((_RANK[c.UNKNOWN_EVENT_TYPE], 0, c.UNKNOWN_EVENT_TYPE, f"event_type {etype}"))
        if problems:
            _, _, reason, detail = min(problems)
            raise _Broken(reason, detail)
        values = dict(obj, schema_version=c.SCHEMA_VERSION)
        values.update(converted)
        return values

    def extra(self, obj: dict) -> list[tuple[str, str | None]] | None:
        """Fields the contract does not name, as (name, text): strings as they are, other values
        as their JSON text (numbers as written)."""
        names = [k for k in obj if k not in self.known]
        if not names:
            return None
        return [(k, None if obj[k] is None else obj[k] if type(obj[k]) is str else _json_text(obj[k])) for k in names]


class _Annotations:
    """A pin's `interests`, checked element by element, each rule at its place in the order."""

    KEYS = ("interest", "score")

    def __init__(self, items: list):
        self.items = items
        # A key whose value is null counts as absent, as everywhere else.
        self.elements = [{k: v for k, v in item.items() if v is not None} if type(item) is dict else item
                         for item in items]

    def problem(self) -> tuple[str, str] | None:
        """(reason, detail) of the first problem, checking every element for each rule in the
        order of REASONS before the next rule."""
        for i, item in enumerate(self.elements):
            at = f"interests[{i}]"
            if type(item) is not dict:
                return c.WRONG_TYPE, f"{at}: {_type_name(item)}, expected object"
            unknown = sorted(set(item) - set(self.KEYS))
            if unknown:
                return c.WRONG_TYPE, f"{at}: unknown key {unknown[0]}"
            if "interest" in item and type(item["interest"]) is not str:
                return c.WRONG_TYPE, f"{at}.interest: {_type_name(item['interest'])}, expected string"
            if "score" in item and type(item["score"]) is not _Number:
                return c.WRONG_TYPE, f"{at}.score: {_type_name(item['score'])}, expected number"
        for i, item in enumerate(self.elements):
            for key in self.KEYS:
                if key not in item:
                    return c.MISSING_REQUIRED, f"interests[{i}].{key}"
        if len(self.elements) > c.INTERESTS_MAX:
            return c.OVERSIZE_FIELD, f"interests: more than {c.INTERESTS_MAX} annotations"
        for i, item in enumerate(self.elements):
            if len(item["interest"]) > c.NAME_MAX_CHARS:
                return c.OVERSIZE_FIELD, f"interests[{i}].interest: longer than {c.NAME_MAX_CHARS}"
        for i, item in enumerate(self.elements):
            if not item["interest"].strip():
                return c.INVALID_VALUE, f"interests[{i}].interest is empty"
            if not (math.isfinite(float(item["score"])) and 0 <= Decimal(item["score"]) <= 1):
                return c.INVALID_VALUE, f"interests[{i}].score is not in [0, 1]"
        if len({item["interest"] for item in self.elements}) < len(self.elements):
            return c.INVALID_VALUE, "interests: an interest is named twice"
        return None

    def pairs(self) -> list[tuple[str, float]]:
        return [(item["interest"], float(item["score"])) for item in self.elements]


# --- Spark: the checker over Arrow batches --------------------------------------------------

def _bronze_fields(stream: str) -> list[T.StructField]:
    return [f for f in catalog.BRONZE_BY_STREAM[stream].schema.fields if f.name not in _META]


def checked_schema(stream: str) -> T.StructType:
    """What the batch function returns: the bronze columns, extra fields, reason, detail,
    record_key, value (the raw bytes of quarantined lines), and the line's place (file, line
    number, and the date of its folder)."""
    return T.StructType(
        [T.StructField(f.name, f.dataType) for f in _bronze_fields(stream)]
        + [T.StructField("extra_fields", catalog.EXTRA_FIELDS), T.StructField("reason", T.StringType()),
           T.StructField("detail", T.StringType()), T.StructField("record_key", T.StringType()),
           T.StructField("value", T.BinaryType()), T.StructField("source_file", T.StringType()),
           T.StructField("line_number", T.LongType()), T.StructField("ds", T.DateType())])


def checked_row(checker: LineChecker, raw: bytes, line_number: int) -> tuple:
    """One line as a row of checked_schema without its place: bronze values (times as
    microseconds since the epoch), extra fields, reason, detail, record_key, raw bytes. The
    common line takes the fast path; any other, the exact one."""
    return checker.fast.row(raw) or exact_row(checker, raw, line_number)


def exact_row(checker: LineChecker, raw: bytes, line_number: int) -> tuple:
    """checked_row by the exact path alone."""
    reason, detail, values, key = checker.check(raw, line_number)
    if values is None:
        return (*checker.nulls, None, reason, detail, key, raw)
    row = []
    for name, kind in checker.columns:
        value = values.get(name)
        if value is not None:
            if kind == "time":
                value = (value - _EPOCH) // _MICROSECOND
            elif kind == "interests":
                value = [{"interest": n, "score": s} for n, s in value]
        row.append(value)
    return (*row, checker.extra(values), None, None, None, None)


def batch_checker(stream: str, earliest: dt.date) -> Callable[[Iterator], Iterator]:
    """A mapInArrow function: Arrow batches of (value bytes, source_file, line_number, ds) ->
    batches of `checked_schema(stream)`, each line checked against its own file date (one
    checker per date: a history backfill reads many). A null line_number is a line of a whole
    file, numbered here in the order the partition streams it (`io.read_raw_lines`: one task
    reads a whole gzip file, in order). Rows are built as tuples and turned into columns with
    one zip, the cheapest way from Python values to Arrow arrays."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(checked_schema(stream), timezone="UTC")
    computed = schema.names[:-3]  # all but source_file, line_number and ds
    line_type = schema.field("line_number").type

    def run(batches: Iterator) -> Iterator:
        checkers: dict[dt.date, LineChecker] = {}
        lines_seen: dict[str, int] = {}

        def checker(day: dt.date) -> LineChecker:
            if day not in checkers:
                checkers[day] = LineChecker(stream, day, earliest)
            return checkers[day]

        for batch in batches:
            numbers = batch.column(2).to_pylist()
            if batch.column(2).null_count:
                numbers = _numbered(batch.column(1).to_pylist(), numbers, lines_seen)
            rows = [checked_row(checker(day), raw, number) for raw, number, day in
                    zip(batch.column(0).to_pylist(), numbers, batch.column(3).to_pylist())]
            columns = list(zip(*rows)) if rows else [()] * len(computed)
            arrays = [pa.array(values, type=schema.field(name).type) for name, values in zip(computed, columns)]
            yield pa.RecordBatch.from_arrays([*arrays, batch.column(1), pa.array(numbers, type=line_type),
                                              batch.column(3)], schema=schema)

    return run


def _numbered(files: list[str], numbers: list[int | None], lines_seen: dict[str, int]) -> list[int]:
    """Line numbers for a batch: a null is the next line of its file (`lines_seen` counts the
    lines of each file streamed so far)."""
    out = []
    for file, number in zip(files, numbers):
        if number is None:
            number = lines_seen.get(file, 0) + 1
            lines_seen[file] = number
        out.append(number)
    return out


def parsed_lines(lines: DataFrame, stream: str, ingested_at: dt.datetime, earliest: dt.date) -> DataFrame:
    """Parse raw lines (value, source_file, line_number, ds: the date of the line's folder) into
    the bronze columns of `stream`, plus `reason` and `detail` (null when the line is
    accepted), `record_key` (the line's key when it is a string, for quarantined lines) and
    `value` (kept for quarantined lines only)."""
    if lines.isLocal() and lines.isEmpty():  # no input line (e.g. no pin changed): no Python worker
        checked = lines.sparkSession.createDataFrame([], checked_schema(stream))
    else:
        checked = lines.select(F.col("value").cast("binary").alias("value"), "source_file", "line_number",
                               "ds").mapInArrow(batch_checker(stream, earliest), checked_schema(stream))
    return checked.select(
        *[f.name for f in _bronze_fields(stream)], "extra_fields",
        "ds", "source_file", "line_number",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
        "reason", "detail", "record_key", F.col("value").cast("string").alias("value"),
    )
