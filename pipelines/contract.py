"""The raw log contract (schema version 1): streams, fields, and the interest taxonomy.

Raw logs are gzip-compressed JSON lines under ``<raw>/<stream>/dt=YYYY-MM-DD/*.jsonl.gz``.
The field tables here are the single source for the generator, the bronze parser and the
README's contract section.
"""
from __future__ import annotations

SCHEMA_VERSION = 1

STREAMS = ("events", "pins", "boards")

EVENT_TYPES = ("impression", "closeup", "click", "save", "hide", "follow")

# (field, JSON type, required, description)
EVENT_FIELDS = (
    ("schema_version", "int", True, "contract version of the line"),
    ("event_id", "string", True, "unique id; a redelivered event repeats it"),
    ("event_type", "string", True, "one of " + ", ".join(EVENT_TYPES)),
    ("event_time", "string", True, "ISO-8601 UTC time the client recorded the event"),
    ("user_id", "string", True, "acting user"),
    ("pin_id", "string", False, "pin acted on (all types but follow)"),
    ("board_id", "string", False, "save: board saved to; follow: board followed"),
    ("session_id", "string", False, "client session"),
    ("is_outbound", "boolean", False, "click: the click left the site"),
    ("is_merchant", "boolean", False, "click: the click went to a merchant"),
    ("client_ip", "string", False, "PII: client IP address (restricted zone only)"),
    ("user_agent", "string", False, "PII: client user agent (restricted zone only)"),
)

PIN_FIELDS = (
    ("schema_version", "int", True, "contract version of the line"),
    ("pin_id", "string", True, "pin id"),
    ("creator_id", "string", True, "user who created the pin"),
    ("created_at", "string", True, "ISO-8601 UTC creation time"),
    ("updated_at", "string", True, "ISO-8601 UTC time of this version of the pin"),
    ("title", "string", False, "free text"),
    ("description", "string", False, "free text; may contain e-mail addresses (PII)"),
    ("link", "string", False, "outbound URL"),
    ("domain", "string", False, "domain of link"),
    ("interests", "array<{interest: string, score: double}>", False, "interest annotations"),
    ("merchant", "string", False, "product pins: merchant name"),
    ("price", "double", False, "product pins: price"),
)

BOARD_FIELDS = (
    ("schema_version", "int", True, "contract version of the line"),
    ("board_id", "string", True, "board id"),
    ("owner_id", "string", True, "owning user"),
    ("created_at", "string", True, "ISO-8601 UTC creation time"),
    ("updated_at", "string", True, "ISO-8601 UTC time of this version of the board"),
    ("name", "string", False, "free text"),
    ("description", "string", False, "free text; may contain e-mail addresses (PII)"),
    ("category", "string", False, "interest the board is about"),
    ("is_secret", "boolean", False, "secret boards never leave the restricted zone"),
)

FIELDS = {"events": EVENT_FIELDS, "pins": PIN_FIELDS, "boards": BOARD_FIELDS}
KEY = {"events": "event_id", "pins": "pin_id", "boards": "board_id"}


def required_fields(stream: str) -> tuple[str, ...]:
    return tuple(name for name, _, required, _ in FIELDS[stream] if required)


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
