"""The raw log contract (schema version 1): streams, fields, kinds, limits and reason codes.

This module is the single source for the ingest parser, the generator, the importers and the
README's contract section (a test checks that the README names every field, limit and reason
code declared here). Raw logs are gzip-compressed JSON lines under
``<raw>/<stream>/dt=YYYY-MM-DD/*.jsonl.gz``.
"""
from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 1

STREAMS = ("events", "pins", "boards")

# --- files and lines ----------------------------------------------------------------------
FILE_SUFFIX = ".jsonl.gz"          # only these files are read; anything else is listed as skipped
LINE_MAX_BYTES = 65_536            # a longer line (after removing a final \r) is oversize_line
ID_MAX_CHARS = 128
TEXT_MAX_CHARS = 4096
NAME_MAX_CHARS = 64                # interest names in annotations
INTERESTS_MAX = 64                 # annotations per pin
NESTING_MAX = 64                   # arrays and objects nested deeper are malformed_json
FUTURE_TOLERANCE_DAYS = 1          # a time whose date is more than this after the file's dt is future
# ids: letters, digits and _ . : - (no spaces, no @), and never shaped like an IP address
ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
# timestamps: RFC 3339 in UTC, seconds required, 1-6 fraction digits, Z or +00:00
TIMESTAMP_PATTERN = (r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?"
                     r"(?:Z|\+00:00)$")

# --- event types and the edges they become ------------------------------------------------
IMPRESSION, CLOSEUP, CLICK, SAVE, HIDE, FOLLOW = "impression", "closeup", "click", "save", "hide", "follow"
EVENT_TYPES = (IMPRESSION, CLOSEUP, CLICK, SAVE, HIDE, FOLLOW)
PIN_EVENT_TYPES = (IMPRESSION, CLOSEUP, CLICK, SAVE, HIDE)  # these need a pin_id
BOARD_EVENT_TYPES = (SAVE, FOLLOW)                          # these need a board_id
COENGAGEMENT_EVENT_TYPES = (CLOSEUP, CLICK, SAVE)           # pair pins engaged in one session

# The taste graph's edge types. user -> pin edges are named after the event type, except a
# click that went to a merchant, which is its own type.
MERCHANT_CLICK = "merchant_click"
ENGAGEMENT_EDGE_TYPES = (IMPRESSION, CLOSEUP, CLICK, MERCHANT_CLICK, SAVE, HIDE)  # user -> pin
SEEN_EDGE_TYPES = tuple(t for t in ENGAGEMENT_EDGE_TYPES if t != IMPRESSION)     # engaged beyond a look
SAVED_TO, FOLLOWS, CO_ENGAGED = "saved_to", "follows", "co_engaged"   # pin -> board, user -> board, pin -> pin
EVENT_EDGE_TYPES = (*ENGAGEMENT_EDGE_TYPES, SAVED_TO, FOLLOWS, CO_ENGAGED)      # decayed, from events
OWNS, PIN_INTEREST, BOARD_INTEREST = "owns", "pin_interest", "board_interest"
DIMENSION_EDGE_TYPES = (OWNS, PIN_INTEREST, BOARD_INTEREST)                     # from pins and boards

# --- reason codes, in the order they are checked ------------------------------------------
INVALID_UTF8 = "invalid_utf8"
OVERSIZE_LINE = "oversize_line"
MALFORMED_JSON = "malformed_json"
UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
WRONG_TYPE = "wrong_type"
MISSING_REQUIRED = "missing_required_field"
OVERSIZE_FIELD = "oversize_field"
INVALID_ID = "invalid_id"
BAD_TIMESTAMP = "bad_timestamp"
FUTURE_TIMESTAMP = "future_timestamp"
INVALID_VALUE = "invalid_value"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
TRUNCATED_FILE = "truncated_file"
CORRUPT_FILE = "corrupt_file"

