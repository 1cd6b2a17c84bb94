"""What the evaluation needs in the lake, checked without Spark: `tastegraph evaluate` and
`tastegraph report` answer an empty lake in one line before they import the engines (about
8 s of imports: Great Expectations, Feast, Prefect) and start a session."""
from __future__ import annotations

from pipelines.core import catalog, io
from pipelines.core.settings import Settings, TastegraphError


class NothingToEvaluate(TastegraphError, ValueError):
    """The lake has no silver events (or none up to the day asked for), or no results to report."""


def require_events(settings: Settings) -> None:
    """Stop when the lake has no silver events to evaluate."""
    if not io.committed(catalog.SILVER_EVENTS, settings):
        raise NothingToEvaluate(f"no silver events under {settings.lake_root}: run the daily flow (or a backfill) "
                                "before `tastegraph evaluate`")


def require_results(settings: Settings) -> None:
    """Stop when the lake has no evaluation results to report."""
    if not io.committed(catalog.EVAL_RESULTS, settings):
        raise NothingToEvaluate(f"no evaluation results under {settings.lake_root}: run `tastegraph evaluate` first")
