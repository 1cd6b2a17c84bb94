"""One typed settings object, from defaults, an optional TOML file and TASTEGRAPH_* variables.

Precedence (lowest first): the defaults below, the file named by ``TASTEGRAPH_CONFIG`` (or
passed as ``config_file``), ``TASTEGRAPH_<FIELD>`` environment variables, explicit overrides.

Every setting declares its type and its range with its default (`setting(...)`), and every
value, wherever it comes from, is checked against that declaration in one place
(`_checked`). Nothing is coerced: ``walk_length = 2.7`` or ``shuffle_partitions = true`` is
refused, not rounded. A bad value is reported with where it came from (the TOML key and file,
the environment variable, or the argument) and what to use instead.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import re
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from pipelines.core.contract import EVENT_EDGE_TYPES

REPO_ROOT = Path(__file__).resolve().parents[2]

ENV_PREFIX = "TASTEGRAPH_"

# Environment defaults that keep every library quiet and offline (rule: no telemetry).
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "FEAST_USAGE": "False",
    "FEAST_FORCE_USAGE_UUID": "",
    # The temporary local Prefect server needs more than the default 20 s on a busy 2-core box
    # the first time (database migrations).
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}

# Warnings that libraries print on every call and that say nothing to a user of tastegraph.
QUIET_WARNINGS = (
    r"The spark .* is an experimental feature",
    r".*experimental feature in alpha development",
)


def disable_telemetry() -> None:
    """Set the opt-out variables of Prefect, Great Expectations and Feast (keeps user choices)."""
    for key, value in TELEMETRY_OFF.items():
        if value:
            os.environ.setdefault(key, value)
    for message in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message)


class TastegraphError(Exception):
    """A problem a user can fix (bad input, configuration or order of runs). Its message is one
    line that says what to do; the CLI prints it without a traceback."""


class SettingsError(TastegraphError, ValueError):
    """A setting has a value that cannot be used; the message says which and how to fix it."""


# Weight of one event of each event edge type (every one of contract.EVENT_EDGE_TYPES).
DEFAULT_TYPE_WEIGHTS = {
    "impression": 0.1,
    "closeup": 1.0,
    "click": 2.0,
    "merchant_click": 3.0,
    "save": 4.0,
    "hide": -3.0,
    "saved_to": 1.0,     # pin -> board
    "follows": 1.0,      # user -> board
    "co_engaged": 1.0,   # pin -> pin, engaged in the same session
}
assert set(DEFAULT_TYPE_WEIGHTS) == set(EVENT_EDGE_TYPES), "a weight per event edge type"

MEMORY_PATTERN = r"^[0-9]+[kmgtKMGT]?$"


def setting(default: Any, help: str, *, minimum: float | None = None, maximum: float | None = None,
            above: float | None = None, below: float | None = None, pattern: str | None = None) -> Any:
    """A dataclass field with its documentation and range: minimum/maximum are inclusive
    bounds, above/below exclusive ones, pattern a regex a string must match."""
    rules = {"help": help, "minimum": minimum, "maximum": maximum, "above": above, "below": below,
             "pattern": pattern}
    if isinstance(default, dict):
        return dataclasses.field(default_factory=lambda: dict(default), metadata=rules)
    return dataclasses.field(default=default, metadata=rules)


@dataclass(frozen=True)
class Settings:
    lake_root: Path = setting(Path("lake"), "the lake folder")
    raw_root: Path | None = setting(None, "where raw logs are read from; default <lake_root>/raw")
    spark_master: str = setting("local[2]", "Spark master when not under spark-submit")
    spark_driver_memory: str = setting("4g", "driver memory in local mode, e.g. 4g or 512m",
                                       pattern=MEMORY_PATTERN)
    shuffle_partitions: int = setting(4, "spark.sql.shuffle.partitions, also under spark-submit", minimum=1)
    spark_conf: Mapping[str, str] = setting({}, "extra Spark settings in local mode")
    jars_dir: Path = setting(REPO_ROOT / ".jars", "where `make setup` put the Delta jars")
    feature_repo: Path = setting(REPO_ROOT / "features", "the Feast feature repository")
    quarantine_max_share: float = setting(0.01, "ingest fails when a larger share of a day's lines is quarantined",
                                          minimum=0.0, maximum=1.0)
    earliest_event_date: dt.date = setting(dt.date(1995, 1, 1), "times before this date are bad_timestamp")
    redelivery_window_days: int = setting(7, "an event_id seen within this many days of an event's date is a "
                                             "redelivery", minimum=0, maximum=366)
    edge_type_weights: Mapping[str, float] = setting(DEFAULT_TYPE_WEIGHTS, "weight of one event of each edge type")
    # Taste graph
    decay_half_life_days: float = setting(14.0, "half-life of event edge weights, days", above=0.0)
    board_pin_cap: int = setting(50, "pins per board that pair up or that walks can reach (hash sample)", minimum=1)
    board_entropy_max: float = setting(1.5, "boards whose pins' interests are more diverse (bits) are pruned",
                                       minimum=0.0)
    pin_board_keep: int = setting(20, "each pin keeps its strongest board links only", minimum=1)
    pin_board_min_share: float = setting(0.5, "a pin-board link goes when the pin's interest is a smaller share "
                                              "of the board", minimum=0.0, maximum=1.0)
    session_pin_cap: int = setting(20, "engaged pins per session that pair up", minimum=1)
    pin_pin_top_k: int = setting(20, "pin-pin neighbours kept per pin", minimum=1)
    coengaged_weight: float = setting(0.5, "share of session co-engagement in the pin-pin score",
                                      minimum=0.0, maximum=1.0)
    related_top_n: int = setting(20, "related pins kept per pin", minimum=1)
    walks_per_pin: int = setting(20, "random walks per pin", minimum=1)
    walk_length: int = setting(4, "pin -> board -> pin hops per walk", minimum=1)
    walk_restart: float = setting(0.5, "chance to jump back to the query pin after each hop", minimum=0.0, below=1.0)
    walk_seed: int = setting(42, "seed of the walks")
    query_pins_per_user: int = setting(20, "a user's heaviest engaged pins that seed their candidates", minimum=1)
    user_candidates_top_n: int = setting(50, "candidates kept per user", minimum=1)
    # Embeddings
    embedding_dim: int = setting(32, "dimension of the graph embeddings (and of the aligned content ones)",
                                 minimum=1, maximum=1024)
    embedding_window: int = setting(5, "skip-gram context window over a walk, pins each side", minimum=1)
    embedding_walks_per_pin: int = setting(5, "random walks per pin that feed the skip-gram", minimum=1)
    embedding_walk_length: int = setting(10, "pin -> board -> pin hops per skip-gram walk", minimum=1)
    embedding_min_count: int = setting(2, "a pin seen fewer times in the walks gets no graph embedding", minimum=1)
    embedding_seed: int = setting(7, "seed of the embedding walks and of every embedding model")
    embedding_retrain_days: int = setting(7, "models (graph, ALS, content encoder) are retrained when this many "
                                             "days old; between retrains they are reused", minimum=1)
    als_rank: int = setting(32, "rank (dimension) of the ALS factors", minimum=1, maximum=1024)
    als_reg: float = setting(0.05, "ALS regularisation", minimum=0.0)
    als_alpha: float = setting(10.0, "ALS implicit-feedback confidence scale", above=0.0)
    als_iterations: int = setting(10, "ALS iterations", minimum=1, maximum=100)
    content_dim: int = setting(64, "dimension of the content embeddings (TF-IDF + SVD)", minimum=2, maximum=1024)
    content_max_features: int = setting(50_000, "vocabulary size of the content encoder", minimum=10)
    fused_content_weight: float = setting(0.0, "weight of the raw content vector beside the graph (or aligned) "
                                               "one in the fused pin embedding (0: the graph or aligned vector "
                                               "alone, embedding_dim long)", minimum=0.0, maximum=10.0)
    beam_runner: str = setting("DirectRunner", "Apache Beam runner of the content inference pipeline")
    beam_options: Mapping[str, str] = setting({}, "extra Beam pipeline options (name = value)")
    user_interests_max: int = setting(5, "interest clusters kept per user (PinnerSage)", minimum=1, maximum=20)
    user_interests_lookback_days: int = setting(90, "engagement older than this is not clustered", minimum=1)
    user_interests_pins_max: int = setting(100, "a user's heaviest engaged pins that are clustered", minimum=1)
    user_interest_distance: float = setting(1.0, "Ward merge distance beyond which clusters stay apart "
                                                 "(unit vectors)", above=0.0)
    # Training sets
    training_positive_types: str = setting("save,click", "event types labelled positive, comma-separated "
                                                         "(save, click, closeup)",
                                           pattern=r"(save|click|closeup)(,(save|click|closeup))*")
    negatives_per_positive: int = setting(4, "negatives sampled by popularity per positive", minimum=0, maximum=100)
    negative_seed: int = setting(11, "seed of the sampled negatives")
    split_validation_start: dt.date | None = setting(None, "first day of a training set's validation split "
                                                           "(default: the day before its last day)")
    split_test_start: dt.date | None = setting(None, "first day of a training set's test split (default: its "
                                                     "last day)")
    training_feature_service: str = setting("ranking_v1", "the Feast feature service a training set joins")
    # Offline evaluation (tastegraph evaluate)
    eval_seed: int = setting(13, "seed of the evaluation's cold pins, sampled negatives, ties and bootstrap")
    eval_cold_share: float = setting(0.2, "share of the pins with interactions whose interactions are all held out "
                                          "(cold items, protocol B)", minimum=0.0, below=1.0)
    eval_test_share: float = setting(0.2, "share of each user's interactions held out (protocol B)",
                                     above=0.0, below=1.0)
    eval_holdout: str = setting("latest", "which of a user's interactions protocol B holds out: latest (by time) "
                                          "or random (seeded, as most published full-ranking figures)",
                                pattern=r"latest|random")
    eval_negatives: int = setting(99, "sampled negatives ranked with each held-out interaction (protocol A)",
                                  minimum=1, maximum=10_000)
    eval_bootstrap: int = setting(500, "bootstrap resamples of users for the 95% intervals", minimum=10)
    task_retries: int = setting(2, "Prefect retries of a task on transient failures", minimum=0)
    task_retry_delay_seconds: float = setting(5.0, "seconds between Prefect retries", minimum=0.0)

    @property
    def raw_dir(self) -> Path:
        return self.raw_root if self.raw_root is not None else self.lake_root / "raw"

    @property
    def feast_dir(self) -> Path:
        """Feast registry and SQLite online store live under the lake folder."""
        return self.lake_root / "_feast"

    def replace(self, **changes: Any) -> "Settings":
        return _build(self, changes, {})


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _describe_rules(f: dataclasses.Field) -> str:
    m = f.metadata
    parts = []
    if m.get("minimum") is not None:
        parts.append(f">= {m['minimum']}")
    if m.get("above") is not None:
        parts.append(f"> {m['above']}")
    if m.get("maximum") is not None:
        parts.append(f"<= {m['maximum']}")
    if m.get("below") is not None:
        parts.append(f"< {m['below']}")
    return " and ".join(parts)


def _kind(f: dataclasses.Field) -> str:
    return {"Path": "path", "Path | None": "path", "str": "text", "int": "whole number", "float": "number",
            "bool": "true or false", "dt.date": "date (YYYY-MM-DD)", "dt.date | None": "date (YYYY-MM-DD)",
            "Mapping[str, str]": "mapping of text", "Mapping[str, float]": "mapping of numbers"}[str(f.type)]


def _pairs(raw: str) -> dict[str, str]:
    """'a=1, b=2' -> {'a': '1', 'b': '2'}"""
    out = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        if "=" not in item:
            raise ValueError(f"{item.strip()!r} is not key=value")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _number(raw: Any, whole: bool, text: bool) -> int | float:
    """A number from a TOML value (`text` False) or an environment string; never from a bool or
    a fraction, and from a string only when the value came as text."""
    if isinstance(raw, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(raw, str) and not text:
        raise ValueError("text is not a number (write it without quotes)")
    if isinstance(raw, str):
        text = raw.strip()
        if whole and not re.fullmatch(r"[+-]?[0-9]+", text):
            raise ValueError("not a whole number")
        raw = int(text) if whole else float(text)
    if whole and not isinstance(raw, int):
        raise ValueError("not a whole number")
    if not isinstance(raw, (int, float)):
        raise ValueError(f"a {type(raw).__name__} is not a number")
    if not math.isfinite(raw):
        raise ValueError("not a finite number")
    return raw if whole else float(raw)


def _converted(f: dataclasses.Field, raw: Any, text: bool) -> Any:
    """`raw` (from TOML or code, or as `text` from the environment) as the field's type;
    ValueError if it is not one."""
    kind = str(f.type)
    if kind == "Path | None" and raw in (None, ""):
        return None
    if kind in ("Path", "Path | None"):
        if not isinstance(raw, (str, os.PathLike)):
            raise ValueError("expected a path")
        return Path(raw).expanduser()
    if kind == "str":
        if not isinstance(raw, str):
            raise ValueError("expected text")
        return raw
    if kind == "int":
        return _number(raw, whole=True, text=text)
    if kind == "float":
        return _number(raw, whole=False, text=text)
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if text and isinstance(raw, str) and raw.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return raw.strip().lower() in ("true", "1", "yes")
        raise ValueError("expected true or false")
    if kind == "dt.date | None" and raw in (None, ""):
        return None
    if kind in ("dt.date", "dt.date | None"):
        if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
            return raw
        if isinstance(raw, str):
            return dt.date.fromisoformat(raw.strip())
        raise ValueError("expected a date like 1995-01-01")
    if kind.startswith("Mapping"):
        mapping = _pairs(raw) if isinstance(raw, str) and text else raw
        if not isinstance(mapping, Mapping):
            raise ValueError("expected key=value pairs")
        if kind == "Mapping[str, float]":
            return {str(k): _number(v, whole=False, text=text) for k, v in mapping.items()}
        return {str(k): str(v) for k, v in mapping.items()}
    raise ValueError(f"unsupported setting type {kind}")  # pragma: no cover - a declaration error


def _range_problem(f: dataclasses.Field, value: Any) -> str | None:
    m = f.metadata
    if m.get("pattern") and not re.fullmatch(m["pattern"], value):
        return f"does not match {m['pattern']}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        broken = ((m.get("minimum") is not None and value < m["minimum"])
                  or (m.get("maximum") is not None and value > m["maximum"])
                  or (m.get("above") is not None and value <= m["above"])
                  or (m.get("below") is not None and value >= m["below"]))
        if broken:
            return f"must be {_describe_rules(f)}"
    return None


def _checked(name: str, raw: Any, source: str) -> Any:
    """The value of setting `name` from `raw`, or SettingsError naming its source and the fix."""
    f = FIELDS[name]
    try:
        value = _converted(f, raw, text=source.startswith("environment"))
    except (TypeError, ValueError) as exc:
        rules = _describe_rules(f)
        raise SettingsError(f"{source} = {raw!r} is not valid: {exc}; expected a {_kind(f)}"
                            + (f" {rules}" if rules else "") + f" ({f.metadata['help']})") from None
    problem = _range_problem(f, value)
    if problem:
        raise SettingsError(f"{source} = {raw!r} {problem} ({f.metadata['help']})")
    return value


def _whole_problems(s: Settings) -> list[str]:
    """Rules that involve a setting as a whole rather than one value."""
    problems = []
    missing = set(DEFAULT_TYPE_WEIGHTS) - set(s.edge_type_weights)
    if missing:
        problems.append(f"edge_type_weights lacks weights for {sorted(missing)} "
                        f"(give all of {sorted(DEFAULT_TYPE_WEIGHTS)})")
    unknown = set(s.edge_type_weights) - set(DEFAULT_TYPE_WEIGHTS)
    if unknown:
        problems.append(f"edge_type_weights has unknown edge types {sorted(unknown)}")
    if s.split_validation_start and s.split_test_start and s.split_test_start < s.split_validation_start:
        problems.append(f"split_test_start ({s.split_test_start}) is before split_validation_start "
                        f"({s.split_validation_start}): the test split comes last")
    return problems


def _build(base: Settings, values: Mapping[str, Any], sources: Mapping[str, str]) -> Settings:
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise SettingsError(f"unknown settings {sorted(unknown)}; known: {sorted(FIELDS)}")
    checked = {name: _checked(name, raw, sources.get(name, f"setting {name}")) for name, raw in values.items()}
    result = dataclasses.replace(base, **checked)
    problems = _whole_problems(result)
    if problems:
        raise SettingsError("invalid settings: " + "; ".join(problems))
    return result


def load_settings(
    config_file: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings from defaults < TOML file < TASTEGRAPH_* env < overrides."""
    values, sources = _given(config_file, env, overrides)
    return _build(Settings(), values, sources)


