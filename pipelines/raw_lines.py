"""Raw lines -> the bronze columns of a stream, and for each line the first contract rule it
breaks (`reason`, null when accepted) with a `detail` that names the field.

The rules are checked by `check_line`, plain Python over one line, so the whole contract reads
top to bottom in one function and is tested without Spark. Spark runs it over Arrow batches
(`mapInArrow`), one call per batch. Why not Spark's built-in functions: its JSON reader casts
and is lenient (single quotes, NaN, trailing content, duplicate names), and its strict variant
parser plus a type check per field cost 1.6x the old lenient ingest on a 1M-event day
(measured; BENCHMARKS.md), while this path costs about what the lenient one did.

Parsing is `json.loads`: RFC 8259 but for three things it allows, which are refused here:
NaN/Infinity (parse_constant), duplicate names (object_pairs_hook) and unpaired surrogate
escapes. It rejects trailing content itself ("Extra data"). Nothing is cast: a value of another
JSON type than the field's is `wrong_type`.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any, Callable, Iterator

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines import catalog, contract as c

_META = {"extra_fields", "dt", "source_file", "line_number", "ingested_at"}
_BOM = b"\xef\xbb\xbf"
_EPOCH = dt.datetime(1970, 1, 1)
_VALID_ID = re.compile(r"[A-Za-z0-9_.:-]+")
_IPV4 = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")
_IPV6_SHAPED = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")
_TIME = re.compile(c.TIMESTAMP_PATTERN)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_JSON_TYPES = {str: "string", bool: "boolean", int: "number", float: "number", list: "array", dict: "object",
               type(None): "null"}
_EXPECTED = {"id": "string", "text": "string", "time": "string", "enum": "string", "bool": "boolean",
             "int": "integer", "number": "number", "interests": "array"}


class _Broken(Exception):
    """A contract rule the line breaks: the reason code and a detail naming the field."""

    def __init__(self, reason: str, detail: str):
        super().__init__(reason)
        self.reason, self.detail = reason, detail


def _no_duplicates(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        name = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _Broken(c.MALFORMED_JSON, f"duplicate name {name!r}")
    return out


def _no_constant(name: str) -> None:
    raise _Broken(c.MALFORMED_JSON, f"{name} is not JSON")


_PYTHON_TYPES = {"id": (str,), "text": (str,), "time": (str,), "enum": (str,), "bool": (bool,), "int": (int, float),
                 "number": (int, float), "interests": (list,)}


def _type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _time(text: str) -> dt.datetime | None:
    """RFC 3339 UTC text -> naive UTC datetime, or None for any other form or impossible time.
    The regex fixes the form; fromisoformat (C) then rejects impossible dates and times."""
    if _TIME.fullmatch(text) is None:
        return None
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        return None


def _id_problem(value: str) -> bool:
    """Not the id characters, or shaped like an IP address (which needs a dot or two colons)."""
    if value.isascii() and value.isalnum():  # the common case, without a regex
        return False
    return (_VALID_ID.fullmatch(value) is None
            or ("." in value and _IPV4.fullmatch(value) is not None)
            or (value.count(":") > 1 and _IPV6_SHAPED.fullmatch(value) is not None))


def _annotations(items: list) -> list[tuple[str, float]]:
    """Check a pin's `interests` element by element; return (interest, score) pairs."""
    if len(items) > c.INTERESTS_MAX:
        raise _Broken(c.OVERSIZE_FIELD, f"interests: more than {c.INTERESTS_MAX} annotations")
    out = []
    for i, item in enumerate(items):
        at = f"interests[{i}]"
        if type(item) is not dict:
            raise _Broken(c.WRONG_TYPE, f"{at}: {_type_name(item)}, expected object")
        for key in ("interest", "score"):
            if item.get(key) is None:
                raise _Broken(c.MISSING_REQUIRED, f"{at}.{key}")
        name, score = item["interest"], item["score"]
        if type(name) is not str:
            raise _Broken(c.WRONG_TYPE, f"{at}.interest: {_type_name(name)}, expected string")
        if type(score) not in (int, float):
            raise _Broken(c.WRONG_TYPE, f"{at}.score: {_type_name(score)}, expected number")
        unknown = sorted(set(item) - {"interest", "score"})
        if unknown:
            raise _Broken(c.WRONG_TYPE, f"{at}: unknown key {unknown[0]}")
        out.append((name, float(score)))
    for i, (name, score) in enumerate(out):
        if len(name) > c.NAME_MAX_CHARS:
            raise _Broken(c.OVERSIZE_FIELD, f"interests[{i}].interest: longer than {c.NAME_MAX_CHARS}")
        if not name.strip():
            raise _Broken(c.INVALID_VALUE, f"interests[{i}].interest is empty")
        if not (math.isfinite(score) and 0.0 <= score <= 1.0):
            raise _Broken(c.INVALID_VALUE, f"interests[{i}].score is not in [0, 1]")
    if len({name for name, _ in out}) < len(out):
        raise _Broken(c.INVALID_VALUE, "interests: an interest is named twice")
    return out


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
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except ValueError as exc:
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