REASONS: dict[str, str] = {
    INVALID_UTF8: "the line is not valid UTF-8",
    OVERSIZE_LINE: f"the line is longer than {LINE_MAX_BYTES:,} bytes",
    MALFORMED_JSON: "the line is not exactly one JSON object (RFC 8259): syntax error, single quotes, "
                    f"NaN/Infinity, comments, duplicate names, a second value after the object, a blank line, "
                    f"nesting deeper than {NESTING_MAX} levels",
    UNSUPPORTED_SCHEMA_VERSION: f"schema_version is an integer other than {SCHEMA_VERSION}",
    WRONG_TYPE: "a field has the wrong JSON type (detail names it), or an annotation has an unknown key",
    MISSING_REQUIRED: "a required field is absent or null (detail names it)",
    OVERSIZE_FIELD: f"an id is longer than {ID_MAX_CHARS} characters, a text longer than {TEXT_MAX_CHARS:,}, "
                    f"an interest name longer than {NAME_MAX_CHARS}, or more than {INTERESTS_MAX} annotations",
    INVALID_ID: "an id is empty, has a character outside letters, digits and _ . : -, or holds an IP address",
    BAD_TIMESTAMP: "a time is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SS[.ffffff]Z or +00:00), not a real date and "
                   "time, or before the earliest accepted date",
    FUTURE_TIMESTAMP: f"a time's date is more than {FUTURE_TOLERANCE_DAYS} day after the file's dt",
    INVALID_VALUE: "a value of the right type breaks a rule: a number that does not fit a double, a negative price, "
                   "a score outside [0, 1], an empty or repeated interest name",
    UNKNOWN_EVENT_TYPE: "event_type is not one of " + ", ".join(EVENT_TYPES),
    TRUNCATED_FILE: "the gzip stream ends before its end marker: the lines before the cut are read, the cut "
                    "line and the rest are this one row (detail gives the byte offset)",
    CORRUPT_FILE: "the file is not gzip, or its data or checksum is damaged: the lines before the damage are "
                  "read, the rest is this one row",
}


@dataclass(frozen=True)
class Field:
    """One field of a stream. Kinds: id, text, time, int, number, bool, enum, interests."""

    name: str
    kind: str
    required: bool
    description: str
    pii: bool = False


EVENT_FIELDS = (
    Field("schema_version", "int", True, f"contract version of the line; must be {SCHEMA_VERSION}"),
    Field("event_id", "id", True, "unique id; a redelivered event repeats it"),
    Field("event_type", "enum", True, "one of " + ", ".join(EVENT_TYPES)),
    Field("event_time", "time", True, "when the client recorded the event"),
    Field("user_id", "id", True, "acting user"),
    Field("pin_id", "id", False, "pin acted on; required for " + ", ".join(PIN_EVENT_TYPES)),
    Field("board_id", "id", False, "board saved to (save) or followed (follow); required for both"),
    Field("session_id", "id", False, "client session"),
    Field("is_outbound", "bool", False, "click: the click left the site"),
    Field("is_merchant", "bool", False, "click: the click went to a merchant"),
    Field("client_ip", "text", False, "client IP address (restricted zone only)", pii=True),
    Field("user_agent", "text", False, "client user agent (restricted zone only)", pii=True),
)

PIN_FIELDS = (
    Field("schema_version", "int", True, f"contract version of the line; must be {SCHEMA_VERSION}"),
    Field("pin_id", "id", True, "pin id"),
    Field("creator_id", "id", True, "user who created the pin"),
    Field("created_at", "time", True, "creation time"),
    Field("updated_at", "time", True, "time of this version of the pin"),
    Field("title", "text", False, "free text"),
    Field("description", "text", False, "free text; e-mail and IP addresses are masked from silver on"),
    Field("link", "text", False, "outbound URL; e-mail and IP addresses are masked from silver on"),
    Field("domain", "text", False, "domain of link"),
    Field("interests", "interests", False,
          "annotations: an array of objects with exactly `interest` (string) and `score` (number in [0, 1]), "
          "both required, interest names distinct"),
    Field("merchant", "text", False, "product pins: merchant name"),
    Field("price", "number", False, "product pins: price, a finite number >= 0"),
)

BOARD_FIELDS = (
    Field("schema_version", "int", True, f"contract version of the line; must be {SCHEMA_VERSION}"),
    Field("board_id", "id", True, "board id"),
    Field("owner_id", "id", True, "owning user"),
    Field("created_at", "time", True, "creation time"),
    Field("updated_at", "time", True, "time of this version of the board"),
    Field("name", "text", False, "free text"),
    Field("description", "text", False, "free text; e-mail and IP addresses are masked from silver on"),
    Field("category", "text", False, "interest the board is about"),
    Field("is_secret", "bool", False, "secret boards and everything saved to them never leave the restricted zone"),
)

