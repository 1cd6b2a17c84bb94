"""Hostile corpus for the raw-log contract (schema version 1), written by a reviewer from
README.md "## Raw log contract (schema version 1)" alone, before reading the code. Six
expectations the README left open were settled by documenting them (a BOM inside a string is a
character; nesting over 64 levels; an integer written with an exponent; ids that hold an IPv4
or IPv6 address anywhere).

Each case: (stream, case_name, raw_line_bytes, expected_reason_or_None, note)
Case names starting with "L1_" are meant to be checked as line number 1 (start of file);
all others as line number 2.  File dt = 2026-03-10, earliest_event_date = 1995-01-01.
Notes starting with "AMBIG" mark places where the README is ambiguous/silent and the
expectation is a guess.
"""
import json

CASES = []


def add(stream, name, raw, expected, note=""):
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    taken = {(c[0], c[1]) for c in CASES}
    base, i = name, 2
    while (stream, name) in taken:
        name, i = "%s_%d" % (base, i), i + 1
    CASES.append((stream, name, raw, expected, note))


def q(s):
    """JSON string literal, non-ASCII kept raw."""
    return json.dumps(s, ensure_ascii=False)


BASE = {
    "events": [("schema_version", "1"), ("event_id", '"e1"'), ("event_type", '"click"'),
               ("event_time", '"2026-03-10T12:00:00Z"'), ("user_id", '"u1"'), ("pin_id", '"p1"')],
    "pins": [("schema_version", "1"), ("pin_id", '"p1"'), ("creator_id", '"c1"'),
             ("created_at", '"2026-03-01T00:00:00Z"'), ("updated_at", '"2026-03-10T00:00:00Z"')],
    "boards": [("schema_version", "1"), ("board_id", '"b1"'), ("owner_id", '"o1"'),
               ("created_at", '"2026-03-01T00:00:00Z"'), ("updated_at", '"2026-03-10T00:00:00Z"')],
}


def L(stream, set=None, drop=(), extra=()):
    """Build a line: base fields of the stream, with `set` (name -> raw JSON text)
    replacing/adding, `drop` removed, `extra` ((raw_name, raw_value), ...) appended;
    raw_name is written verbatim between double quotes."""
    set = dict(set or {})
    parts = []
    for k, v in BASE[stream]:
        if k in drop:
            continue
        if k in set:
            v = set.pop(k)
        parts.append('"%s":%s' % (k, v))
    for k, v in set.items():
        parts.append('"%s":%s' % (k, v))
    for k, v in extra:
        parts.append('"%s":%s' % (k, v))
    return "{" + ",".join(parts) + "}"


def E(**kw):
    return L("events", **kw)


def P(**kw):
    return L("pins", **kw)


def B(**kw):
    return L("boards", **kw)


def pad_to(line, n):
    """Insert spaces after the opening brace so the UTF-8 line is exactly n bytes."""
    b = line.encode("utf-8") if isinstance(line, str) else line
    assert b[:1] == b"{"
    return b"{" + b" " * (n - len(b)) + b[1:]


def ann(i, score="0.5"):
    return '{"interest":"i%d","score":%s}' % (i, score)


def anns(n):
    return "[" + ",".join(ann(i) for i in range(n)) + "]"


# ---------------------------------------------------------------- baselines / accepted
add("events", "base_click", E(), None)
add("pins", "base_pin", P(), None)
add("boards", "base_board", B(), None)
add("events", "impression_ok", E(set={"event_type": '"impression"'}), None)
add("events", "closeup_ok", E(set={"event_type": '"closeup"'}), None)
add("events", "hide_ok", E(set={"event_type": '"hide"'}), None)
add("events", "save_ok", E(set={"event_type": '"save"', "board_id": '"b1"'}), None)
add("events", "follow_ok_no_pin", E(set={"event_type": '"follow"', "board_id": '"b1"'}, drop=("pin_id",)), None)
add("events", "follow_with_pin_ok", E(set={"event_type": '"follow"', "board_id": '"b1"'}), None,
    "pin_id is not forbidden for follow")
add("events", "all_optionals", E(set={"session_id": '"s-1"', "is_outbound": "true", "is_merchant": "false",
                                       "client_ip": '"10.0.0.1"', "user_agent": '"Mozilla/5.0 (X11)"',
                                       "board_id": '"b1"'}), None,
    "client_ip is text, an IP is fine there; board_id on click allowed")
add("events", "optional_nulls", E(set={"session_id": "null", "is_outbound": "null", "is_merchant": "null",
                                        "client_ip": "null", "user_agent": "null", "board_id": "null"}), None,
    "null counts as absent")
add("events", "impression_is_outbound_ok", E(set={"event_type": '"impression"', "is_outbound": "true"}), None)
add("pins", "pin_full", P(set={"title": '"T"', "description": '"D"', "link": '"https://x.example/a?b=1"',
                               "domain": '"x.example"', "merchant": '"M"', "price": "9.99",
                               "interests": '[{"interest":"art","score":0.5},{"score":1,"interest":"diy"}]'}), None)
add("pins", "pin_optional_nulls", P(set={"title": "null", "description": "null", "link": "null", "domain": "null",
                                         "merchant": "null", "price": "null", "interests": "null"}), None)
add("boards", "board_full", B(set={"name": '"N"', "description": '"D"', "category": '"C"', "is_secret": "false"}), None)
add("boards", "board_optional_nulls", B(set={"name": "null", "description": "null", "category": "null",
                                             "is_secret": "null"}), None)
add("pins", "created_after_updated", P(set={"created_at": '"2026-03-10T00:00:00Z"', "updated_at": '"2026-03-01T00:00:00Z"'}),
    None, "no ordering rule between created_at and updated_at")
add("pins", "text_empty_strings", P(set={"title": '""', "description": '""'}), None, "text has no minimum")

# ---------------------------------------------------------------- invalid_utf8
add("events", "utf8_ff_in_string", E(set={"user_agent": '"a\xffb"'}).encode("latin-1"), "invalid_utf8")
add("events", "utf8_latin1_e_acute", E(set={"user_agent": '"caf\xe9"'}).encode("latin-1"), "invalid_utf8")
add("events", "utf8_overlong_nul", E().encode()[:-1] + b',"x":"\xc0\x80"}', "invalid_utf8")
add("events", "utf8_encoded_surrogate", E().encode()[:-1] + b',"x":"\xed\xa0\x80"}', "invalid_utf8")
add("events", "utf8_truncated_multibyte", E().encode()[:-1] + b',"x":"\xe2\x82"}', "invalid_utf8")
add("events", "utf8_above_10ffff", E().encode()[:-1] + b',"x":"\xf4\x90\x80\x80"}', "invalid_utf8")
add("events", "utf8_lone_continuation_outside_string", E().encode() + b"\x80", "invalid_utf8")
add("events", "utf8_beats_oversize", pad_to(E(), 70000)[:-1] + b"\xff}", "invalid_utf8",
    "invalid_utf8 is checked before oversize_line")