def settings_given(config_file: str | os.PathLike | None = None,
                   env: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
    """(name, value in effect, where it was set) of every setting that a TOML file or a
    TASTEGRAPH_* variable sets, checked as load_settings checks them."""
    values, sources = _given(config_file, env, {})
    settings = _build(Settings(), values, sources)
    return [(name, str(getattr(settings, name)), sources[name]) for name in FIELDS if name in values]


def _given(config_file, env: Mapping[str, str] | None, overrides: Mapping[str, Any]) -> tuple[dict, dict]:
    """The raw values that the TOML file, the environment and the overrides set, each with where
    it came from (the later ones win)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    config_file = config_file or env.get(f"{ENV_PREFIX}CONFIG")
    if config_file:
        path = Path(config_file)
        if not path.is_file():
            raise SettingsError(f"config file {path} does not exist (set by TASTEGRAPH_CONFIG or --config)")
        with path.open("rb") as fh:
            try:
                data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
        data = data.get("tastegraph", data)
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise SettingsError(
                f"config file {path} has unknown settings {sorted(unknown)}; known: {sorted(FIELDS)}"
            )
        values.update(data)
        sources.update({name: f"TOML key `{name}` in {path}" for name in data})

    for name in FIELDS:
        key = f"{ENV_PREFIX}{name.upper()}"
        if key in env and env[key] != "":
            values[name] = env[key]
            sources[name] = f"environment variable {key}"
    for name, value in overrides.items():
        if value is not None:
            values[name] = value
            sources[name] = f"argument {name}"
    return values, sources


def settings_table() -> list[tuple[str, str, str]]:
    """(name, default, meaning and range) of every setting, for the README and `tastegraph settings`."""
    rows = []
    for f in FIELDS.values():
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        rules = _describe_rules(f)
        rows.append((f.name, str(default), f.metadata["help"] + (f" ({rules})" if rules else "")))
    return rows
