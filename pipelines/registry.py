"""Every stage, declared once and in run order: its function, the tables it reads and writes,
and the suites that gate what it writes. The tables Feast serves and the training examples
come right after the graph, before the model stages: they are cheap, and a gate that fails
on them stops the day before minutes go into embeddings that would not be published.
The flow, spark-submit (`pipelines/jobs.py`), the CLI, the benchmarks and the tests all
iterate over `STAGES`. Adding a stage means writing its
function and one declaration here (and a suite for each table it writes, in
`expectations/suites.py`).
"""
from __future__ import annotations

from pipelines.core import catalog as c
from pipelines.core.stages import Stage
from pipelines.embeddings import collaborative, content, fused, graph_embeddings, interests
from pipelines.evaluation import stage as evaluation
from pipelines.features import stats
from pipelines.graph import edges, pin_pin, related_pins, user_candidates
from pipelines.ingest import stage as ingest
from pipelines.training import examples


def _suites(*tables: c.Table) -> dict[str, str]:
    """Each table gated by its own versioned suite, named after it."""
    return {t.name: f"{t.name}_v1" for t in tables}


INGEST_WRITES = (c.BRONZE_BOARDS, c.BRONZE_PINS, c.BRONZE_EVENTS, c.QUARANTINE, c.SILVER_BOARDS, c.SILVER_PINS,
                 c.SILVER_EVENTS, c.TOUCHED_DATES)
GRAPH_WRITES = (c.GRAPH_EDGE_DAYS, c.GRAPH_EDGES, c.GRAPH_NODES)

STAGES: tuple[Stage, ...] = (
    Stage("ingest", ingest.run, reads=(), writes=INGEST_WRITES, suites=_suites(*INGEST_WRITES), takes_range=True,
          description="raw logs -> bronze + quarantine -> silver events, pins, boards"),
    Stage("graph", edges.run, reads=(c.SILVER_EVENTS, c.SILVER_PINS, c.SILVER_BOARDS, c.TOUCHED_DATES),
          writes=GRAPH_WRITES, suites=_suites(*GRAPH_WRITES), takes_range=True,
          description="decayed taste-graph edges and nodes, folded incrementally"),
    Stage("feature_tables", stats.run, reads=(c.SILVER_EVENTS, c.GRAPH_EDGES), takes_range=True,
          writes=(c.PIN_STATS, c.USER_STATS, c.PIN_GRAPH_STATS), suites=_suites(c.PIN_STATS, c.USER_STATS, c.PIN_GRAPH_STATS),
          description="daily pin and user statistics snapshots, and the graph around each pin"),
    Stage("training_examples", examples.run, reads=(c.SILVER_EVENTS, c.TOUCHED_DATES, c.GRAPH_EDGES),
          writes=(c.TRAINING_EXAMPLES,), suites=_suites(c.TRAINING_EXAMPLES), takes_range=True,
          description="labelled examples: positives, unengaged impressions, popularity-sampled negatives"),
    Stage("pin_pin", pin_pin.run, reads=(c.GRAPH_EDGES, c.SILVER_PINS), writes=(c.PIN_PIN_EDGES,),
          suites=_suites(c.PIN_PIN_EDGES), description="each pin's top-K co-saved and co-engaged pins"),
    Stage("related_pins", related_pins.run, reads=(c.GRAPH_EDGES, c.SILVER_PINS), writes=(c.RELATED_PINS,),
          suites=_suites(c.RELATED_PINS), description="each pin's top-N candidates from seeded Pixie walks"),
    Stage("user_candidates", user_candidates.run, reads=(c.GRAPH_EDGES, c.RELATED_PINS),
          writes=(c.USER_CANDIDATES,), suites=_suites(c.USER_CANDIDATES),
          description="each user's top-N pins from multi-query walks of their engaged pins"),
    Stage("graph_embeddings", graph_embeddings.run, reads=(c.GRAPH_EDGES, c.SILVER_PINS),
          writes=(c.PIN_GRAPH_EMBEDDINGS,), suites=_suites(c.PIN_GRAPH_EMBEDDINGS),
          description="skip-gram (MLlib Word2Vec) pin embeddings from seeded walks, retrained on a cadence"),
    Stage("collaborative_embeddings", collaborative.run, reads=(c.GRAPH_EDGES,),
          writes=(c.USER_COLLAB_EMBEDDINGS, c.PIN_COLLAB_EMBEDDINGS),
          suites=_suites(c.USER_COLLAB_EMBEDDINGS, c.PIN_COLLAB_EMBEDDINGS),
          description="implicit ALS (MLlib) user and pin factors from decayed engagement, hides excluded"),
    Stage("content_embeddings", content.run,
          reads=(c.SILVER_PINS, c.SILVER_BOARDS, c.GRAPH_EDGES, c.PIN_GRAPH_EMBEDDINGS),
          writes=(c.PIN_CONTENT_EMBEDDINGS,), suites=_suites(c.PIN_CONTENT_EMBEDDINGS),
          description="content and graph-aligned content embeddings by Beam RunInference (new and changed pins)"),
    Stage("pin_embeddings", fused.run, reads=(c.PIN_GRAPH_EMBEDDINGS, c.PIN_CONTENT_EMBEDDINGS),
          writes=(c.PIN_EMBEDDINGS,), suites=_suites(c.PIN_EMBEDDINGS),
          description="one vector per pin: graph embedding, else aligned content embedding"),
    Stage("user_interests", interests.run, reads=(c.GRAPH_EDGES, c.PIN_EMBEDDINGS),
          writes=(c.USER_INTEREST_EMBEDDINGS,), suites=_suites(c.USER_INTEREST_EMBEDDINGS),
          description="PinnerSage: each user's interest clusters of recently engaged pins, with medoids"),
)

# Stages run on demand (`tastegraph evaluate`, `tastegraph submit`), not by the daily flow.
ON_DEMAND: tuple[Stage, ...] = (
    Stage("evaluate", evaluation.run, reads=(c.SILVER_EVENTS, c.SILVER_PINS, c.SILVER_BOARDS),
          writes=(c.EVAL_RESULTS,), suites=_suites(c.EVAL_RESULTS),
          description="offline evaluation on held-out behaviour: baselines and taste-graph methods, two protocols"),
)
ALL_STAGES = STAGES + ON_DEMAND
BY_NAME = {stage.name: stage for stage in ALL_STAGES}


def stage(name: str) -> Stage:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no stage named {name!r}; stages: {', '.join(BY_NAME)}") from None