add("events", "utf8_beats_malformed", b"{\xff", "invalid_utf8")
add("pins", "utf8_bad_in_name", P().encode()[:-1] + b',"\xfe":1}', "invalid_utf8")

# ---------------------------------------------------------------- oversize_line
add("events", "line_65536_ok", pad_to(E(), 65536), None)
add("events", "line_65537", pad_to(E(), 65537), "oversize_line")
add("events", "line_65537_garbage", b"x" * 65537, "oversize_line", "oversize_line before malformed_json")
add("pins", "line_65536_multibyte_ok",
    pad_to(P(extra=[("note", q("\u00e9" * 1000))]), 65536), None, "bytes, not characters")
add("pins", "line_65537_multibyte", pad_to(P(extra=[("note", q("\u00e9" * 1000))]), 65537), "oversize_line")
add("boards", "line_65536_plus_cr_ok", pad_to(B(), 65536) + b"\r", None,
    "AMBIG: one trailing \\r removed before measuring (README: the \\r is removed)")
add("events", "L1_bom_plus_65536_ok", b"\xef\xbb\xbf" + pad_to(E(), 65536), None,
    "AMBIG: BOM is 'ignored', so it should not count toward the 65,536 bytes")

# ---------------------------------------------------------------- malformed_json: shapes
add("events", "blank_line", b"", "malformed_json")
add("events", "whitespace_only", b"   \t ", "malformed_json")
add("events", "cr_only", b"\r", "malformed_json", "after the \\r is removed the line is blank")
add("events", "array_of_object", "[" + E() + "]", "malformed_json")
add("events", "bare_string", b'"hello"', "malformed_json")
add("events", "bare_number", b"1", "malformed_json")
add("events", "bare_null", b"null", "malformed_json")
add("events", "bare_true", b"true", "malformed_json")
add("events", "truncated_object", E()[:-1], "malformed_json")
add("events", "truncated_mid_value", b'{"schema_version":', "malformed_json")
add("events", "empty_object", b"{}", "missing_required_field", "a JSON object, just missing fields")

# ---------------------------------------------------------------- malformed_json: syntax
add("events", "single_quoted_names", E().replace('"', "'"), "malformed_json")
add("events", "single_quoted_value", E(set={"user_id": "'u1'"}), "malformed_json")
add("events", "unquoted_name", E().replace('"user_id"', "user_id"), "malformed_json")
add("pins", "nan_literal", P(set={"price": "NaN"}), "malformed_json")
add("pins", "infinity_literal", P(set={"price": "Infinity"}), "malformed_json")
add("pins", "neg_infinity_literal", P(set={"price": "-Infinity"}), "malformed_json")
add("events", "unknown_nan_literal", E(extra=[("x", "NaN")]), "malformed_json")
add("events", "line_comment_after", E() + " // c", "malformed_json")
add("events", "block_comment_inside", E().replace(",", ",/*c*/", 1), "malformed_json")
add("events", "hash_comment_after", E() + " # c", "malformed_json")
add("events", "trailing_comma_object", E()[:-1] + ",}", "malformed_json")
add("events", "trailing_comma_array", E(extra=[("x", "[1,2,]")]), "malformed_json")
add("events", "double_comma", E().replace(",", ",,", 1), "malformed_json")
add("events", "leading_zero_schema", E(set={"schema_version": "01"}), "malformed_json")
add("pins", "leading_zero_price", P(set={"price": "09.5"}), "malformed_json")
add("pins", "neg_leading_zero", P(set={"price": "-01"}), "malformed_json")
add("pins", "double_zero", P(set={"price": "00"}), "malformed_json")
add("pins", "leading_dot", P(set={"price": ".5"}), "malformed_json")
add("pins", "trailing_dot", P(set={"price": "5."}), "malformed_json")
add("pins", "plus_sign", P(set={"price": "+1"}), "malformed_json")
add("pins", "dot_exponent", P(set={"price": "1.e5"}), "malformed_json")
add("pins", "hex_number", P(set={"price": "0x10"}), "malformed_json")
add("pins", "exponent_no_digits", P(set={"price": "1e"}), "malformed_json")
add("events", "python_true", E(set={"is_outbound": "True"}), "malformed_json")
add("events", "undefined_literal", E(set={"session_id": "undefined"}), "malformed_json")
add("events", "name_number", E()[:-1] + ",1:2}", "malformed_json")

# ---------------------------------------------------------------- malformed_json: duplicates
add("events", "dup_top_level", E(extra=[("user_id", '"u2"')]), "malformed_json")
add("events", "dup_top_level_same_value", E(extra=[("user_id", '"u1"')]), "malformed_json")
add("events", "dup_via_escape", E(extra=[("user\\u005fid", '"u1"')]), "malformed_json",
    "names compare after unescaping")
add("events", "dup_unknown_field", E(extra=[("x", "1"), ("x", "2")]), "malformed_json")
add("events", "dup_null_values", E(extra=[("x", "null"), ("x", "null")]), "malformed_json")
add("events", "dup_nested_unknown_object", E(extra=[("meta", '{"a":1,"a":2}')]), "malformed_json")
add("events", "dup_deeply_nested", E(extra=[("meta", '[{"k":[{"z":1,"z":1}]}]')]), "malformed_json")
add("pins", "dup_in_annotation", P(set={"interests": '[{"interest":"a","score":0.5,"score":0.6}]'}), "malformed_json")
add("events", "dup_empty_name", E(extra=[("", "1"), ("", "2")]), "malformed_json")
add("events", "case_variant_not_dup", E(extra=[("User_id", '"u2"'), ("USER_ID", '"u3"')]), None,
    "names are case-sensitive: no duplicate, kept in extra_fields")

# ---------------------------------------------------------------- malformed_json: trailing content
add("events", "second_object", E() + E(), "malformed_json")
add("events", "second_object_spaced", E() + " " + E(), "malformed_json")
add("events", "trailing_empty_object", E() + " {}", "malformed_json")
add("events", "trailing_comma", E() + ",", "malformed_json")
add("events", "trailing_bracket", E() + "]", "malformed_json")
add("events", "trailing_brace", E() + "}", "malformed_json")
add("events", "trailing_word", E() + " x", "malformed_json")
add("events", "trailing_null", E() + " null", "malformed_json")
add("events", "trailing_number", E() + "1", "malformed_json")
add("events", "trailing_nul_byte", E().encode() + b"\x00", "malformed_json")
add("events", "trailing_formfeed", E().encode() + b"\x0c", "malformed_json", "\\f is not JSON whitespace")
add("events", "trailing_vtab", E().encode() + b"\x0b", "malformed_json")
add("events", "trailing_nbsp", E() + "\u00a0", "malformed_json")
add("events", "trailing_ideographic_space", E() + "\u3000", "malformed_json")
add("events", "trailing_bom", E() + "\ufeff", "malformed_json")
add("events", "trailing_string", E() + ' "x"', "malformed_json")

