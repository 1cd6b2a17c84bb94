import datetime as dt

import pytest

from pipelines.core import catalog
from pipelines.features import stats as feature_tables
from tests.conftest import rows

DS = "2026-01-01"
D = dt.date(2026, 1, 1)


def t(h, m=0):
    return dt.datetime(2026, 1, 1, h, m)


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
