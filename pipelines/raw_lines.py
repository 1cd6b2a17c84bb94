"""Raw lines -> the bronze columns of a stream, and for each line the first contract rule it
breaks (`reason`, null when accepted) with a `detail` that names the field.

Parsing is strict RFC 8259 through Spark's variant parser (`try_parse_json`): double-quoted
names and strings only, no NaN/Infinity, no comments, no leading zeros, no trailing commas,
no raw control characters in strings, no duplicate names. The parser reads one value and
ignores what follows it, so a line is also parsed wrapped as ``[line]`` and as
``{"_": line}``: content after the object breaks one of the two (a `,` continues the array,
a `}` closes the wrapper object early, anything else breaks both), so both parse and the array
holds exactly one element only when the line is exactly one JSON value.

Types are checked on the parsed value, not cast: ``schema_of_variant`` gives each field's JSON
type, so a number where the contract says string, or a string where it says number, is
`wrong_type`. Nested annotations (`interests`) are checked element by element.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines import catalog, contract as c

_NUMBER = r"^(TINYINT|SMALLINT|INT|BIGINT|FLOAT|DOUBLE|DECIMAL\([0-9]+,[0-9]+\))$"
_ALLOWED = {  # JSON types (as schema_of_variant names them) accepted for each kind of field
    "id": r"^STRING$", "text": r"^STRING$", "time": r"^STRING$", "enum": r"^STRING$",
    "bool": r"^BOOLEAN$", "int": _NUMBER, "number": _NUMBER, "interests": r"^ARRAY<",
}
_JSON_TYPE = {"STRING": "string", "BOOLEAN": "boolean", "VOID": "null"}
_IPV4 = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$"
_IPV6_SHAPED = r"^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$"  # hex groups and two or more colons
_BOM = "\ufeff"
_META = {"extra_fields", "dt", "source_file", "line_number", "ingested_at"}


def _json_type(t: Column) -> Column:
    """A schema_of_variant name as a JSON type name, for details: number, string, object..."""
    return (F.when(t.rlike(_NUMBER), F.lit("number")).when(t.startswith("OBJECT"), F.lit("object"))
            .when(t.startswith("ARRAY"), F.lit("array")).otherwise(F.lower(t)))


def _type_of(v: Column, path: str) -> Column:
    """The JSON type of the value at `path`, or null when it is absent or null."""
    t = F.schema_of_variant(F.variant_get(v, path, "variant"))
    return F.when(t != "VOID", t)


def _rule(reason: str, when: Column, detail: Column | str) -> tuple[str, Column, Column]:
    return reason, when, detail if isinstance(detail, Column) else F.lit(detail)


def _first_broken(rules: list) -> Column:
    """struct(reason, detail) of the first rule whose condition holds, else null. A rule is
    (reason, condition, detail); its reason may be a Column (a nested check's own reason)."""
    chain = None
    for reason, when, detail in rules:
        value = F.struct((reason if isinstance(reason, Column) else F.lit(reason)).alias("reason"),
                         detail.alias("detail"))
        chain = F.when(when, value) if chain is None else chain.when(when, value)
    return chain


def _bad_id(value: Column) -> Column:
    return ~value.rlike(c.ID_PATTERN) | value.rlike(_IPV4) | value.rlike(_IPV6_SHAPED)


def _timestamp(value: Column) -> Column:
    """RFC 3339 UTC text -> timestamp; null for any other form or an impossible date or time."""
    return F.when(value.rlike(c.TIMESTAMP_PATTERN), F.try_to_timestamp(value))


def _annotation_problem(x: Column, i: Column) -> Column:
    """struct(reason, detail) of the first problem of one `interests` element (x: variant)."""
    at = F.concat(F.lit("interests["), i.cast("string"), F.lit("]"))
    kind = F.schema_of_variant(x)
    interest_t = F.schema_of_variant(F.variant_get(x, "$.interest", "variant"))
    score_t = F.schema_of_variant(F.variant_get(x, "$.score", "variant"))
    keys = F.json_object_keys(F.to_json(x))
    unknown = F.array_except(keys, F.array(F.lit("interest"), F.lit("score")))
    name = F.try_variant_get(x, "$.interest", "string")
    score = F.try_variant_get(x, "$.score", "double")
    absent = lambda t: t.isNull() | (t == "VOID")  # noqa: E731
    return _first_broken([
        _rule(c.WRONG_TYPE, ~kind.startswith("OBJECT"), F.concat(at, F.lit(": "), _json_type(kind),
                                                                 F.lit(", expected object"))),
        _rule(c.MISSING_REQUIRED, absent(interest_t), F.concat(at, F.lit(".interest"))),
        _rule(c.MISSING_REQUIRED, absent(score_t), F.concat(at, F.lit(".score"))),
        _rule(c.WRONG_TYPE, interest_t != "STRING", F.concat(at, F.lit(".interest: "), _json_type(interest_t),
                                                             F.lit(", expected string"))),
        _rule(c.WRONG_TYPE, ~score_t.rlike(_NUMBER), F.concat(at, F.lit(".score: "), _json_type(score_t),
                                                              F.lit(", expected number"))),
        _rule(c.WRONG_TYPE, F.size(unknown) > 0, F.concat(at, F.lit(": unknown key "), unknown[0])),
        _rule(c.OVERSIZE_FIELD, F.length(name) > c.NAME_MAX_CHARS, F.concat(at, F.lit(".interest"))),
        _rule(c.INVALID_VALUE, F.length(F.trim(name)) == 0, F.concat(at, F.lit(".interest is empty"))),
        _rule(c.INVALID_VALUE, score.isNull() | ~score.between(0.0, 1.0),
              F.concat(at, F.lit(".score is not in [0, 1]"))),
    ])


def _interests(v: Column) -> tuple[Column, Column]:
    """(problem, value) of a pin's annotations: the first element's problem (or a repeated name),
    and the typed array<struct<interest, score>>."""
    elements = F.try_variant_get(v, "$.interests", "array<variant>")
    problems = F.filter(F.transform(elements, _annotation_problem), lambda p: p.isNotNull())
    names = F.transform(elements, lambda x: F.try_variant_get(x, "$.interest", "string"))
    repeated = F.size(F.array_distinct(names)) < F.size(names)
    problem = (
        F.when(F.size(elements) > c.INTERESTS_MAX,
               F.struct(F.lit(c.OVERSIZE_FIELD).alias("reason"),
                        F.lit(f"interests: more than {c.INTERESTS_MAX} annotations").alias("detail")))
        .when(F.size(problems) > 0, problems[0])
        .when(repeated, F.struct(F.lit(c.INVALID_VALUE).alias("reason"),
                                 F.lit("interests: an interest is named twice").alias("detail")))
    )
    value = F.transform(elements, lambda x: F.struct(
        F.try_variant_get(x, "$.interest", "string").alias("interest"),
        F.try_variant_get(x, "$.score", "double").alias("score")))
    return problem, value


def _field_rules(stream: str, ds: dt.date, earliest: dt.date) -> list[tuple[str, Column, Column]]:
    """Every rule of the contract for the fields of `stream`, in the order they are checked.
    Columns t_<field> hold each field's JSON type, s_<field> its string value."""
    fields = c.FIELDS[stream]
    t = {f.name: F.col(f"t_{f.name}") for f in fields}
    s = {f.name: F.col(f"s_{f.name}") for f in fields}
    version = F.col("n_schema_version")
    rules = [
        _rule(c.MISSING_REQUIRED, t["schema_version"].isNull(), "schema_version"),
        _rule(c.WRONG_TYPE, ~t["schema_version"].rlike(_NUMBER) | (version != F.floor(version)),
              F.concat(F.lit("schema_version: "), _json_type(t["schema_version"]), F.lit(", expected integer"))),
        _rule(c.UNSUPPORTED_SCHEMA_VERSION, version != F.lit(float(c.SCHEMA_VERSION)),
              F.concat(F.lit("schema_version "), s["schema_version"])),
    ]
    for f in fields:
        rules.append(_rule(c.WRONG_TYPE, t[f.name].isNotNull() & ~t[f.name].rlike(_ALLOWED[f.kind]), F.concat(
            F.lit(f"{f.name}: "), _json_type(t[f.name]),
            F.lit(", expected " + {"id": "string", "text": "string", "time": "string", "enum": "string",
                                   "bool": "boolean", "int": "integer", "number": "number",
                                   "interests": "array"}[f.kind]))))
        if f.kind == "int":
            rules.append(_rule(c.WRONG_TYPE, F.col(f"n_{f.name}") != F.floor(F.col(f"n_{f.name}")),
                               f"{f.name}: number, expected integer"))
    for name in c.required_fields(stream):
        rules.append(_rule(c.MISSING_REQUIRED, t[name].isNull(), name))
    if stream == "events":
        etype = s["event_type"]
        rules.append(_rule(c.MISSING_REQUIRED, etype.isin(*c.PIN_EVENT_TYPES) & t["pin_id"].isNull(),
                           F.concat(F.lit("pin_id (required for "), etype, F.lit(")"))))
        rules.append(_rule(c.MISSING_REQUIRED, etype.isin(*c.BOARD_EVENT_TYPES) & t["board_id"].isNull(),
                           F.concat(F.lit("board_id (required for "), etype, F.lit(")"))))
    for f in fields:
        limit = c.ID_MAX_CHARS if f.kind == "id" else c.TEXT_MAX_CHARS
        if f.kind in ("id", "text", "time", "enum"):
            rules.append(_rule(c.OVERSIZE_FIELD, F.length(s[f.name]) > limit, f"{f.name}: longer than {limit:,}"))
    for f in fields:
        if f.kind == "id":
            rules.append(_rule(c.INVALID_ID, _bad_id(s[f.name]), f"{f.name}"))
    for name in c.TIME_FIELDS[stream]:
        parsed = F.col(f"ts_{name}")
        rules.append(_rule(c.BAD_TIMESTAMP, s[name].isNotNull() & parsed.isNull(),
                           F.concat(F.lit(f"{name}: "), s[name])))
        rules.append(_rule(c.BAD_TIMESTAMP, parsed < F.lit(dt.datetime.combine(earliest, dt.time())),
                           F.concat(F.lit(f"{name}: before {earliest.isoformat()}: "), s[name])))
        rules.append(_rule(c.FUTURE_TIMESTAMP, F.date_diff(F.to_date(parsed), F.lit(ds)) > c.FUTURE_TOLERANCE_DAYS,
                           F.concat(F.lit(f"{name}: "), s[name])))
    for f in fields:
        if f.kind == "number":
            n = F.col(f"n_{f.name}")
            rules.append(_rule(c.INVALID_VALUE, n.isin(float("inf"), float("-inf")) | n.isNaN(),
                               f"{f.name}: not a finite number"))
            rules.append(_rule(c.INVALID_VALUE, n < 0, f"{f.name}: negative"))
    if stream == "pins":
        problem = F.col("interests_problem")
        rules.append((problem["reason"], problem.isNotNull(), problem["detail"]))
    if stream == "events":
        rules.append(_rule(c.UNKNOWN_EVENT_TYPE, ~s["event_type"].isin(*c.EVENT_TYPES),
                           F.concat(F.lit("event_type "), s["event_type"])))
    return rules


def parsed_lines(lines: DataFrame, stream: str, ds: str, ingested_at: dt.datetime, earliest: dt.date) -> DataFrame:
    """Parse raw lines (value, source_file, line_number) into the bronze columns of `stream`,
    plus `reason` and `detail` (null when the line is accepted), `record_key` (the line's key
    when it is a string, for quarantined lines) and `value` (kept for quarantined lines only)."""
    day = dt.date.fromisoformat(ds)
    fields = c.FIELDS[stream]
    value = F.col("value")
    value = F.when(value.endswith("\r"), F.expr("substring(value, 1, length(value) - 1)")).otherwise(value)
    value = F.when((F.col("line_number") == 1) & value.startswith(_BOM), F.substring(value, 2, 1 << 30)).otherwise(
        value)
    cleaned = lines.select(value.alias("value"), "source_file", "line_number")
    wrapped = cleaned.select(
        "*",
        F.try_parse_json(F.concat(F.lit("["), F.col("value"), F.lit("]"))).alias("_array"),
        F.try_parse_json(F.concat(F.lit('{"_":'), F.col("value"), F.lit("}"))).alias("_object"),
    )
    one = wrapped.select(
        "value", "source_file", "line_number",
        F.variant_get(F.col("_array"), "$[0]", "variant").alias("_v"),
        (F.col("_object").isNotNull()
         & (F.size(F.try_variant_get(F.col("_array"), "$", "array<variant>")) == 1)).alias("_single"),
    )
    v = F.col("_v")
    typed = one.select(
        "*",
        F.schema_of_variant(v).startswith("OBJECT").alias("_object_line"),
        *[_type_of(v, f"$.{f.name}").alias(f"t_{f.name}") for f in fields],
        *[F.try_variant_get(v, f"$.{f.name}", "string").alias(f"s_{f.name}") for f in fields
          if f.kind in ("id", "text", "time", "enum", "int")],
        *[F.try_variant_get(v, f"$.{f.name}", "double").alias(f"n_{f.name}") for f in fields
          if f.kind in ("int", "number")],
    )
    typed = typed.select(
        "*",
        *[_timestamp(F.col(f"s_{name}")).alias(f"ts_{name}") for name in c.TIME_FIELDS[stream]],
        *([_interests(v)[0].alias("interests_problem")] if stream == "pins" else []),
    )
    is_json = F.col("_single") & F.coalesce(F.col("_object_line"), F.lit(False))
    broken = _first_broken([
        _rule(c.INVALID_UTF8, ~F.is_valid_utf8("value"), "line"),
        _rule(c.OVERSIZE_LINE, F.octet_length("value") > c.LINE_MAX_BYTES,
              F.concat(F.octet_length("value").cast("string"), F.lit(" bytes"))),
        _rule(c.MALFORMED_JSON, ~is_json,
              F.when(F.col("value").rlike(r"^[ \t\r\n]*$"), F.lit("blank line"))
              .when(F.col("_single") & ~F.col("_object_line"), F.lit("not a JSON object"))
              .otherwise(F.lit("not exactly one JSON object"))),
        *_field_rules(stream, day, earliest),
    ])
    known = F.array(*[F.lit(f.name) for f in fields])
    keys = F.json_object_keys("value")
    # The map parse runs only for the few lines that carry fields the contract does not know.
    has_extra = F.size(F.array_except(keys, known)) > 0
    extra = F.map_filter(F.from_json("value", "map<string,string>"), lambda k, _: ~F.array_contains(known, k))
    bronze = catalog.BRONZE_BY_STREAM[stream].schema
    columns = []
    for f in bronze.fields:
        if f.name in _META:
            continue
        kind = next(x.kind for x in fields if x.name == f.name)
        if kind == "time":
            column = F.col(f"ts_{f.name}")
        elif kind == "interests":
            column = _interests(v)[1]
        elif kind in ("id", "text", "enum"):
            column = F.col(f"s_{f.name}")
        else:
            column = F.try_variant_get(v, f"$.{f.name}", f.dataType.simpleString())
        columns.append(column.cast(f.dataType).alias(f.name))
    key = c.KEY[stream]
    return typed.select(
        *columns,
        F.when(is_json & has_extra, extra).alias("extra_fields"),
        F.lit(day).alias("dt"),
        "source_file",
        "line_number",
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
        broken["reason"].alias("reason"),
        broken["detail"].alias("detail"),
        F.when(broken.isNotNull() & (F.col(f"t_{key}") == "STRING"), F.col(f"s_{key}")).alias("record_key"),
        # Only quarantined lines need their raw text: accepted ones drop it before caching.
        F.when(broken.isNotNull(), F.col("value")).alias("value"),
    )
