"""Every table once: name, zone, partition columns, keys, schema.

No table name or path is spelled anywhere else: io, the GE suites, the Feast sources and the
docs all read it from here.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T

from pipelines.core.settings import Settings


@dataclass(frozen=True)
class Table:
    name: str
    zone: str  # bronze (restricted), silver, gold, ops
    schema: T.StructType
    description: str
    partition_by: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()  # Delta table properties set at creation
    # Which rows a run wrote, for the gate: "ds" (those of the run's day), "changes" (its
    # Change Data Feed between the versions before and after the stage), "timestamped" (rows
    # whose event_timestamp, the day they last changed, is the run's day), or "all".
    written: str = "all"

    def path(self, settings: Settings) -> str:
        return str((settings.lake_root / self.zone / self.name).resolve())

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.schema.fields]


def _schema(*fields: tuple[str, T.DataType] | tuple[str, T.DataType, bool]) -> T.StructType:
    return T.StructType([T.StructField(f[0], f[1], f[2] if len(f) > 2 else True) for f in fields])


S, L, D, TS, B, DB, I = (
    T.StringType(), T.LongType(), T.DateType(), T.TimestampType(), T.BooleanType(), T.DoubleType(), T.IntegerType()
)

VECTOR = T.ArrayType(T.FloatType())  # an embedding (suites check every value is finite)

INTEREST_SCORES = T.ArrayType(T.StructType([T.StructField("interest", S), T.StructField("score", DB)]))

EXTRA_FIELDS = T.MapType(S, S)

_INGEST_META = (
    ("extra_fields", EXTRA_FIELDS),
    ("ds", D, False),
    ("source_file", S, False),
    ("line_number", L, False),
    ("ingested_at", TS, False),
)

# --- bronze (restricted zone: parsed lines, PII still present) ---------------------------
BRONZE_EVENTS = Table(
    "bronze_events", "bronze",
    _schema(
        ("event_id", S, False), ("event_type", S, False), ("event_time", TS, False), ("user_id", S, False),
        ("pin_id", S), ("board_id", S), ("session_id", S), ("is_outbound", B), ("is_merchant", B),
        ("client_ip", S), ("user_agent", S), ("schema_version", I), *_INGEST_META,
    ),
    "Every parsed event line with its source file, line number and ingest time.",
    partition_by=("ds",),
    written="ds",
)
BRONZE_PINS = Table(
    "bronze_pins", "bronze",
    _schema(
        ("pin_id", S, False), ("creator_id", S), ("created_at", TS), ("updated_at", TS), ("title", S),
        ("description", S), ("link", S), ("domain", S), ("interests", INTEREST_SCORES), ("merchant", S),
        ("price", DB), ("schema_version", I), *_INGEST_META,
    ),
    "Every parsed pin line.",
    partition_by=("ds",),
    written="ds",
)
BRONZE_BOARDS = Table(
    "bronze_boards", "bronze",
    _schema(
        ("board_id", S, False), ("owner_id", S), ("created_at", TS), ("updated_at", TS), ("name", S),
        ("description", S), ("category", S), ("is_secret", B), ("schema_version", I), *_INGEST_META,
    ),
    "Every parsed board line.",
    partition_by=("ds",),
    written="ds",
)
QUARANTINE = Table(
    "quarantine", "bronze",
    _schema(
        ("stream", S, False), ("ds", D, False), ("source_file", S, False), ("line_number", L, False),
        ("reason", S, False), ("detail", S), ("record_key", S), ("raw_line", S), ("ingested_at", TS, False),
    ),
    "Raw lines that could not be accepted: reason code, detail (the field and rule), the line's key when "
    "readable, truncated raw text. A damaged file adds one row at the line where the damage starts.",
    partition_by=("stream", "ds"),
    written="ds",
)

# --- silver (typed, deduplicated, no PII) -------------------------------------------------
SILVER_EVENTS = Table(
    "events", "silver",
    _schema(
        ("event_id", S, False), ("event_type", S, False), ("event_time", TS, False), ("event_date", D, False),
        ("user_id", S, False), ("pin_id", S), ("board_id", S), ("session_id", S), ("is_outbound", B),
        ("is_merchant", B), ("ds", D, False),
    ),
    "Engagement events, one row per event_id, partitioned by event date.",
    partition_by=("event_date",),
    keys=("event_id",),
    written="ds",
)
SILVER_PINS = Table(
    "pins", "silver",
    _schema(
        ("pin_id", S, False), ("creator_id", S), ("created_at", TS), ("updated_at", TS), ("title", S),
        ("description", S), ("link", S), ("domain", S), ("interests", INTEREST_SCORES), ("merchant", S),
        ("price", DB), ("first_seen", TS), ("last_seen", TS),
    ),
    "Pin dimension: latest state per pin.",
    keys=("pin_id",),
)
SILVER_BOARDS = Table(
    "boards", "silver",
    _schema(
        ("board_id", S, False), ("owner_id", S), ("created_at", TS), ("updated_at", TS), ("name", S),
        ("description", S), ("category", S), ("first_seen", TS), ("last_seen", TS),
    ),
    "Board dimension: latest state per public board (secret boards excluded).",
    keys=("board_id",),
)

# --- gold ---------------------------------------------------------------------------------
_EDGE_KEY = (("src_type", S, False), ("src_id", S, False), ("dst_type", S, False), ("dst_id", S, False),
             ("edge_type", S, False))

GRAPH_EDGE_DAYS = Table(
    "graph_edge_days", "gold",
    _schema(("event_date", D, False), *_EDGE_KEY, ("event_count", L, False), ("first_seen", TS, False),
            ("last_seen", TS, False)),
    "Event-derived edges per event date (the daily contributions the edge state is folded from).",
    partition_by=("event_date",),
    keys=("event_date", "src_id", "dst_id", "edge_type"),
    properties=(("delta.enableChangeDataFeed", "true"),),
    written="changes",
)
GRAPH_EDGES = Table(
    "graph_edges", "gold",
    _schema(*_EDGE_KEY, ("event_count", L, False), ("weight", DB, False), ("weight_date", D, False),
            ("first_seen", TS), ("last_seen", TS)),
    "Taste-graph edges: one row per (src, dst, edge type); weight decayed to weight_date "
    "(weight at t = weight * 0.5 ** ((t - weight_date) / half_life)).",
    partition_by=("edge_type",),
    keys=("src_id", "dst_id", "edge_type"),
    # Its Change Data Feed is what graph_nodes is folded from. No deletion vectors: readers
    # without them (delta-rs, so DuckDB and Polars) must be able to read the graph.
    properties=(("delta.enableChangeDataFeed", "true"),),
    written="changes",
)
GRAPH_NODES = Table(
    "graph_nodes", "gold",
    _schema(("node_type", S, False), ("node_id", S, False), ("degree", L, False), ("first_seen", TS),
            ("last_seen", TS)),
    "Users, pins, boards and interests with their degree and first/last seen.",
    partition_by=("node_type",),
    keys=("node_type", "node_id"),
)
PIN_PIN_EDGES = Table(
    "pin_pin_edges", "gold",
    _schema(("pin_id", S, False), ("other_pin_id", S, False), ("rank", I, False), ("score", DB, False),
            ("cosave", DB, False), ("coengaged", DB, False)),
    "Each pin's top-K neighbours by cosine-normalised co-save (pruned boards) and session co-engagement.",
    keys=("pin_id", "other_pin_id"),
)
RELATED_PINS = Table(
    "related_pins", "gold",
    _schema(("pin_id", S, False), ("candidate_pin_id", S, False), ("rank", I, False), ("score", DB, False),
            ("visits", L, False), ("walks_hit", L, False)),
    "Each pin's top-N candidates from seeded random walks with restart on the pruned pin-board graph.",
    keys=("pin_id", "candidate_pin_id"),
)
USER_CANDIDATES = Table(
    "user_candidates", "gold",
    _schema(("user_id", S, False), ("candidate_pin_id", S, False), ("rank", I, False), ("score", DB, False),
            ("query_pins_hit", L, False)),
    "Each user's top-N pins from walks seeded by their engaged pins (weighted by type and recency), "
    "boosted when several query pins reach them.",
    keys=("user_id", "candidate_pin_id"),
)
PIN_STATS = Table(
    "pin_stats", "gold",
    _schema(
        ("pin_id", S, False), ("ds", D, False), ("event_timestamp", TS, False), ("impressions_7d", L, False),
        ("closeups_7d", L, False), ("clicks_7d", L, False), ("saves_7d", L, False), ("ctr_7d", DB, False),
    ),
    "Daily pin feature snapshot over the trailing window ending on ds.",
    partition_by=("ds",),
    written="ds",
    keys=("pin_id", "ds"),
)
USER_STATS = Table(
    "user_stats", "gold",
    _schema(
        ("user_id", S, False), ("ds", D, False), ("event_timestamp", TS, False), ("impressions_7d", L, False),
        ("clicks_7d", L, False), ("saves_7d", L, False), ("distinct_pins_7d", L, False), ("ctr_7d", DB, False),
    ),
    "Daily user feature snapshot over the trailing window ending on ds.",
    partition_by=("ds",),
    written="ds",
    keys=("user_id", "ds"),
)

_CHANGE_FEED = (("delta.enableChangeDataFeed", "true"),)

# --- embeddings (gold; each row names the model version that produced it) ------------------
PIN_GRAPH_STATS = Table(
    "pin_graph_stats", "gold",
    _schema(
        ("pin_id", S, False), ("ds", D, False), ("event_timestamp", TS, False), ("viewers", L, False),
        ("engaged_users", L, False), ("savers", L, False), ("hiders", L, False), ("boards", L, False),
        ("co_engaged_pins", L, False),
    ),
    "The taste graph around each pin at the end of ds, on the days it changed (a row holds until the pin's "
    "next): distinct users who saw, engaged with (beyond a look, hides apart), saved and hid it; boards it "
    "was saved to; pins co-engaged with it.",
    partition_by=("ds",),
    written="ds",
    keys=("pin_id", "ds"),
)
PIN_GRAPH_EMBEDDINGS = Table(
    "pin_graph_embeddings_v1", "gold",
    _schema(("pin_id", S, False), ("embedding", VECTOR, False), ("occurrences", L, False),
            ("model_version", S, False), ("trained_on", D, False)),
    "Skip-gram (MLlib Word2Vec) embeddings of pins from seeded random walks on the pruned pin-board graph; "
    "occurrences: how often the pin appears in the walks.",
    keys=("pin_id",),
    properties=_CHANGE_FEED,
    written="changes",  # the gate checks what a retrain or the day's inference wrote
)


def _collab_factors(entity: str) -> Table:
    """The ALS factors of users or pins: one table each, the same shape."""
    return Table(
        f"{entity}_collab_embeddings_v1", "gold",
        _schema((f"{entity}_id", S, False), ("embedding", VECTOR, False), ("model_version", S, False),
                ("trained_on", D, False)),
        f"{entity.capitalize()} factors of implicit ALS (MLlib) on decayed user -> pin engagement (hides not positive).",
        keys=(f"{entity}_id",),
        properties=_CHANGE_FEED,
        written="changes",  # the gate checks what a retrain wrote
    )


USER_COLLAB_EMBEDDINGS = _collab_factors("user")
PIN_COLLAB_EMBEDDINGS = _collab_factors("pin")
PIN_CONTENT_EMBEDDINGS = Table(
    "pin_content_embeddings_v1", "gold",
    _schema(("pin_id", S, False), ("content_hash", S, False), ("content_embedding", VECTOR),
            ("aligned_embedding", VECTOR), ("encoder_version", S, False), ("aligner_version", S, False),
            ("note", S), ("encoded_on", D, False)),
    "Content embeddings of pins by Beam RunInference (the platform's own text encoder), and the same mapped "
    "into the graph-embedding space (aligned, for cold start); note says why a pin has no vector.",
    keys=("pin_id",),
    properties=_CHANGE_FEED,
    written="changes",  # the gate checks what a retrain or the day's inference wrote
)
PIN_EMBEDDINGS = Table(
    "pin_embeddings_v1", "gold",
    _schema(("pin_id", S, False), ("embedding", VECTOR, False), ("source", S, False), ("model_version", S, False),
            ("event_timestamp", TS, False)),
    "One vector per pin: its graph embedding when it has one, else its graph-aligned content embedding "
    "(source says which), with its raw content vector beside it when fused_content_weight is above 0. "
    "event_timestamp: the day the vector last changed (Feast materializes those).",
    keys=("pin_id",),
    written="timestamped",
)
USER_INTEREST_EMBEDDINGS = Table(
    "user_interest_embeddings_v1", "gold",
    _schema(("user_id", S, False), ("cluster", I, False), ("medoid_pin_id", S, False), ("embedding", VECTOR, False),
            ("importance", DB, False), ("pins", I, False), ("model_version", S, False),
            ("event_timestamp", TS, False)),
    "PinnerSage: each user's interest clusters of recently engaged pins (Ward on pin embeddings, weighted "
    "by decayed engagement, hides excluded), ranked by importance, with the medoid pin's embedding. "
    "event_timestamp: the day the user's clusters last changed.",
    keys=("user_id", "cluster"),
    written="timestamped",
)

# --- training sets (gold) -----------------------------------------------------------------
_EXAMPLE = (("example_id", S, False), ("user_id", S, False), ("pin_id", S, False), ("event_timestamp", TS, False),
            ("event_date", D, False), ("label", I, False), ("label_type", S, False), ("is_product", B, False),
            ("split", S, False))
TRAINING_EXAMPLES = Table(
    "training_examples_v1", "gold",
    _schema(*_EXAMPLE[:3], ("session_id", S), *_EXAMPLE[3:], ("ds", D, False)),
    "Labelled examples: positives (saves, clicks; merchant clicks flagged is_product), impressions without "
    "engagement in the session, and negatives sampled by popularity; with the event's time and the split. "
    "ds: the run that last rewrote the example's event date.",
    partition_by=("event_date",),
    keys=("example_id",),
    written="ds",
)
TRAINING_SETS = Table(
    "training_sets_v1", "gold",
    _schema(("training_set_id", S, False), *_EXAMPLE),
    "Training sets: the examples of a date range with the features of a Feast feature service joined as of "
    "each example (columns <view>__<feature>, added per feature service). One partition per training set.",
    partition_by=("training_set_id",),
    keys=("training_set_id", "example_id"),
)
GOLD_SET = Table(
    "gold_set_v1", "gold",
    _schema(("gold_version", S, False), ("training_set_id", S, False), *_EXAMPLE),
    "Frozen gold sets: the test split of a training set under a version name, written once and never "
    "overwritten (a new gold set is a new version).",
    partition_by=("gold_version",),
    keys=("gold_version", "example_id"),
)

EVAL_RESULTS = Table(
    "eval_results_v1", "gold",
    _schema(("ds", D, False), ("run_id", S, False), ("evaluated_at", TS, False), ("protocol", S, False),
            ("split", S, False), ("split_id", S, False), ("slice", S, False), ("method", S, False),
            ("family", S, False), ("metric", S, False), ("k", I, False), ("value", DB), ("ci_low", DB),
            ("ci_high", DB), ("users", L, False), ("params", S), ("train_seconds", DB), ("note", S),
            ("lineage", S, False)),
    "Offline evaluation (tastegraph evaluate): one row per protocol, split, slice, method, metric and cut-off, "
    "with a bootstrap 95% interval over users; `lineage` (JSON) names the split, the input table versions and "
    "the model versions the methods were trained to. value is null when a slice has no test interactions.",
    partition_by=("ds",),
    keys=("ds", "protocol", "split", "slice", "method", "metric", "k"),
    written="ds",
)

# --- ops ----------------------------------------------------------------------------------
PIPELINE_RUNS = Table(
    "pipeline_runs", "ops",
    _schema(
        ("run_id", S, False), ("ds", D, False), ("stage", S, False), ("status", S, False),
        ("rows_in", L), ("rows_out", L), ("input_versions", T.MapType(S, L)),
        ("output_versions", T.MapType(S, L)), ("started_at", TS, False), ("seconds", DB, False),
        ("message", S), ("details", S),
    ),
    "One row per stage run: rows in/out, Delta versions read and written, timing, status, and the "
    "stage's details as JSON (counts by reason, files skipped, step seconds).",
)
TOUCHED_DATES = Table(
    "touched_dates", "ops",
    _schema(("ds", D, False), ("event_date", D, False), ("events", L, False)),
    "Per ingested day: the event dates its events landed in (late events touch earlier dates).",
    partition_by=("ds",),
    written="ds",
    keys=("ds", "event_date"),
)
VALIDATION_RESULTS = Table(
    "validation_results", "ops",
    _schema(
        ("run_id", S, False), ("ds", D, False), ("table_name", S, False), ("suite", S, False),
        ("success", B, False), ("evaluated", I, False), ("failed_expectations", T.ArrayType(S)),
        ("table_version", L), ("validated_at", TS, False),
    ),
    "History of every Great Expectations gate.",
)
EMBEDDING_QUALITY = Table(
    "embedding_quality", "ops",
    _schema(("measured_at", TS, False), ("ds", D, False), ("family", S, False), ("metric", S, False),
            ("value", DB), ("baseline", S), ("baseline_value", DB), ("pins", L), ("details", S)),
    "Offline quality of each embedding family on planted interests (precision@10 of nearest neighbours, "
    "cold start), against its baseline.",
)

TRAINING_SET_MANIFESTS = Table(
    "training_set_manifests", "ops",
    _schema(("training_set_id", S, False), ("created_at", TS, False), ("start_date", D, False), ("end_date", D, False),
            ("config", S, False), ("config_hash", S, False), ("input_versions", T.MapType(S, L)),
            ("feature_service", S, False), ("feature_refs", T.ArrayType(S)), ("registry_version", S),
            ("rows", L, False), ("rows_by_split", T.MapType(S, L)), ("content_hash", S, False), ("path", S, False)),
    "One row per training set built: its configuration and hash, the Delta version of every input, the Feast "
    "feature references and registry version, row counts and content hash (what a rebuild checks).",
    keys=("training_set_id",),
)

ALL_TABLES = (
    BRONZE_EVENTS, BRONZE_PINS, BRONZE_BOARDS, QUARANTINE,
    SILVER_EVENTS, SILVER_PINS, SILVER_BOARDS,
    GRAPH_EDGE_DAYS, GRAPH_EDGES, GRAPH_NODES, PIN_PIN_EDGES, RELATED_PINS, USER_CANDIDATES, PIN_STATS, USER_STATS,
    PIN_GRAPH_STATS, PIN_GRAPH_EMBEDDINGS, USER_COLLAB_EMBEDDINGS, PIN_COLLAB_EMBEDDINGS, PIN_CONTENT_EMBEDDINGS, PIN_EMBEDDINGS,
    USER_INTEREST_EMBEDDINGS, TRAINING_EXAMPLES, TRAINING_SETS, GOLD_SET, EVAL_RESULTS,
    PIPELINE_RUNS, VALIDATION_RESULTS, TOUCHED_DATES, EMBEDDING_QUALITY, TRAINING_SET_MANIFESTS,
)
BRONZE_BY_STREAM = {"events": BRONZE_EVENTS, "pins": BRONZE_PINS, "boards": BRONZE_BOARDS}


def by_name(name: str) -> Table:
    for table in ALL_TABLES:
        if table.name == name:
            return table
    raise KeyError(f"no table named {name!r}; known: {[t.name for t in ALL_TABLES]}")