class LineChecker:
    """The contract for one stream and file date: `check(raw, line_number)` gives the typed
    values of an accepted line, or the reason and detail of the first rule it breaks."""

    def __init__(self, stream: str, ds: dt.date, earliest: dt.date):
        self.stream = stream
        self.fields = c.FIELDS[stream]
        self.types = [(f.name, _PYTHON_TYPES[f.kind], _EXPECTED[f.kind]) for f in self.fields]
        self.known = {f.name for f in self.fields}
        self.required = [f.name for f in self.fields if f.required and f.name != "schema_version"]
        self.ids = [f.name for f in self.fields if f.kind == "id"]
        self.texts = [(f.name, c.ID_MAX_CHARS if f.kind == "id" else c.TEXT_MAX_CHARS)
                      for f in self.fields if f.kind in ("id", "text", "time", "enum")]
        self.times = c.TIME_FIELDS[stream]
        self.numbers = [f.name for f in self.fields if f.kind == "number"]
        self.earliest = dt.datetime.combine(earliest, dt.time())
        self.last_day = ds + dt.timedelta(days=c.FUTURE_TOLERANCE_DAYS)
        self.key = c.KEY[stream]

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
        version = obj.get("schema_version")
        if version is None:
            raise _Broken(c.MISSING_REQUIRED, "schema_version")
        if type(version) not in (int, float) or not math.isfinite(version) or version != math.floor(version):
            raise _Broken(c.WRONG_TYPE, f"schema_version: {_type_name(version)}, expected integer")
        if version != c.SCHEMA_VERSION:
            raise _Broken(c.UNSUPPORTED_SCHEMA_VERSION, f"schema_version {version}")
        get = obj.get
        for name, allowed, expected in self.types:
            value = get(name)
            if value is not None and type(value) not in allowed:
                raise _Broken(c.WRONG_TYPE, f"{name}: {_type_name(value)}, expected {expected}")
        for name in self.required:
            if get(name) is None:
                raise _Broken(c.MISSING_REQUIRED, name)
        if self.stream == "events":
            etype = obj["event_type"]
            if etype in c.PIN_EVENT_TYPES and obj.get("pin_id") is None:
                raise _Broken(c.MISSING_REQUIRED, f"pin_id (required for {etype})")
            if etype in c.BOARD_EVENT_TYPES and obj.get("board_id") is None:
                raise _Broken(c.MISSING_REQUIRED, f"board_id (required for {etype})")
        for name, limit in self.texts:
            value = get(name)
            if value is not None and len(value) > limit:
                raise _Broken(c.OVERSIZE_FIELD, f"{name}: longer than {limit:,}")
        for name in self.ids:
            value = get(name)
            if value is not None and _id_problem(value):
                raise _Broken(c.INVALID_ID, name)
        times = {}
        for name in self.times:
            text = obj[name]
            when = _time(text)
            if when is None:
                raise _Broken(c.BAD_TIMESTAMP, f"{name}: {text}")
            if when < self.earliest:
                raise _Broken(c.BAD_TIMESTAMP, f"{name}: before {self.earliest.date().isoformat()}: {text}")
            if when.date() > self.last_day:
                raise _Broken(c.FUTURE_TIMESTAMP, f"{name}: {text}")
            times[name] = when
        for name in self.numbers:
            value = get(name)
            if value is not None and not math.isfinite(value):
                raise _Broken(c.INVALID_VALUE, f"{name}: not a finite number")
            if value is not None and value < 0:
                raise _Broken(c.INVALID_VALUE, f"{name}: negative")
        annotations = _annotations(obj["interests"]) if obj.get("interests") is not None else None
        if self.stream == "events" and obj["event_type"] not in c.EVENT_TYPES:
            raise _Broken(c.UNKNOWN_EVENT_TYPE, f"event_type {obj['event_type']}")
        values = dict(obj, schema_version=c.SCHEMA_VERSION)
        values.update(times)
        if annotations is not None:
            values["interests"] = annotations
        return values

    def extra(self, obj: dict) -> list[tuple[str, str | None]] | None:
        """Fields the contract does not name, as (name, JSON text; strings as they are)."""
        names = [k for k in obj if k not in self.known]
        if not names:
            return None
        return [(k, v if type(v) is str or v is None else json.dumps(v, separators=(",", ":"), ensure_ascii=False))
                for k, v in ((k, obj[k]) for k in names)]


