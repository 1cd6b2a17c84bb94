"""One typed settings object, from defaults, an optional TOML file and TASTEGRAPH_* variables.

Precedence (lowest first): the defaults below, the file named by ``TASTEGRAPH_CONFIG`` (or
passed as ``config_file``), ``TASTEGRAPH_<FIELD>`` environment variables, explicit overrides.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

REPO_ROOT = Path(__file__).resolve().parents[1]

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


def disable_telemetry() -> None:
    """Set the opt-out variables of Prefect, Great Expectations and Feast (keeps user choices)."""
    for key, value in TELEMETRY_OFF.items():
        if value:
            os.environ.setdefault(key, value)
    warnings.filterwarnings("ignore", message="The spark data source API is an experimental feature")


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message says which and how to fix it."""


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


@dataclass(frozen=True)
class Settings:
    lake_root: Path = Path("lake")
    raw_root: Path | None = None  # where raw JSONL lands; defaults to <lake_root>/raw
    spark_master: str = "local[2]"
    spark_driver_memory: str = "4g"
    shuffle_partitions: int = 4
    spark_conf: Mapping[str, str] = field(default_factory=dict)  # extra Spark settings (local mode)
    jars_dir: Path = REPO_ROOT / ".jars"
    feature_repo: Path = REPO_ROOT / "features"
    quarantine_max_share: float = 0.01
    earliest_event_date: dt.date = dt.date(1995, 1, 1)  # times before this are bad_timestamp
    redelivery_window_days: int = 7  # an event_id seen within this many days of an event's date is a redelivery
    edge_type_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TYPE_WEIGHTS))
    # Taste graph
    decay_half_life_days: float = 14.0
    board_pin_cap: int = 50          # pins per board that pair up / that walks can reach (hash sample)
    board_entropy_max: float = 1.5   # bits; boards whose pins' interests are more diverse are pruned
    pin_board_keep: int = 20         # each pin keeps its strongest board links only
    pin_board_min_share: float = 0.5  # a link goes when the pin's interest is a smaller share of the board
    session_pin_cap: int = 20        # engaged pins per session that pair up
    pin_pin_top_k: int = 20
    coengaged_weight: float = 0.5    # share of session co-engagement in the pin-pin score
    related_top_n: int = 20
    walks_per_pin: int = 20
    walk_length: int = 4             # pin -> board -> pin hops per walk
    walk_restart: float = 0.5        # chance to jump back to the query pin after each hop
    walk_seed: int = 42
    query_pins_per_user: int = 20    # a user's heaviest engaged pins that seed their candidates
    user_candidates_top_n: int = 50
    task_retries: int = 2
    task_retry_delay_seconds: int = 5

    @property
    def raw_dir(self) -> Path:
        return self.raw_root if self.raw_root is not None else self.lake_root / "raw"

    @property
    def feast_dir(self) -> Path:
        """Feast registry and SQLite online store live under the lake folder."""
        return self.lake_root / "_feast"

    def replace(self, **changes: Any) -> "Settings":
        return _coerce(dataclasses.replace(self, **changes))


def _field_types() -> dict[str, Any]:
    return {f.name: f for f in dataclasses.fields(Settings)}


def _convert(name: str, raw: Any, default: Any) -> Any:
    """Convert a value from a file or the environment to the type of the field's default."""
    try:
        if name == "edge_type_weights":
            if isinstance(raw, str):
                pairs = (item.split("=", 1) for item in raw.split(",") if item.strip())
                raw = {k.strip(): v for k, v in pairs}
            return {str(k): float(v) for k, v in dict(raw).items()}
        if name == "spark_conf":
            if isinstance(raw, str):
                pairs = (item.split("=", 1) for item in raw.split(",") if item.strip())
                raw = {k.strip(): v.strip() for k, v in pairs}
            return {str(k): str(v) for k, v in dict(raw).items()}
        if name == "raw_root":
            return None if raw in (None, "") else Path(raw).expanduser()
        if isinstance(default, dt.date):
            return raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
        if isinstance(default, Path):
            return Path(raw).expanduser()
        if isinstance(default, bool):
            return str(raw).lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(
            f"setting {name!r} (env {ENV_PREFIX}{name.upper()}) has value {raw!r}, "
            f"which is not a valid {type(default).__name__}: {exc}"
        ) from None


def _coerce(s: Settings) -> Settings:
    """Validate ranges; raise SettingsError naming the field and the fix."""
    problems = []
    if s.shuffle_partitions < 1:
        problems.append("shuffle_partitions must be >= 1")
    if not 0.0 <= s.quarantine_max_share <= 1.0:
        problems.append("quarantine_max_share must be between 0 and 1 (e.g. 0.01 for 1%)")
    missing = set(DEFAULT_TYPE_WEIGHTS) - set(s.edge_type_weights)
    if missing:
        problems.append(f"edge_type_weights lacks weights for {sorted(missing)}")
    if s.redelivery_window_days < 0:
        problems.append("redelivery_window_days must be >= 0")
    if s.decay_half_life_days <= 0:
        problems.append("decay_half_life_days must be > 0")
    for name in ("board_pin_cap", "pin_board_keep", "session_pin_cap", "pin_pin_top_k", "related_top_n",
                 "walks_per_pin", "walk_length", "query_pins_per_user", "user_candidates_top_n"):
        if getattr(s, name) < 1:
            problems.append(f"{name} must be >= 1")
    if not 0.0 <= s.walk_restart < 1.0:
        problems.append("walk_restart must be in [0, 1)")
    if s.task_retries < 0:
        problems.append("task_retries must be >= 0")
    if problems:
        raise SettingsError("invalid settings: " + "; ".join(problems))
    return s


def load_settings(
    config_file: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings from defaults < TOML file < TASTEGRAPH_* env < overrides."""
    env = os.environ if env is None else env
    fields = _field_types()
    defaults = Settings()
    values: dict[str, Any] = {}

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
        unknown = set(data) - set(fields)
        if unknown:
            raise SettingsError(
                f"config file {path} has unknown settings {sorted(unknown)}; known: {sorted(fields)}"
            )
        values.update(data)

    for name in fields:
        key = f"{ENV_PREFIX}{name.upper()}"
        if key in env and env[key] != "":
            values[name] = env[key]
    values.update({k: v for k, v in overrides.items() if v is not None})

    unknown = set(values) - set(fields)
    if unknown:
        raise SettingsError(f"unknown settings {sorted(unknown)}; known: {sorted(fields)}")
    converted = {
        name: _convert(name, raw, getattr(defaults, name)) for name, raw in values.items()
    }
    return _coerce(dataclasses.replace(defaults, **converted))