# ---------------------------------------------------------------- whitespace / CR
add("events", "leading_ws_all_kinds", " \t\r " + E(), None)
add("events", "trailing_ws_all_kinds", E() + " \t\r ", None)
add("events", "ws_between_tokens", "{" + "\r\t , ".join(' "%s" \t:\r %s ' % kv for kv in BASE["events"]) + "}", None)
add("events", "trailing_cr_removed", E() + "\r", None)
add("events", "trailing_double_cr", E() + "\r\r", None, "one removed, the other is whitespace")
add("events", "lone_cr_inside", E().replace(",", ",\r", 1), None, "lone \\r inside a line is whitespace")
add("events", "formfeed_between_tokens", E().replace(",", ",\x0c", 1), "malformed_json")
add("events", "nbsp_between_tokens", E().replace(",", ",\u00a0", 1), "malformed_json")
add("events", "leading_formfeed", "\x0c" + E(), "malformed_json")

# ---------------------------------------------------------------- BOM
add("events", "L1_bom_at_file_start", "\ufeff" + E(), None)
add("events", "bom_at_line2", "\ufeff" + E(), "malformed_json")
add("events", "L1_bom_after_space", " \ufeff" + E(), "malformed_json")
add("events", "L1_double_bom", "\ufeff\ufeff" + E(), "malformed_json")
add("events", "L1_bom_then_blank", "\ufeff", "malformed_json")
add("events", "L1_bom_then_cr_line", "\ufeff" + E() + "\r", None)
add("events", "bom_inside_string_raw", E(set={"user_agent": '"a\ufeffb"'}), None,
    "AMBIG: README says a BOM 'anywhere else' makes the line malformed_json; RFC 8259 would allow U+FEFF in a string")
add("events", "bom_escaped_in_string", E(set={"user_agent": '"a\\ufeffb"'}), None, "escaped, no BOM bytes in the line")

# ---------------------------------------------------------------- control chars / escapes / unicode
add("events", "raw_tab_in_string", E(set={"user_agent": '"a\tb"'}), "malformed_json")
add("events", "raw_nul_in_string", E(set={"user_agent": '"a\x00b"'}), "malformed_json")
add("events", "raw_0x1f_in_string", E(set={"user_agent": '"a\x1fb"'}), "malformed_json")
add("events", "raw_cr_in_string", E(set={"user_agent": '"a\rb"'}), "malformed_json",
    "control character inside a string must be escaped")
add("events", "raw_del_in_string_ok", E(set={"user_agent": '"a\x7fb"'}), None, "U+007F is not a JSON control char")
add("events", "raw_u2028_in_string_ok", E(set={"user_agent": '"a\u2028b\u2029c"'}), None)
add("events", "raw_c1_control_ok", E(set={"user_agent": '"a\u0085b"'}), None, "RFC 8259 only forbids U+0000-001F")
add("events", "escapes_all_valid", E(set={"user_agent": r'"\" \\ \/ \b \f \n \r \t \u0041 \u00e9 \ud83d\ude00"'}), None)
add("events", "escape_nul_ok", E(set={"user_agent": r'"a\u0000b"'}), None)
add("events", "escape_x_invalid", E(set={"user_agent": r'"\x41"'}), "malformed_json")
add("events", "escape_squote_invalid", E(set={"user_agent": r'"\'"'}), "malformed_json")
add("events", "escape_a_invalid", E(set={"user_agent": r'"\a"'}), "malformed_json")
add("events", "escape_short_u", E(set={"user_agent": r'"\u12"'}), "malformed_json")
add("events", "escape_upper_U", E(set={"user_agent": r'"\U0041"'}), "malformed_json")
add("events", "escape_bad_hex", E(set={"user_agent": r'"\u00g1"'}), "malformed_json")
add("events", "escape_trailing_backslash", E().replace('"u1"', '"u1\\"', 1), "malformed_json")
add("events", "lone_high_surrogate_escape", E(set={"user_agent": r'"\ud800"'}), "malformed_json",
    "AMBIG: RFC 8259 grammar allows it but it is not a Unicode character; lines are UTF-8 text")
add("events", "lone_low_surrogate_escape", E(extra=[("x", r'"\udc00"')]), "malformed_json", "AMBIG: as above")
add("events", "unicode_raw_astral_ok", E(set={"user_agent": q("\U0001F600 \u4e2d\u6587 \u0915\u094d")}), None)
add("events", "escaped_name_event_id", E(drop=("event_id",), extra=[("event\\u005fid", '"e1"')]), None,
    "escaped name decodes to event_id")
add("events", "escaped_value_timestamp", E(set={"event_time": r'"2026-03-10T12:00:00\u005a"'}), None,
    "escaped Z decodes to Z")
add("events", "escaped_value_event_type", E(set={"event_type": r'"\u0063lick"'}), None)

# ---------------------------------------------------------------- numbers (syntax-valid)
add("events", "deep_nesting_unknown", E(extra=[("deep", "[" * 5000 + "]" * 5000)]), "malformed_json",
    "AMBIG: valid RFC 8259; README has no depth limit. Must not crash.")
add("events", "huge_int_unknown_5000_digits", E(extra=[("big", "9" * 5000)]), None,
    "AMBIG: valid JSON; unknown fields are kept as text. Must not crash (Python int-str limit 4300).")
add("events", "unknown_1e400", E(extra=[("x", "1e400")]), None,
    "AMBIG: unknown field, no type; could be invalid_value (non-finite number)")
add("events", "unknown_weird_numbers", E(extra=[("a", "-0"), ("b", "1E2"), ("c", "-0.0e-0"), ("d", "1e-400")]), None)

# ---------------------------------------------------------------- schema_version
add("events", "sv_missing", E(drop=("schema_version",)), "missing_required_field")
add("events", "sv_null", E(set={"schema_version": "null"}), "missing_required_field")
add("events", "sv_2", E(set={"schema_version": "2"}), "unsupported_schema_version")
add("events", "sv_0", E(set={"schema_version": "0"}), "unsupported_schema_version")
add("events", "sv_neg1", E(set={"schema_version": "-1"}), "unsupported_schema_version")
add("events", "sv_neg0", E(set={"schema_version": "-0"}), "unsupported_schema_version", "-0 is the integer 0")
add("events", "sv_1E2", E(set={"schema_version": "1E2"}), "unsupported_schema_version", "integer 100")
add("events", "sv_1_0_ok", E(set={"schema_version": "1.0"}), None, "README: integer includes 1.0")
add("events", "sv_1_00_ok", E(set={"schema_version": "1.00"}), None)
add("events", "sv_1e0_ok", E(set={"schema_version": "1e0"}), None, "AMBIG: value 1, no fractional part")
add("events", "sv_10e_minus1_ok", E(set={"schema_version": "10E-1"}), None, "AMBIG: value 1.0")
add("events", "sv_2_0", E(set={"schema_version": "2.0"}), "unsupported_schema_version")
add("events", "sv_1_5", E(set={"schema_version": "1.5"}), "wrong_type", "not an integer")
add("events", "sv_1_plus_tiny", E(set={"schema_version": "1.0000000000000000001"}), "wrong_type",
    "AMBIG: literal has a fractional part, but parses to the double 1.0")
