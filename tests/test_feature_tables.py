import datetime as dt

import pytest
from pyspark.sql import functions as F

from pipelines.core import catalog
from pipelines.features import stats as feature_tables
from tests.conftest import rows

DS = "2026-01-01"
D = dt.date(2026, 1, 1)


def t(h, m=0, sec=0):
    return dt.datetime(2026, 1, 1, h, m, sec)


def silver(spark, events):
    """Silver-events rows from (id, type, user, pin, board, time, is_merchant)."""
    data = [
        {"event_id": i, "event_type": ty, "event_time": ts, "event_date": ts.date(), "user_id": u, "pin_id": p,
         "board_id": b, "session_id": "s", "is_outbound": None, "is_merchant": m, "ds": D}
        for i, ty, u, p, b, ts, m in events
    ]
    return spark.createDataFrame(data, catalog.SILVER_EVENTS.schema)


EVENTS = [
    ("e1", "impression", "u1", "p1", None, t(10), None),
    ("e2", "impression", "u1", "p1", None, t(11), None),
    ("e3", "click", "u1", "p1", None, t(10, 5), True),
    ("e4", "save", "u1", "p1", "b1", t(10, 6), None),
    ("e5", "save", "u2", "p1", "b1", t(12), None),
    ("e6", "hide", "u2", "p2", None, t(13), None),
    ("e7", "follow", "u1", None, "b2", t(14), None),
    ("e8", "click", "u1", "p2", None, t(15), False),
    ("e9", "closeup", "u2", "p2", None, t(16), None),
]


def test_pin_stats_exact(spark):
    got = rows(feature_tables.pin_stats(silver(spark, EVENTS), DS), "pin_id")
    assert got == [
        {"pin_id": "p1", "ds": D, "event_timestamp": dt.datetime(2026, 1, 1, 23, 59, 59), "impressions_7d": 2,
         "closeups_7d": 0, "clicks_7d": 1, "saves_7d": 2, "ctr_7d": 0.5},
        {"pin_id": "p2", "ds": D, "event_timestamp": dt.datetime(2026, 1, 1, 23, 59, 59), "impressions_7d": 0,
         "closeups_7d": 1, "clicks_7d": 1, "saves_7d": 0, "ctr_7d": 0.0},
    ]


def test_user_stats_exact(spark):
    got = rows(feature_tables.user_stats(silver(spark, EVENTS), DS), "user_id")
    assert [(r["user_id"], r["impressions_7d"], r["clicks_7d"], r["saves_7d"], r["distinct_pins_7d"], r["ctr_7d"])
            for r in got] == [("u1", 2, 2, 1, 2, 1.0), ("u2", 0, 0, 1, 2, 0.0)]


@pytest.mark.parametrize("day,included", [("2025-12-26", True), ("2025-12-25", False), ("2026-01-02", False)])
def test_stats_window_is_seven_days_ending_on_ds(spark, day, included):
    ts = dt.datetime.fromisoformat(day + "T12:00:00")
    events = silver(spark, [("e1", "impression", "u1", "p1", None, ts, None)])
    kept = events.where(feature_tables.window_filter(DS, feature_tables.WINDOW_DAYS)).count()
    assert kept == (1 if included else 0)


def test_a_key_whose_window_empties_gets_one_row_of_zeros_that_day(spark):
    """Else the counts of its last window would stay served: an online store keeps the last row."""
    events = silver(spark, [("e1", "save", "u1", "p1", "b1", dt.datetime(2025, 12, 25, 12), None),
                            ("e2", "impression", "u2", "p2", None, dt.datetime(2025, 12, 31, 12), None)])
    pins = {(r["pin_id"], r["ds"].isoformat()): (r["impressions_7d"], r["saves_7d"], r["ctr_7d"])
            for r in feature_tables.pin_stats(events, "2025-12-30", "2026-01-02").collect()}
    assert pins == {("p1", "2025-12-30"): (0, 1, 0.0), ("p1", "2025-12-31"): (0, 1, 0.0),
                    ("p1", "2026-01-01"): (0, 0, 0.0),  # the day the save left the window, and no later row
                    **{("p2", d): (1, 0, 0.0) for d in ("2025-12-31", "2026-01-01", "2026-01-02")}}
    users = {(r["user_id"], r["ds"].isoformat()): (r["saves_7d"], r["distinct_pins_7d"])
             for r in feature_tables.user_stats(events, DS).collect()}
    assert users == {("u1", DS): (0, 0), ("u2", DS): (0, 1)}