# --- Spark: the checker over Arrow batches --------------------------------------------------

def _bronze_fields(stream: str) -> list[T.StructField]:
    return [f for f in catalog.BRONZE_BY_STREAM[stream].schema.fields if f.name not in _META]


def checked_schema(stream: str) -> T.StructType:
    """What the batch function returns: the bronze columns, extra fields, the line's place,
    and reason, detail, record_key, value (the raw bytes of quarantined lines)."""
    return T.StructType(
        [T.StructField(f.name, f.dataType) for f in _bronze_fields(stream)]
        + [T.StructField("extra_fields", catalog.EXTRA_FIELDS), T.StructField("source_file", T.StringType()),
           T.StructField("line_number", T.LongType()), T.StructField("reason", T.StringType()),
           T.StructField("detail", T.StringType()), T.StructField("record_key", T.StringType()),
           T.StructField("value", T.BinaryType())])


def batch_checker(stream: str, ds: dt.date, earliest: dt.date) -> Callable[[Iterator], Iterator]:
    """A mapInArrow function: Arrow batches of (value bytes, source_file, line_number) ->
    batches of `checked_schema(stream)`."""
    import pyarrow as pa

    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(checked_schema(stream), timezone="UTC")
    columns = [f.name for f in _bronze_fields(stream)]
    times = set(c.TIME_FIELDS[stream])
    checker_args = (stream, ds, earliest)

    def run(batches: Iterator) -> Iterator:
        checker = LineChecker(*checker_args)
        epoch = _EPOCH
        micro = dt.timedelta(microseconds=1)
        for batch in batches:
            raws = batch.column(0).to_pylist()
            numbers = batch.column(2).to_pylist()
            out: dict[str, list] = {name: [] for name in schema.names}
            for raw, number in zip(raws, numbers):
                reason, detail, values, key = checker.check(raw, number)
                if values is None:
                    for name in columns:
                        out[name].append(None)
                    out["extra_fields"].append(None)
                    out["value"].append(raw)
                else:
                    for name in columns:
                        value = values.get(name)
                        if name in times:
                            value = (value - epoch) // micro
                        elif name == "interests" and value is not None:
                            value = [{"interest": n, "score": s} for n, s in value]
                        out[name].append(value)
                    out["extra_fields"].append(checker.extra(values))
                    out["value"].append(None)
                out["reason"].append(reason)
                out["detail"].append(detail)
                out["record_key"].append(key)
            out["source_file"] = batch.column(1)
            out["line_number"] = batch.column(2)
            arrays = [out[f.name] if isinstance(out[f.name], (pa.Array, pa.ChunkedArray))
                      else pa.array(out[f.name], type=f.type) for f in schema]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    return run


def parsed_lines(lines: DataFrame, stream: str, ds: str, ingested_at: dt.datetime, earliest: dt.date) -> DataFrame:
    """Parse raw lines (value, source_file, line_number) into the bronze columns of `stream`,
    plus `reason` and `detail` (null when the line is accepted), `record_key` (the line's key
    when it is a string, for quarantined lines) and `value` (kept for quarantined lines only)."""
    day = dt.date.fromisoformat(ds)
    if lines.isLocal() and lines.isEmpty():  # no input line (e.g. no pin changed): no Python worker
        checked = lines.sparkSession.createDataFrame([], checked_schema(stream))
    else:
        checked = lines.select(F.col("value").cast("binary").alias("value"), "source_file",
                               "line_number").mapInArrow(batch_checker(stream, day, earliest), checked_schema(stream))
    return checked.select(
        *[f.name for f in _bronze_fields(stream)], "extra_fields",
        F.lit(day).alias("dt"), "source_file", "line_number",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
        "reason", "detail", "record_key", F.col("value").cast("string").alias("value"),
    )