add("events", "sv_huge_int", E(set={"schema_version": "1" + "0" * 30}), "unsupported_schema_version")
add("events", "sv_huge_int_5000_digits", E(set={"schema_version": "1" * 5000}), "unsupported_schema_version",
    "must not crash")
add("events", "sv_1e400", E(set={"schema_version": "1e400"}), "unsupported_schema_version",
    "AMBIG: non-finite after parsing; not 'an integer'; could be invalid_value")
add("events", "sv_string_1", E(set={"schema_version": '"1"'}), "wrong_type")
add("events", "sv_string_2", E(set={"schema_version": '"2"'}), "wrong_type", "not an integer, so not unsupported")
add("events", "sv_true", E(set={"schema_version": "true"}), "wrong_type", "boolean is not integer")
add("events", "sv_array", E(set={"schema_version": "[1]"}), "wrong_type")
add("events", "sv_object", E(set={"schema_version": '{"v":1}'}), "wrong_type")
add("events", "sv_2_beats_wrong_type", E(set={"schema_version": "2", "event_id": "5"}), "unsupported_schema_version")
add("events", "sv_2_beats_missing", E(set={"schema_version": "2"}, drop=("user_id", "event_id")),
    "unsupported_schema_version")
add("events", "sv_2_only", b'{"schema_version":2}', "unsupported_schema_version")
add("events", "sv_case_variant_only", E(drop=("schema_version",), extra=[("Schema_Version", "1")]),
    "missing_required_field")
add("pins", "sv_pins_2", P(set={"schema_version": "2"}), "unsupported_schema_version")
add("boards", "sv_boards_string", B(set={"schema_version": '"1"'}), "wrong_type")
add("boards", "sv_boards_missing", B(drop=("schema_version",)), "missing_required_field")

# ---------------------------------------------------------------- wrong_type by field
for f, v in [("event_id", "5"), ("event_id", "true"), ("event_id", "[]"), ("event_id", "{}"),
             ("user_id", "123"), ("event_type", "5"), ("event_time", "1773100800"),
             ("event_time", "false"), ("pin_id", "1.0"), ("session_id", "7"), ("board_id", "[\"b1\"]"),
             ("is_outbound", '"true"'), ("is_outbound", "1"), ("is_merchant", "0"),
             ("client_ip", "167772161"), ("user_agent", "{}")]:
    add("events", "wt_%s_%s" % (f, v.strip('"[]{}') or "compound"), E(set={f: v}), "wrong_type")
for f, v in [("pin_id", "1"), ("creator_id", "true"), ("created_at", "0"), ("updated_at", "[]"),
             ("title", "1"), ("description", "false"), ("link", "{}"), ("domain", "[]"),
             ("merchant", "0"), ("price", '"9.99"'), ("price", "true"), ("price", "[1]"),
             ("interests", '{"interest":"a","score":0.5}'), ("interests", '"art"'),
             ("interests", "5")]:
    add("pins", "wt_%s_%s" % (f, v.strip('"[]{}')[:10]), P(set={f: v}), "wrong_type")
for f, v in [("board_id", "1"), ("owner_id", "null_"), ("created_at", "1.5"), ("name", "1"),
             ("description", "[]"), ("category", "true"), ("is_secret", '"false"'), ("is_secret", "0"),
             ("is_secret", "1")]:
    if v == "null_":
        v = "{}"
    add("boards", "wt_%s_%s" % (f, v.strip('"[]{}') or "compound"), B(set={f: v}), "wrong_type")
add("events", "wt_beats_missing", E(set={"event_id": "5"}, drop=("user_id",)), "wrong_type")
add("events", "wt_beats_missing_sv", E(set={"event_id": "5"}, drop=("schema_version",)), "wrong_type",
    "wrong_type is checked before missing_required_field")
add("events", "wt_pin_id_on_follow", E(set={"event_type": '"follow"', "board_id": '"b1"', "pin_id": "1"}), "wrong_type",
    "optional pin_id on follow still typed")

# ---------------------------------------------------------------- missing_required_field
for f in ["event_id", "event_type", "event_time", "user_id"]:
    add("events", "miss_" + f, E(drop=(f,)), "missing_required_field")
    add("events", "null_" + f, E(set={f: "null"}), "missing_required_field")
for t in ["impression", "closeup", "click", "save", "hide"]:
    extra = {"board_id": '"b1"'} if t == "save" else {}
    add("events", "miss_pin_for_" + t, E(set=dict(extra, event_type='"%s"' % t), drop=("pin_id",)),
        "missing_required_field")
add("events", "null_pin_for_hide", E(set={"event_type": '"hide"', "pin_id": "null"}), "missing_required_field")
add("events", "miss_board_for_save", E(set={"event_type": '"save"'}), "missing_required_field")
add("events", "null_board_for_follow", E(set={"event_type": '"follow"', "board_id": "null"}, drop=("pin_id",)),
    "missing_required_field")
add("events", "miss_board_for_follow", E(set={"event_type": '"follow"'}), "missing_required_field")
add("events", "click_no_board_ok", E(), None)
add("events", "event_id_case_variant_only", E(drop=("event_id",), extra=[("Event_ID", '"e1"')]),
    "missing_required_field", "names are case-sensitive")
add("events", "event_id_trailing_space_name", E(drop=("event_id",), extra=[("event_id ", '"e1"')]),
    "missing_required_field")
add("events", "missing_beats_oversize", E(set={"event_id": q("a" * 129)}, drop=("user_id",)),
    "missing_required_field")
add("events", "missing_beats_unknown_type", E(set={"event_type": '"bogus"'}, drop=("user_id",)),
    "missing_required_field")
add("events", "unknown_type_no_pin", E(set={"event_type": '"bogus"'}, drop=("pin_id",)), "unknown_event_type",
    "pin_id only required for the five pin types")
for f in ["pin_id", "creator_id", "created_at", "updated_at"]:
    add("pins", "miss_" + f, P(drop=(f,)), "missing_required_field")
add("pins", "null_created_at", P(set={"created_at": "null"}), "missing_required_field")
for f in ["board_id", "owner_id", "created_at", "updated_at"]:
    add("boards", "miss_" + f, B(drop=(f,)), "missing_required_field")
add("boards", "null_owner_id", B(set={"owner_id": "null"}), "missing_required_field")