def _edge(src_type, src, dst_type, dst, edge_type, first_seen):
    return {"src_type": src_type, "src_id": src, "dst_type": dst_type, "dst_id": dst, "edge_type": edge_type,
            "event_count": 1, "weight": 1.0, "weight_date": D, "first_seen": first_seen, "last_seen": first_seen}


def test_pin_graph_stats_counts_the_graph_known_at_the_end_of_ds(spark):
    late = dt.datetime(2026, 1, 2, 0, 0)  # folded by a later day: not yet known on ds
    edges = spark.createDataFrame([
        _edge("user", "u1", "pin", "p1", "impression", t(9)),
        _edge("user", "u1", "pin", "p1", "click", t(10)),
        _edge("user", "u1", "pin", "p1", "save", t(10, 5)),      # u1 engaged twice: one engaged user
        _edge("user", "u2", "pin", "p1", "closeup", dt.datetime(2025, 12, 1, 8)),
        _edge("user", "u3", "pin", "p1", "save", late),
        _edge("user", "u3", "pin", "p1", "hide", dt.datetime(2026, 1, 1, 23, 59, 59, 900000)),
        _edge("pin", "p1", "board", "b1", "saved_to", t(10, 5)),
        _edge("pin", "p1", "board", "b2", "saved_to", late),
        _edge("pin", "p1", "pin", "p2", "co_engaged", t(11)),    # counted for both ends
        _edge("pin", "p0", "pin", "p1", "co_engaged", t(12)),
        _edge("pin", "p1", "interest", "i1", "pin_interest", None),  # a dimension, not the graph's history
        _edge("user", "u9", "pin", "p9", "save", late),          # p9 has nothing before the end of ds
    ], catalog.GRAPH_EDGES.schema)
    got = rows(feature_tables.pin_graph_stats(edges, DS), "pin_id")
    counts = {r["pin_id"]: (r["viewers"], r["engaged_users"], r["savers"], r["hiders"], r["boards"],
                            r["co_engaged_pins"]) for r in got}
    assert counts == {"p0": (0, 0, 0, 0, 0, 1), "p1": (1, 2, 1, 1, 1, 2), "p2": (0, 0, 0, 0, 0, 1)}
    assert {(r["ds"], r["event_timestamp"]) for r in got} == {(D, dt.datetime(2026, 1, 1, 23, 59, 59))}


def test_a_range_of_snapshot_days_equals_each_day_on_its_own(spark):
    """A history backfill writes every day's rows in one job; they equal each day's own run,
    the graph's run of a day reading what the days before it wrote."""
    days = ["2026-01-01", "2026-01-04", "2026-01-09"]
    spread = [(f"e{i}{d}", ty, u, p, b, ts + dt.timedelta(days=d), m)
              for d in (-3, 0, 2, 5) for i, ty, u, p, b, ts, m in EVENTS]
    events = silver(spark, [(e, ty, u, p, b, ts, m) for e, ty, u, p, b, ts, m in spread])
    edges = spark.createDataFrame([
        _edge("user", u, "pin", p, ty, ts) for _, ty, u, p, _, ts, _ in spread
        if p and ty != "follow"] + [_edge("pin", "p1", "board", "b1", "saved_to", dt.datetime(2026, 1, 6, 3))],
        catalog.GRAPH_EDGES.schema).groupBy("src_type", "src_id", "dst_type", "dst_id", "edge_type").agg(
        F.count("*").alias("event_count"), F.lit(1.0).alias("weight"), F.lit(D).alias("weight_date"),
        F.min("first_seen").alias("first_seen"), F.max("last_seen").alias("last_seen"))
    for transform, source, key in ((feature_tables.pin_stats, events, "pin_id"),
                                   (feature_tables.user_stats, events, "user_id"),
                                   (feature_tables.pin_graph_stats, edges, "pin_id")):
        whole = rows(transform(source, days[0], days[-1]), "ds", key)
        each = _day_by_day(spark, transform, source, days[0], days[-1], key)
        assert whole == each, transform.__name__
        # the graph's rows: the first day, and the day b1 was first seen
        assert len({r["ds"] for r in whole}) > (1 if transform is feature_tables.pin_graph_stats else 3)


