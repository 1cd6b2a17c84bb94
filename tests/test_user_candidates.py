"""User candidates: query pins weighted by engagement type and recency, multi-hit boost across
query pins, already-engaged pins never recommended back."""
import datetime as dt

import pytest

from pipelines.core import catalog
from pipelines.core.settings import DEFAULT_TYPE_WEIGHTS
from pipelines.graph import shared, user_candidates
from tests.conftest import rows

H = 14.0
W = DEFAULT_TYPE_WEIGHTS


def _edges(spark, rows_):
    """(user, pin, edge_type, events, date of the events) -> graph_edges rows (weights as of that date)."""
    data = []
    for user, pin, edge_type, n, day in rows_:
        t = dt.datetime.combine(day, dt.time(12))
        data.append({"src_type": "user", "src_id": user, "dst_type": "pin", "dst_id": pin, "edge_type": edge_type,
                     "event_count": n, "weight": n * W[edge_type], "weight_date": day, "first_seen": t,
                     "last_seen": t})
    return spark.createDataFrame(data, catalog.GRAPH_EDGES.schema)


def test_query_pins_weigh_type_and_recency_and_drop_hidden(spark):
    today, old = dt.date(2026, 2, 1), dt.date(2026, 1, 4)   # old is 28 days = two half-lives back
    edges = shared.weight_as_of(_edges(spark, [
        ("u1", "p_saved_old", "save", 1, old),          # 4 * 0.25 = 1.0
        ("u1", "p_clicked", "click", 1, today),         # 2.0
        ("u1", "p_seen", "impression", 3, today),       # 0.3
        ("u1", "p_hidden", "impression", 2, today),     # 0.2 - 3.0 < 0: never a query pin
        ("u1", "p_hidden", "hide", 1, today),
        ("u2", "p_clicked", "closeup", 1, today),
    ]), today.isoformat(), H)
    got = {(r["user_id"], r["pin_id"]): r["weight"] for r in user_candidates.query_pins(edges, per_user=2).collect()}
    assert got.keys() == {("u1", "p_clicked"), ("u1", "p_saved_old"), ("u2", "p_clicked")}
    assert got[("u1", "p_clicked")] == pytest.approx(2.0 / 3.0)   # 2.0 / (2.0 + 1.0): the impression is cut by K
    assert got[("u1", "p_saved_old")] == pytest.approx(1.0 / 3.0)
    assert got[("u2", "p_clicked")] == pytest.approx(1.0)
    seen = {(r["user_id"], r["pin_id"]) for r in user_candidates.seen_pins(edges).collect()}
    assert seen == {("u1", "p_saved_old"), ("u1", "p_clicked"), ("u1", "p_hidden"), ("u2", "p_clicked")}


def test_candidates_boost_multi_query_hits_and_skip_seen_pins(spark):
    queries = spark.createDataFrame([("u1", "q1", 0.75), ("u1", "q2", 0.25)], "user_id string, pin_id string, weight double")
    related = spark.createDataFrame([
        ("q1", "x", 8), ("q1", "y", 4), ("q2", "y", 4), ("q2", "z", 16),
        ("q1", "q2", 10),     # a query pin the user engaged with: not recommended back
        ("q1", "hidden", 50),
    ], "pin_id string, candidate_pin_id string, visits long")
    seen = spark.createDataFrame([("u1", "q1"), ("u1", "q2"), ("u1", "hidden")], "user_id string, pin_id string")
    got = rows(user_candidates.user_candidates(queries, related, seen, n=3), "rank")
    assert [(r["candidate_pin_id"], r["rank"], r["query_pins_hit"]) for r in got] == [
        ("y", 1, 2),   # (sqrt(.75 * 4) + sqrt(.25 * 4))^2 = 7.46: reached from both query pins
        ("x", 2, 1),   # .75 * 8 = 6: fewer visits than z, but from the heavier query pin
        ("z", 3, 1),   # .25 * 16 = 4
    ]
    assert [r["score"] for r in got] == pytest.approx([(3 ** 0.5 + 1) ** 2, 6.0, 4.0])
    assert rows(user_candidates.user_candidates(queries, related, seen, n=1)) == [got[0]]