# ---------------------------------------------------------------- ids: oversize_field / invalid_id
ID128 = "A-z0_9.:" * 16
assert len(ID128) == 128
add("events", "id_128_ok", E(set={"event_id": q(ID128)}), None)
add("events", "id_129", E(set={"event_id": q(ID128 + "x")}), "oversize_field")
add("events", "id_129_with_bad_chars", E(set={"user_id": q("a b" * 43)}), "oversize_field",
    "oversize_field before invalid_id")
add("pins", "creator_id_128_ok", P(set={"creator_id": q("c" * 128)}), None)
add("pins", "creator_id_129", P(set={"creator_id": q("c" * 129)}), "oversize_field")
add("boards", "owner_id_129", B(set={"owner_id": q("o" * 129)}), "oversize_field")
add("events", "session_id_129", E(set={"session_id": q("s" * 129)}), "oversize_field")
add("events", "id_128_multibyte_invalid", E(set={"user_id": q("\u00e9" * 128)}), "invalid_id",
    "128 characters, 256 bytes: length fine, characters not allowed")
add("events", "id_129_multibyte", E(set={"user_id": q("\u00e9" * 129)}), "oversize_field")
add("events", "id_empty", E(set={"event_id": '""'}), "invalid_id")
add("events", "id_space", E(set={"user_id": '"u 1"'}), "invalid_id")
add("events", "id_trailing_space", E(set={"user_id": '"u1 "'}), "invalid_id")
add("events", "id_trailing_newline_escape", E(set={"user_id": r'"u1\n"'}), "invalid_id",
    "regex $ would match before a final newline")
add("events", "id_slash", E(set={"pin_id": '"p/1"'}), "invalid_id")
add("events", "id_plus", E(set={"pin_id": '"p+1"'}), "invalid_id")
add("events", "id_hash", E(set={"pin_id": '"p#1"'}), "invalid_id")
add("events", "id_percent40", E(set={"user_id": '"user%40example.com"'}), "invalid_id")
add("events", "id_email", E(set={"user_id": '"alice@example.com"'}), "invalid_id")
add("boards", "owner_id_email", B(set={"owner_id": '"bob@ex.co"'}), "invalid_id")
add("events", "id_e_acute", E(set={"user_id": q("caf\u00e9")}), "invalid_id")
add("events", "id_fullwidth_letters", E(set={"user_id": q("\uff41\uff42")}), "invalid_id")
add("events", "id_fullwidth_digits", E(set={"user_id": q("\uff11\uff12")}), "invalid_id")
add("events", "id_arabic_digits", E(set={"user_id": q("\u0663\u0664")}), "invalid_id")
add("events", "id_kelvin_sign", E(set={"user_id": q("\u212a")}), "invalid_id", "matches [a-z] under IGNORECASE")
add("events", "id_dotless_i", E(set={"user_id": q("\u0131d")}), "invalid_id")
add("events", "id_nul_escape", E(set={"user_id": r'"u\u00001"'}), "invalid_id")
add("events", "id_all_punct_ok", E(set={"user_id": '"._:-"'}), None)
add("events", "id_urn_ok", E(set={"user_id": '"urn:user:42"'}), None)
add("events", "id_mailto_prefix_ok", E(set={"user_id": '"mailto:alice"'}), None, "no @, only allowed chars")
add("events", "id_hex_word_ok", E(set={"user_id": '"deadbeef"'}), None)
add("events", "id_two_hex_groups_ok", E(set={"user_id": '"dead:beef"'}), None, "not a valid IPv6 address")
add("events", "id_three_parts_ok", E(set={"user_id": '"1.2.3"'}), None)
add("events", "id_five_parts_ok", E(set={"user_id": '"1.2.3.4.5"'}), "invalid_id")
add("events", "ipv4", E(set={"user_id": '"192.168.0.1"'}), "invalid_id")
add("events", "ipv4_zero", E(set={"event_id": '"0.0.0.0"'}), "invalid_id")
add("events", "ipv4_broadcast", E(set={"pin_id": '"255.255.255.255"'}), "invalid_id")
add("events", "ipv4_session", E(set={"session_id": '"10.1.2.3"'}), "invalid_id")
add("pins", "ipv4_creator", P(set={"creator_id": '"8.8.8.8"'}), "invalid_id")
add("boards", "ipv4_board", B(set={"board_id": '"1.1.1.1"'}), "invalid_id")
add("events", "ipv4_out_of_range", E(set={"user_id": '"999.999.999.999"'}), "invalid_id",
    "AMBIG: 'shaped like' an IPv4 address though not a valid one")
add("events", "ipv4_leading_zeros", E(set={"user_id": '"010.001.002.003"'}), "invalid_id", "AMBIG: shaped like IPv4")
add("events", "ipv4_with_port", E(set={"user_id": '"1.2.3.4:80"'}), "invalid_id",
    "AMBIG: an address with port; 'ids cannot hold them'")
add("events", "ipv4_embedded_prefix", E(set={"user_id": '"host-1.2.3.4"'}), "invalid_id",
    "AMBIG: contains but is not shaped like an IPv4 address ('ids cannot hold them' in Privacy)")
add("events", "ipv6_loopback", E(set={"user_id": '"::1"'}), "invalid_id")
add("events", "ipv6_unspecified", E(set={"user_id": '"::"'}), "invalid_id")
add("events", "ipv6_doc", E(set={"user_id": '"2001:db8::1"'}), "invalid_id")
add("events", "ipv6_full", E(set={"user_id": '"2001:0db8:0000:0000:0000:ff00:0042:8329"'}), "invalid_id")
add("events", "ipv6_upper", E(set={"user_id": '"FE80::ABCD"'}), "invalid_id")
add("events", "ipv6_trailing_dc", E(set={"user_id": '"cafe::"'}), "invalid_id")
add("events", "ipv6_eight_groups", E(set={"user_id": '"1:2:3:4:5:6:7:8"'}), "invalid_id")
add("events", "ipv6_v4_mapped", E(set={"user_id": '"::ffff:192.0.2.1"'}), "invalid_id")
add("events", "ipv6_v4_compat_full", E(set={"user_id": '"0:0:0:0:0:ffff:1.2.3.4"'}), "invalid_id")
add("pins", "ipv6_pin_id", P(set={"pin_id": '"fe80::1"'}), "invalid_id")
add("events", "ipv6_zone", E(set={"user_id": '"fe80::1%eth0"'}), "invalid_id", "% not allowed anyway")
add("events", "ipv6_like_nonhex_ok", E(set={"user_id": '"pin::1"'}), "invalid_id", "p,i,n are not hex")
add("events", "ipv6_nine_groups", E(set={"user_id": '"1:2:3:4:5:6:7:8:9"'}), None,
    "AMBIG: not a valid IPv6 address; 'shaped like' unclear")
add("events", "ipv6_triple_colon", E(set={"user_id": '":::"'}), None, "AMBIG: not a valid address")