def test_pin_graph_stats_writes_a_pin_only_on_the_days_its_graph_changed(spark):
    edges = spark.createDataFrame([
        _edge("user", "u1", "pin", "p1", "save", t(9)),
        _edge("user", "u1", "pin", "p2", "impression", t(9)),
        _edge("user", "u1", "pin", "p1", "click", dt.datetime(2026, 1, 3, 8)),   # u1 already engaged: no change
        _edge("user", "u2", "pin", "p1", "impression", dt.datetime(2026, 1, 4, 8)),
    ], catalog.GRAPH_EDGES.schema)
    got = {(r["pin_id"], r["ds"].isoformat()): (r["viewers"], r["engaged_users"], r["savers"])
           for r in feature_tables.pin_graph_stats(edges, DS, "2026-01-05").collect()}
    assert got == {("p1", "2026-01-01"): (0, 1, 1), ("p2", "2026-01-01"): (1, 0, 0),
                   ("p1", "2026-01-04"): (1, 1, 1)}


def test_pin_graph_stats_first_day_brings_what_is_served_up_to_date(spark):
    """Against the rows already served: a pin unchanged gets none, a late edge folded since and
    a pin whose edges a corrected day removed each get one, the latter of zeros."""
    edges = spark.createDataFrame([
        _edge("user", "u1", "pin", "p1", "save", dt.datetime(2025, 12, 30, 9)),
        _edge("user", "u1", "pin", "p2", "impression", dt.datetime(2025, 12, 30, 9)),
        _edge("user", "u2", "pin", "p2", "impression", dt.datetime(2025, 12, 29, 9)),  # late: not yet served
    ], catalog.GRAPH_EDGES.schema)
    day = dt.date(2025, 12, 30)
    served = spark.createDataFrame([
        ("p1", day, dt.datetime(2025, 12, 30, 23, 59, 59), 0, 1, 1, 0, 0, 0),
        ("p2", day, dt.datetime(2025, 12, 30, 23, 59, 59), 1, 0, 0, 0, 0, 0),
        ("p3", day, dt.datetime(2025, 12, 30, 23, 59, 59), 0, 0, 0, 0, 0, 2),  # its edges were removed since
        ("p1", D, t(23, 59, 59), 9, 9, 9, 9, 9, 9),  # the day being run: replaced, not compared with
    ], catalog.PIN_GRAPH_STATS.schema)
    got = {(r["pin_id"], r["ds"]): (r["viewers"], r["co_engaged_pins"])
           for r in feature_tables.pin_graph_stats(edges, DS, served=served).collect()}
    assert got == {("p2", D): (2, 0), ("p3", D): (0, 0)}


def _day_by_day(spark, transform, source, first, last, key):
    """Each day's own run; the graph's runs see the rows the days before them wrote."""
    if transform is not feature_tables.pin_graph_stats:
        return [r for day in _every_day(first, last) for r in rows(transform(source, day), "ds", key)]
    each, served = [], spark.createDataFrame([], catalog.PIN_GRAPH_STATS.schema)
    for day in _every_day(first, last):
        written = spark.createDataFrame(transform(source, day, served=served).collect(), catalog.PIN_GRAPH_STATS.schema)
        each += rows(written, "ds", key)
        served = served.unionByName(written)
    return each


def _every_day(first, last):
    day = dt.date.fromisoformat(first)
    while day <= dt.date.fromisoformat(last):
        yield day.isoformat()
        day += dt.timedelta(days=1)