FIELDS = {"events": EVENT_FIELDS, "pins": PIN_FIELDS, "boards": BOARD_FIELDS}
KEY = {"events": "event_id", "pins": "pin_id", "boards": "board_id"}
TIME_FIELDS = {"events": ("event_time",), "pins": ("created_at", "updated_at"), "boards": ("created_at", "updated_at")}
ENUMS = {"event_type": EVENT_TYPES}


def required_fields(stream: str) -> tuple[str, ...]:
    return tuple(f.name for f in FIELDS[stream] if f.required)


def field_names(stream: str) -> tuple[str, ...]:
    return tuple(f.name for f in FIELDS[stream])


# A taxonomy of interests, each with a small vocabulary used for titles and descriptions.
INTERESTS: dict[str, tuple[str, ...]] = {
    "home_decor": ("living", "room", "cozy", "rug", "lamp", "shelf", "neutral", "boho"),
    "recipes": ("easy", "dinner", "chicken", "pasta", "sauce", "skillet", "weeknight", "garlic"),
    "fitness": ("workout", "abs", "hiit", "squat", "routine", "cardio", "strength", "glutes"),
    "travel": ("itinerary", "beach", "island", "guide", "hidden", "gems", "roadtrip", "hotel"),
    "fashion": ("outfit", "denim", "street", "style", "fall", "layering", "sneakers", "coat"),
    "diy_crafts": ("handmade", "glue", "paper", "craft", "upcycle", "easy", "kids", "project"),
    "gardening": ("garden", "raised", "bed", "tomato", "compost", "seedlings", "herbs", "soil"),
    "photography": ("portrait", "lens", "lighting", "golden", "hour", "editing", "preset", "camera"),
    "weddings": ("bridal", "bouquet", "venue", "veil", "reception", "rustic", "vows", "cake"),
    "tattoos": ("fineline", "ink", "minimalist", "sleeve", "floral", "tattoo", "script", "small"),
    "hair": ("braid", "curls", "balayage", "bob", "updo", "haircut", "bangs", "waves"),
    "makeup": ("eyeliner", "lipstick", "contour", "glam", "natural", "blush", "brows", "palette"),
    "art": ("painting", "watercolor", "canvas", "sketch", "abstract", "acrylic", "mural", "gallery"),
    "quotes": ("inspirational", "motivation", "words", "life", "wisdom", "positive", "mindset", "quote"),
    "cars": ("classic", "restoration", "engine", "coupe", "detailing", "garage", "vintage", "wheels"),
    "architecture": ("modern", "facade", "concrete", "brutalist", "villa", "interior", "design", "glass"),
    "pets": ("puppy", "kitten", "grooming", "training", "cute", "dog", "cat", "treats"),
    "kids": ("toddler", "activities", "sensory", "playroom", "learning", "crafts", "nursery", "toys"),
    "baking": ("sourdough", "bread", "cookies", "frosting", "pastry", "oven", "flour", "crumb"),
    "vegan": ("plant", "based", "tofu", "vegan", "bowl", "lentil", "chickpea", "smoothie"),
    "hiking": ("trail", "summit", "backpack", "boots", "peak", "wilderness", "trek", "views"),
    "camping": ("tent", "campfire", "gear", "van", "outdoor", "lantern", "sleeping", "bag"),
    "tech": ("desk", "setup", "gadget", "keyboard", "monitor", "productivity", "laptop", "cable"),
    "gaming": ("console", "controller", "rgb", "streamer", "pixel", "retro", "arcade", "quest"),
    "books": ("reading", "novel", "bookshelf", "library", "fantasy", "memoir", "cozy", "nook"),
    "music": ("guitar", "vinyl", "playlist", "studio", "piano", "chords", "concert", "band"),
    "film": ("cinema", "poster", "director", "scene", "noir", "classic", "movie", "reel"),
    "cocktails": ("mixology", "gin", "citrus", "bar", "spritz", "bitters", "shaker", "garnish"),
    "coffee": ("espresso", "latte", "barista", "pourover", "beans", "roast", "mug", "cafe"),
    "yoga": ("pose", "stretch", "flow", "mat", "breath", "meditation", "balance", "vinyasa"),
}
INTEREST_NAMES = tuple(INTERESTS)