# ---------------------------------------------------------------- text oversize_field
add("pins", "title_4096_ok", P(set={"title": q("t" * 4096)}), None)
add("pins", "title_4097", P(set={"title": q("t" * 4097)}), "oversize_field")
add("pins", "description_4096_multibyte_ok", P(set={"description": q("\u00e9" * 4096)}), None, "characters, not bytes")
add("pins", "description_4096_astral_ok", P(set={"description": q("\U0001F600" * 4096)}), None,
    "code points, not UTF-16 units")
add("pins", "description_4097_astral", P(set={"description": q("\U0001F600" * 4097)}), "oversize_field")
add("pins", "title_4096_escaped_ok", P(set={"title": '"' + "\\u00e9" * 4096 + '"'}), None, "counted after unescaping")
add("pins", "title_4096_surrogate_pairs_ok", P(set={"title": '"' + "\\ud83d\\ude00" * 4096 + '"'}), None)
add("pins", "link_4097", P(set={"link": q("h" * 4097)}), "oversize_field")
add("pins", "domain_4097", P(set={"domain": q("d" * 4097)}), "oversize_field")
add("pins", "merchant_4097", P(set={"merchant": q("m" * 4097)}), "oversize_field")
add("boards", "name_4096_ok", B(set={"name": q("n" * 4096)}), None)
add("boards", "name_4097", B(set={"name": q("n" * 4097)}), "oversize_field")
add("boards", "description_4097", B(set={"description": q("d" * 4097)}), "oversize_field")
add("boards", "category_4097", B(set={"category": q("c" * 4097)}), "oversize_field")
add("events", "user_agent_4096_ok", E(set={"user_agent": q("a" * 4096)}), None)
add("events", "user_agent_4097", E(set={"user_agent": q("a" * 4097)}), "oversize_field")
add("events", "client_ip_4097", E(set={"client_ip": q("1" * 4097)}), "oversize_field")
add("events", "event_type_4097", E(set={"event_type": q("c" * 4097)}), "oversize_field",
    "event_type is text; oversize_field is before unknown_event_type")
add("events", "unknown_field_long_text", E(extra=[("note", q("x" * 5000))]), None,
    "AMBIG: 'text (every other string)' vs 'fields the contract does not name are kept'")
add("pins", "oversize_beats_invalid_id", P(set={"title": q("t" * 4097), "pin_id": '"a b"'}), "oversize_field")
add("pins", "decomposed_4098_codepoints", P(set={"title": q("e\u0301" * 2049)}), "oversize_field",
    "AMBIG: 2049 graphemes but 4098 code points")

# ---------------------------------------------------------------- timestamps
T_OK = [
    ("ts_z", "2026-03-10T12:00:00Z"),
    ("ts_plus0000", "2026-03-10T12:00:00+00:00"),
    ("ts_frac1", "2026-03-10T12:00:00.1Z"),
    ("ts_frac2", "2026-03-10T12:00:00.12Z"),
    ("ts_frac3", "2026-03-10T12:00:00.123Z"),
    ("ts_frac4", "2026-03-10T12:00:00.1234Z"),
    ("ts_frac5", "2026-03-10T12:00:00.12345Z"),
    ("ts_frac6", "2026-03-10T12:00:00.123456Z"),
    ("ts_frac6_plus0000", "2026-03-10T12:00:00.999999+00:00"),
    ("ts_frac_zeros", "2026-03-10T12:00:00.000000Z"),
    ("ts_midnight", "2026-03-10T00:00:00Z"),
    ("ts_end_of_day", "2026-03-10T23:59:59Z"),
    ("ts_leap_day_2024", "2024-02-29T12:00:00Z"),
    ("ts_leap_day_2000", "2000-02-29T00:00:00Z"),
    ("ts_earliest_exact", "1995-01-01T00:00:00Z"),
    ("ts_earliest_exact_frac", "1995-01-01T00:00:00.000000+00:00"),
    ("ts_earliest_plus_1us", "1995-01-01T00:00:00.000001Z"),
    ("ts_late_event", "2020-06-15T08:30:00Z"),
    ("ts_next_day_start", "2026-03-11T00:00:00Z"),
    ("ts_next_day_last_us", "2026-03-11T23:59:59.999999Z"),
    ("ts_next_day_last_plus0000", "2026-03-11T23:59:59+00:00"),
    ("ts_dec31", "2025-12-31T23:59:59Z"),
]
for name, t in T_OK:
    add("events", name, E(set={"event_time": q(t)}), None)
T_BAD = [
    ("ts_frac0_dotZ", "2026-03-10T12:00:00.Z", ""),
    ("ts_frac0_dot_plus", "2026-03-10T12:00:00.+00:00", ""),
    ("ts_frac7", "2026-03-10T12:00:00.1234567Z", ""),
    ("ts_frac7_zeros", "2026-03-10T12:00:00.0000000Z", ""),
    ("ts_frac9", "2026-03-10T12:00:00.123456789Z", ""),
    ("ts_frac_comma", "2026-03-10T12:00:00,5Z", ""),
    ("ts_no_zone", "2026-03-10T12:00:00", ""),
    ("ts_no_zone_frac", "2026-03-10T12:00:00.123", ""),
    ("ts_minus0000", "2026-03-10T12:00:00-00:00", "another offset"),
    ("ts_plus0100", "2026-03-10T12:00:00+01:00", ""),
    ("ts_minus0500", "2026-03-10T07:00:00-05:00", ""),
    ("ts_plus0000_nocolon", "2026-03-10T12:00:00+0000", ""),
    ("ts_plus00", "2026-03-10T12:00:00+00", ""),
    ("ts_plus00_00_00", "2026-03-10T12:00:00+00:00:00", ""),
    ("ts_UTC_word", "2026-03-10T12:00:00UTC", ""),
    ("ts_lower_z", "2026-03-10T12:00:00z", ""),
    ("ts_lower_t", "2026-03-10t12:00:00Z", ""),
    ("ts_space_sep", "2026-03-10 12:00:00Z", ""),
    ("ts_underscore_sep", "2026-03-10_12:00:00Z", ""),
    ("ts_date_only", "2026-03-10", ""),
    ("ts_year_only", "2026", ""),
    ("ts_year_month", "2026-03", ""),
    ("ts_no_seconds", "2026-03-10T12:00Z", ""),
    ("ts_single_digit_month", "2026-3-10T12:00:00Z", ""),
    ("ts_single_digit_all", "2026-1-1T1:2:3Z", ""),
    ("ts_basic_format", "20260310T120000Z", ""),
    ("ts_week_date", "2026-W11-2T12:00:00Z", ""),
    ("ts_ordinal_date", "2026-069T12:00:00Z", ""),
    ("ts_leading_space", " 2026-03-10T12:00:00Z", ""),
    ("ts_trailing_space", "2026-03-10T12:00:00Z ", ""),
    ("ts_trailing_newline", "2026-03-10T12:00:00Z\n", "regex $ pitfall"),
    ("ts_fullwidth_digit", "\uff12026-03-10T12:00:00Z", "Unicode \\d pitfall"),
    ("ts_arabic_digit", "2026-03-1\u0660T12:00:00Z", "Unicode \\d pitfall"),
    ("ts_feb29_2025", "2025-02-29T00:00:00Z", "not a leap year"),
    ("ts_feb29_2100", "2100-02-29T00:00:00Z", "not a leap year (bad before future)"),
    ("ts_feb30", "2024-02-30T00:00:00Z", ""),
    ("ts_apr31", "2025-04-31T00:00:00Z", ""),
    ("ts_month13", "2025-13-01T00:00:00Z", ""),
    ("ts_month00", "2025-00-10T00:00:00Z", ""),
    ("ts_day00", "2025-03-00T00:00:00Z", ""),
    ("ts_hour24", "2025-03-10T24:00:00Z", ""),
    ("ts_minute60", "2025-03-10T12:60:00Z", ""),
    ("ts_second61", "2025-03-10T12:00:61Z", ""),
    ("ts_leap_second_real", "2016-12-31T23:59:60Z", "AMBIG: RFC 3339 allows a real leap second; README 'real date and time'"),
    ("ts_leap_second_fake", "2025-03-10T12:00:60Z", "not a leap-second instant"),
    ("ts_before_earliest_1us", "1994-12-31T23:59:59.999999Z", ""),
    ("ts_before_earliest_1s_plus", "1994-12-31T23:59:59+00:00", ""),
    ("ts_year_1970", "1970-01-01T00:00:00Z", ""),
    ("ts_year_0000", "0000-01-01T00:00:00Z", ""),
    ("ts_year_5digits", "12026-03-10T12:00:00Z", ""),
    ("ts_negative_year", "-2026-03-10T12:00:00Z", ""),
    ("ts_empty", "", ""),
    ("ts_garbage", "yesterday", ""),
    ("ts_feb29_1900", "1900-02-29T00:00:00Z", "impossible and too early"),
]
for name, t, note in T_BAD:
    add("events", name, E(set={"event_time": q(t)}), "bad_timestamp", note)
add("events", "ts_future_next_next_day", E(set={"event_time": '"2026-03-12T00:00:00Z"'}), "future_timestamp")
add("events", "ts_future_plus0000", E(set={"event_time": '"2026-03-12T00:00:00+00:00"'}), "future_timestamp")
add("events", "ts_future_far", E(set={"event_time": '"9999-12-31T23:59:59.999999Z"'}), "future_timestamp")
add("events", "ts_future_2027", E(set={"event_time": '"2027-01-01T00:00:00Z"'}), "future_timestamp")
add("events", "ts_bad_beats_future_no", E(set={"event_time": '"2026-03-12T00:00:00"'}), "bad_timestamp")
add("pins", "created_at_future", P(set={"created_at": '"2026-03-12T00:00:00Z"'}), "future_timestamp")
add("pins", "updated_at_next_day_ok", P(set={"updated_at": '"2026-03-11T23:59:59.999999Z"'}), None)
add("pins", "updated_at_future", P(set={"updated_at": '"2026-03-12T00:00:00.000000Z"'}), "future_timestamp")
add("pins", "updated_at_before_earliest", P(set={"updated_at": '"1994-12-31T23:59:59Z"'}), "bad_timestamp")
add("pins", "created_at_earliest_ok", P(set={"created_at": '"1995-01-01T00:00:00Z"'}), None)
add("pins", "bad_beats_future", P(set={"created_at": '"2026-03-12T00:00:00Z"', "updated_at": '"2026-03-10"'}),
    "bad_timestamp")
add("boards", "created_at_offset", B(set={"created_at": '"2026-03-01T00:00:00+05:30"'}), "bad_timestamp")
add("boards", "updated_at_future", B(set={"updated_at": '"2026-03-13T00:00:00Z"'}), "future_timestamp")
add("boards", "updated_at_leapday_nonleap", B(set={"updated_at": '"2026-02-29T00:00:00Z"'}), "bad_timestamp")
add("events", "invalid_id_beats_bad_ts", E(set={"user_id": '"a b"', "event_time": '"x"'}), "invalid_id")
add("events", "bad_ts_beats_unknown_type", E(set={"event_type": '"bogus"', "event_time": '"x"'}), "bad_timestamp")
add("events", "future_beats_unknown_type", E(set={"event_type": '"bogus"', "event_time": '"2026-03-12T00:00:00Z"'}),
    "future_timestamp")

# ---------------------------------------------------------------- unknown_event_type
for name, t in [("upper", "CLICK"), ("title", "Click"), ("space", " click"), ("trail_nl", "click\n"),
                ("empty", ""), ("plural", "clicks"), ("repin", "repin"), ("nul", "click\u0000")]:
    add("events", "uet_" + name, E(set={"event_type": json.dumps(t)}), "unknown_event_type")
add("events", "uet_null", E(set={"event_type": "null"}), "missing_required_field")
add("events", "uet_array", E(set={"event_type": '["click"]'}), "wrong_type")

# ---------------------------------------------------------------- pins: price / interests
add("pins", "price_zero_ok", P(set={"price": "0"}), None)
add("pins", "price_neg_zero_ok", P(set={"price": "-0"}), None, "-0 >= 0")
add("pins", "price_neg_zero_float_ok", P(set={"price": "-0.0"}), None)
add("pins", "price_1E2_ok", P(set={"price": "1E2"}), None)
add("pins", "price_tiny_ok", P(set={"price": "1e-400"}), None, "underflows to 0")
add("pins", "price_huge_int_ok", P(set={"price": "1" + "0" * 30}), None)
add("pins", "price_neg_cent", P(set={"price": "-0.01"}), "invalid_value")
add("pins", "price_neg_one", P(set={"price": "-1"}), "invalid_value")
add("pins", "price_1e400", P(set={"price": "1e400"}), "invalid_value",
    "AMBIG: JSON cannot spell non-finite; an overflowing literal is the only 'non-finite number'")
add("pins", "price_neg_1e400", P(set={"price": "-1e400"}), "invalid_value")
add("pins", "price_neg_tiny", P(set={"price": "-1e-400"}), "invalid_value",
    "AMBIG: mathematically negative but parses to -0.0")
add("pins", "price_5000_digit_int", P(set={"price": "9" * 5000}), "invalid_value",
    "AMBIG: exceeds double range -> non-finite; must not crash")
add("pins", "interests_empty_ok", P(set={"interests": "[]"}), None)
add("pins", "interests_64_ok", P(set={"interests": anns(64)}), None)
add("pins", "interests_65", P(set={"interests": anns(65)}), "oversize_field")
add("pins", "interests_65_one_bad_score", P(set={"interests": anns(64)[:-1] + "," + ann(99, "2") + "]"}),
    "oversize_field", "oversize_field before invalid_value")
add("pins", "interests_65_one_wrong_type", P(set={"interests": anns(64)[:-1] + ',"x"]'}), "wrong_type")
add("pins", "interest_name_64_ok", P(set={"interests": '[{"interest":%s,"score":0.5}]' % q("i" * 64)}), None)
add("pins", "interest_name_64_astral_ok",
    P(set={"interests": '[{"interest":%s,"score":0.5}]' % q("\U0001F3A8" * 64)}), None)
add("pins", "interest_name_65", P(set={"interests": '[{"interest":%s,"score":0.5}]' % q("i" * 65)}), "oversize_field")
add("pins", "interest_name_65_blank", P(set={"interests": '[{"interest":%s,"score":0.5}]' % q(" " * 65)}),
    "oversize_field", "oversize before invalid_value")
add("pins", "interest_empty", P(set={"interests": '[{"interest":"","score":0.5}]'}), "invalid_value")
add("pins", "interest_spaces", P(set={"interests": '[{"interest":"   ","score":0.5}]'}), "invalid_value")
add("pins", "interest_tab_nl", P(set={"interests": r'[{"interest":"\t\n\r","score":0.5}]'}), "invalid_value")
add("pins", "interest_nbsp", P(set={"interests": r'[{"interest":"\u00a0","score":0.5}]'}), "invalid_value",
    "AMBIG: is NBSP 'blank'?")
add("pins", "interest_ideographic_space", P(set={"interests": r'[{"interest":"\u3000","score":0.5}]'}),
    "invalid_value", "AMBIG: Unicode whitespace")
add("pins", "interest_repeated", P(set={"interests": '[{"interest":"art","score":0.5},{"interest":"art","score":0.1}]'}),
    "invalid_value")
add("pins", "interest_repeated_case", P(set={"interests": '[{"interest":"art","score":0.5},{"interest":"Art","score":0.1}]'}),
    None, "AMBIG: 'names distinct' - case-sensitive?")
add("pins", "interest_repeated_ws", P(set={"interests": '[{"interest":"art","score":0.5},{"interest":"art ","score":0.1}]'}),
    None, "AMBIG: distinct after trimming?")
add("pins", "interest_repeated_escape", P(set={"interests": r'[{"interest":"art","score":0.5},{"interest":"\u0061rt","score":0.1}]'}),
    "invalid_value", "same after unescaping")
for name, s, exp in [("0", "0", None), ("1", "1", None), ("0_0", "0.0", None), ("1_0", "1.0", None),
                     ("neg0", "-0", None), ("1e0", "1e0", None), ("tiny", "1e-400", None),
                     ("just_above_1", "1.0000001", "invalid_value"), ("just_below_0", "-0.0000001", "invalid_value"),
                     ("2", "2", "invalid_value"), ("neg1", "-1", "invalid_value"), ("1e400", "1e400", "invalid_value"),
                     ("1E2", "1E2", "invalid_value")]:
    add("pins", "score_" + name, P(set={"interests": '[{"interest":"art","score":%s}]' % s}), exp)
add("pins", "score_1_plus_epsilon_literal", P(set={"interests": '[{"interest":"art","score":1.00000000000000000001}]'}),
    "invalid_value", "AMBIG: > 1 as a literal, parses to 1.0")
add("pins", "score_string", P(set={"interests": '[{"interest":"art","score":"0.5"}]'}), "wrong_type")
add("pins", "score_bool", P(set={"interests": '[{"interest":"art","score":true}]'}), "wrong_type")
add("pins", "score_null", P(set={"interests": '[{"interest":"art","score":null}]'}), "missing_required_field")
add("pins", "score_missing", P(set={"interests": '[{"interest":"art"}]'}), "missing_required_field")
add("pins", "interest_missing", P(set={"interests": '[{"score":0.5}]'}), "missing_required_field")
add("pins", "interest_null", P(set={"interests": '[{"interest":null,"score":0.5}]'}), "missing_required_field")
add("pins", "interest_number", P(set={"interests": '[{"interest":5,"score":0.5}]'}), "wrong_type")
add("pins", "annotation_empty_object", P(set={"interests": "[{}]"}), "missing_required_field")
add("pins", "annotation_extra_key", P(set={"interests": '[{"interest":"art","score":0.5,"weight":1}]'}), "wrong_type")
add("pins", "annotation_extra_key_null", P(set={"interests": '[{"interest":"art","score":0.5,"weight":null}]'}), None,
    "AMBIG: null counts as absent vs 'exactly two keys'")
add("pins", "annotation_case_key", P(set={"interests": '[{"Interest":"art","score":0.5}]'}), "wrong_type",
    "unknown key beats missing")
add("pins", "annotation_is_string", P(set={"interests": '["art"]'}), "wrong_type")
add("pins", "annotation_is_array", P(set={"interests": '[["art",0.5]]'}), "wrong_type")
add("pins", "annotation_is_null", P(set={"interests": "[null]"}), "wrong_type",
    "AMBIG: an array element is not a field; null element")
add("pins", "annotation_second_bad", P(set={"interests": '[{"interest":"a","score":0.5},{"interest":"b","score":5}]'}),
    "invalid_value", "detail should say interests[1].score")
add("pins", "missing_beats_invalid_value", P(set={"price": "-1", "interests": '[{"interest":"a"}]'}),
    "missing_required_field")
add("pins", "future_beats_invalid_value", P(set={"price": "-1", "created_at": '"2026-03-12T00:00:00Z"'}),
    "future_timestamp")

# ---------------------------------------------------------------- unknown fields with odd names
add("events", "unk_empty_name", E(extra=[("", '"v"')]), None)
add("events", "unk_corrupt_record", E(extra=[("_corrupt_record", '"{oops"')]), None)
add("events", "unk_corrupt_record_null", E(extra=[("_corrupt_record", "null")]), None)
add("events", "unk_case_variants", E(extra=[("Event_Type", '"bogus"'), ("SCHEMA_VERSION", "99"),
                                            ("Event_Time", '"garbage"')]), None, "case-sensitive names")
add("events", "unk_nested_object", E(extra=[("meta", '{"a":[1,{"b":null}],"c":"d"}')]), None)
add("events", "unk_nul_name", E(extra=[("\\u0000", "1")]), None)
add("events", "unk_unicode_name", E(extra=[(q("\u540d\u524d")[1:-1], "1")]), None)
add("events", "unk_space_name", E(extra=[(" ", "1"), ("  ", "2")]), None)
add("events", "unk_dotted_name", E(extra=[("a.b", "1"), ("pin_id.x", "2")]), None)
add("events", "unk_pins_field_on_events", E(extra=[("interests", '"not an array"'), ("price", '"-1"')]), None,
    "pins fields on events are unknown")
add("pins", "unk_event_fields_on_pins", P(extra=[("event_type", '"bogus"'), ("user_id", "5")]), None)
add("boards", "unk_pins_fields_on_boards", B(extra=[("title", "5"), ("price", "-1")]), None)
add("events", "unk_boolean_false", E(extra=[("flag", "false")]), None)
