import datetime as dt

import pytest
from pyspark.sql import functions as F

from pipelines.core import catalog, io
from pipelines.core.settings import DEFAULT_TYPE_WEIGHTS, load_settings
from pipelines.graph import edges as graph
from pipelines.graph import pin_pin, related_pins, shared, walks
from tests.conftest import rows, run

H = 14.0  # half-life used below


def ts(day, hour=10, minute=0):
    return dt.datetime(2026, 1, day, hour, minute)


def silver_rows(spark, events, ingest_day=None):
    """(id, type, user, pin, board, time, session[, is_merchant]) -> silver events rows."""
    data = []
    for e in events:
        i, ty, u, p, b, t, s = e[:7]
        data.append({"event_id": i, "event_type": ty, "event_time": t, "event_date": t.date(), "user_id": u,
                     "pin_id": p, "board_id": b, "session_id": s, "is_outbound": None,
                     "is_merchant": e[7] if len(e) > 7 else None,
                     "ds": ingest_day or t.date()})
    return spark.createDataFrame(data, catalog.SILVER_EVENTS.schema)


def test_edge_days_types_counts_and_session_pairs(spark):
    events = silver_rows(spark, [
        ("e1", "impression", "u1", "p1", None, ts(1, 10), "s1"),
        ("e2", "impression", "u1", "p1", None, ts(1, 11), "s1"),
        ("e3", "click", "u1", "p1", None, ts(1, 12), "s1", True),
        ("e4", "save", "u1", "p2", "b1", ts(1, 13), "s1"),
        ("e5", "closeup", "u1", "p3", None, ts(1, 14), "s1"),
        ("e6", "follow", "u2", None, "b1", ts(1, 15), "s2"),
        ("e7", "hide", "u2", "p1", None, ts(1, 16), "s2"),
    ])
    got = rows(graph.edge_days(events, session_pin_cap=20), "src_id", "dst_id", "edge_type")
    assert [(r["src_type"], r["src_id"], r["dst_type"], r["dst_id"], r["edge_type"], r["event_count"]) for r in got] == [
        ("pin", "p1", "pin", "p2", "co_engaged", 1),   # p1 (click) and p2 (save) in s1
        ("pin", "p1", "pin", "p3", "co_engaged", 1),
        ("pin", "p2", "board", "b1", "saved_to", 1),
        ("pin", "p2", "pin", "p3", "co_engaged", 1),
        ("user", "u1", "pin", "p1", "impression", 2),
        ("user", "u1", "pin", "p1", "merchant_click", 1),
        ("user", "u1", "pin", "p2", "save", 1),
        ("user", "u1", "pin", "p3", "closeup", 1),
        ("user", "u2", "board", "b1", "follows", 1),
        ("user", "u2", "pin", "p1", "hide", 1),
    ]
    assert got[4]["first_seen"] == ts(1, 10) and got[4]["last_seen"] == ts(1, 11)


def test_session_pairs_are_capped(spark):
    events = silver_rows(spark, [(f"e{i}", "closeup", "u1", f"p{i}", None, ts(1), "bot") for i in range(30)])
    assert graph.session_pairs(events, session_pin_cap=5).count() == 10  # 5 choose 2, not 30 choose 2


# --- incremental state, decay, late events, idempotence ------------------------------------

DAY_EVENTS = {
    1: [("a1", "save", "u1", "p1", "b1", ts(1), "s1"), ("a2", "click", "u1", "p1", None, ts(1, 11), "s1"),
        ("a3", "impression", "u2", "p2", None, ts(1), "s2")],
    2: [("b1", "save", "u2", "p1", "b1", ts(2), "s3"), ("b2", "click", "u1", "p1", None, ts(2), "s4")],
    # day 3 also brings a late click of u1 on p1 that happened on day 1
    3: [("c1", "impression", "u2", "p2", None, ts(3), "s5"), ("c2", "click", "u1", "p1", None, ts(1, 20), "s6")],
}


def _land(spark, settings, day):
    """What ingest leaves for a day: its silver events and the dates they touched."""
    events = silver_rows(spark, DAY_EVENTS[day], ingest_day=dt.date(2026, 1, day))
    io.insert_new(events, catalog.SILVER_EVENTS, settings)
    touched = events.groupBy("event_date").agg(F.count("*").alias("events")).select(
        F.lit(dt.date(2026, 1, day)).alias("ds"), "event_date", "events")
    io.overwrite_where(touched, catalog.TOUCHED_DATES, settings, f"ds = DATE'2026-01-0{day}'")


def _settings(root):
    return load_settings(env={}, lake_root=root, shuffle_partitions=2, decay_half_life_days=H)


def _edges_as_of(spark, settings, as_of):
    edges = shared.weight_as_of(io.read_table(spark, catalog.GRAPH_EDGES, settings), as_of, H)
    return {(r["src_id"], r["dst_id"], r["edge_type"]): r for r in edges.collect()}


@pytest.fixture(scope="module")
def daily(spark, tmp_path_factory):
    settings = _settings(tmp_path_factory.mktemp("graph-daily") / "lake")
    for day in (1, 2, 3):
        _land(spark, settings, day)
        run(spark, settings, "graph", f"2026-01-0{day}")
    return settings


def test_decayed_weight_equals_closed_form(spark, daily):
    w = DEFAULT_TYPE_WEIGHTS
    for as_of in ("2026-01-03", "2026-01-20"):
        t = dt.date.fromisoformat(as_of)

        def closed(*contributions, t=t):
            return sum(c * weight * 0.5 ** ((t - d).days / H) for c, weight, d in contributions)

        edges = _edges_as_of(spark, daily, as_of)
        click = edges[("u1", "p1", "click")]
        # clicks on day 1 (two: one on time, one late) and day 2
        assert click["event_count"] == 3
        assert click["weight"] == pytest.approx(closed((2, w["click"], dt.date(2026, 1, 1)),
                                                       (1, w["click"], dt.date(2026, 1, 2))), rel=1e-12)
        saved = edges[("p1", "b1", "saved_to")]
        assert saved["event_count"] == 2
        assert saved["weight"] == pytest.approx(closed((1, 1.0, dt.date(2026, 1, 1)), (1, 1.0, dt.date(2026, 1, 2))),
                                                rel=1e-12)
        impression = edges[("u2", "p2", "impression")]
        assert impression["weight"] == pytest.approx(
            closed((1, w["impression"], dt.date(2026, 1, 1)), (1, w["impression"], dt.date(2026, 1, 3))), rel=1e-12)
    assert edges[("u1", "p1", "click")]["first_seen"] == ts(1, 11)
    assert edges[("u1", "p1", "click")]["last_seen"] == ts(2)


def test_day_by_day_equals_one_run_over_all_days(spark, daily, tmp_path):
    once = _settings(tmp_path / "lake")
    for day in (1, 2, 3):
        _land(spark, once, day)
    run(spark, once, "graph", "2026-01-01", through="2026-01-03")
    a, b = _edges_as_of(spark, daily, "2026-01-03"), _edges_as_of(spark, once, "2026-01-03")
    assert a.keys() == b.keys()
    for key in a:
        assert a[key]["event_count"] == b[key]["event_count"], key
        assert a[key]["weight"] == pytest.approx(b[key]["weight"], rel=1e-12), key
        assert (a[key]["first_seen"], a[key]["last_seen"]) == (b[key]["first_seen"], b[key]["last_seen"]), key
    nodes = lambda s: rows(io.read_table(spark, catalog.GRAPH_NODES, s), "node_type", "node_id")  # noqa: E731
    assert nodes(daily) == nodes(once)


def test_a_day_that_touched_a_history_writes_one_file_per_date(spark, tmp_path):
    """A day whose ingest touched many dates (the evaluation's training lakes: every date of a
    history under one ds) writes each date's edge contributions as one file, as a range run
    does; without that, every writing task leaves a file in every date it holds rows of."""
    settings = _settings(tmp_path / "lake")
    start = dt.datetime(2025, 1, 1, 10)
    days = io.MANY_PARTITIONS + 3
    history = [(f"e{d}-{u}", "save", f"u{u}", f"p{(d + u) % 7}", "b1", start + dt.timedelta(days=d), f"s{d}-{u}")
               for d in range(days) for u in range(6)]
    events = silver_rows(spark, history, ingest_day=dt.date(2026, 1, 1))
    io.insert_new(events, catalog.SILVER_EVENTS, settings)
    io.overwrite(events.groupBy("event_date").agg(F.count("*").alias("events")).select(
        F.lit(dt.date(2026, 1, 1)).alias("ds"), "event_date", "events"), catalog.TOUCHED_DATES, settings)
    coalesce = "spark.sql.adaptive.coalescePartitions.enabled"
    before = spark.conf.get(coalesce)
    spark.conf.set(coalesce, "false")  # keep both shuffle partitions, as a large history would have many
    try:
        run(spark, settings, "graph", "2026-01-01")
    finally:
        spark.conf.set(coalesce, before)
    folders = sorted((tmp_path / "lake").rglob("event_date=*"))
    folders = [f for f in folders if "graph_edge_days" in str(f)]
    assert len(folders) == days
    assert {len(list(f.glob("*.parquet"))) for f in folders} == {1}
    assert io.read_table(spark, catalog.GRAPH_EDGE_DAYS, settings).count() == \
        graph.edge_days(events, settings.session_pin_cap).count()


def test_rerunning_a_day_leaves_the_tables_unchanged(spark, daily):
    tables = (catalog.GRAPH_EDGE_DAYS, catalog.GRAPH_EDGES, catalog.GRAPH_NODES)
    before = {t.name: rows(io.read_table(spark, t, daily), *t.keys) for t in tables}
    run(spark, daily, "graph", "2026-01-02")
    run(spark, daily, "graph", "2026-01-03")
    after = {t.name: rows(io.read_table(spark, t, daily), *t.keys) for t in tables}
    assert after == before


def _nodes_from_scratch(spark, settings):
    return rows(graph.nodes_of(io.read_table(spark, catalog.GRAPH_EDGES, settings)), "node_type", "node_id")


def _dims(spark, settings, pin_interests, board_owner):
    t = ts(1)
    pins = spark.createDataFrame(
        [{"pin_id": p, "interests": [{"interest": i, "score": 0.9}], "first_seen": t, "last_seen": t}
         for p, i in pin_interests.items()], catalog.SILVER_PINS.schema)
    boards = spark.createDataFrame(
        [{"board_id": b, "owner_id": o, "category": "food", "first_seen": t, "last_seen": t}
         for b, o in board_owner.items()], catalog.SILVER_BOARDS.schema)
    io.overwrite(pins, catalog.SILVER_PINS, settings)
    io.overwrite(boards, catalog.SILVER_BOARDS, settings)


def test_nodes_folded_from_edge_changes_equal_nodes_from_scratch(spark, tmp_path):
    """Inserts, updates, deletions and dimension changes all reach graph_nodes through the CDF."""
    settings = _settings(tmp_path / "lake")
    _dims(spark, settings, {"p1": "food", "p2": "cars"}, {"b1": "u1"})
    for day in (1, 2):
        _land(spark, settings, day)
        run(spark, settings, "graph", f"2026-01-0{day}")
    assert rows(io.read_table(spark, catalog.GRAPH_NODES, settings), "node_type", "node_id") == \
        _nodes_from_scratch(spark, settings)
    # u2's day-2 save of p1 is retracted (e.g. the board turned secret), p2 changes interest,
    # b1 goes away: edges are deleted and updated, and degrees must follow.
    io.delete_matching(spark.createDataFrame([("b1",)], "event_id string"), catalog.SILVER_EVENTS, settings, "event_id")
    _dims(spark, settings, {"p1": "food", "p2": "art"}, {})
    run(spark, settings, "graph", "2026-01-02")
    nodes = rows(io.read_table(spark, catalog.GRAPH_NODES, settings), "node_type", "node_id")
    assert nodes == _nodes_from_scratch(spark, settings)
    degree = {(n["node_type"], n["node_id"]): n["degree"] for n in nodes}
    assert ("interest", "cars") not in degree and degree[("interest", "art")] == 1
    assert degree[("user", "u2")] == 1          # only the impression of p2 is left
    assert ("user", "u1") in degree and degree[("board", "b1")] == 1  # b1 is still saved_to by p1 (day 1)


# --- pruning, co-occurrence, walks ----------------------------------------------------------

def _saved(spark, links):
    return spark.createDataFrame(links, "pin_id string, board_id string, weight double")


def _interests(spark, labels):
    return spark.createDataFrame(list(labels.items()), "pin_id string, interest string")


def test_diverse_boards_weak_links_and_big_boards_are_pruned(spark):
    labels = {"p1": "food", "p2": "food", "p3": "food", "p4": "cars", "p5": "art", "p6": "yoga"}
    links = [("p1", "b1", 3.0), ("p2", "b1", 1.0), ("p3", "b1", 1.0),                  # b1: all food, entropy 0
             ("p1", "b2", 1.0), ("p4", "b2", 1.0), ("p5", "b2", 1.0), ("p6", "b2", 1.0),  # b2: 2 bits
             ("p1", "b3", 0.5), ("p2", "b3", 2.0)]                                       # b3: all food
    entropy = {r["board_id"]: r["entropy"] for r in shared.board_entropy(
        _saved(spark, links).select("pin_id", "board_id"), _interests(spark, labels)).collect()}
    assert entropy == {"b1": 0.0, "b2": pytest.approx(2.0), "b3": 0.0}
    pruned = shared.pruned_pin_boards(_saved(spark, links), _interests(spark, labels), entropy_max=1.5,
                                            pin_board_keep=1, board_pin_cap=10)
    assert sorted((r["pin_id"], r["board_id"]) for r in pruned.collect()) == [
        ("p1", "b1"), ("p2", "b3"), ("p3", "b1")]  # b2 too diverse; p1 keeps b1 (3.0), p2 keeps b3 (2.0)
    on_topic = shared.pruned_pin_boards(_saved(spark, links), _interests(spark, labels), entropy_max=9,
                                              pin_board_keep=9, board_pin_cap=10, pin_board_min_share=0.3)
    assert sorted(r["board_id"] for r in on_topic.where("pin_id = 'p1'").collect()) == ["b1", "b3"]  # b2: 1/4 food
    capped = shared.pruned_pin_boards(_saved(spark, links), _interests(spark, labels), entropy_max=9,
                                            pin_board_keep=9, board_pin_cap=2)
    assert max(r["n"] for r in capped.groupBy("board_id").agg(F.count("*").alias("n")).collect()) == 2


def test_pin_pin_cosine_and_top_k(spark):
    pruned = _saved(spark, [("p1", "b1", 1.0), ("p2", "b1", 1.0), ("p1", "b2", 1.0), ("p2", "b2", 1.0),
                            ("p3", "b2", 1.0), ("p3", "b3", 1.0), ("p4", "b3", 1.0)])
    cosave = {(r["pin_id"], r["other_pin_id"]): r["cosave"] for r in pin_pin.cosave_scores(pruned).collect()}
    assert cosave[("p1", "p2")] == pytest.approx(2 / 2)           # boards {b1,b2} vs {b1,b2}
    assert cosave[("p1", "p3")] == pytest.approx(1 / (2 ** 0.5 * 2 ** 0.5))
    assert cosave[("p3", "p4")] == pytest.approx(1 / (2 ** 0.5 * 1))
    assert ("p1", "p4") not in cosave
    empty = pin_pin.coengaged_scores(
        spark.createDataFrame([], "src_id string, dst_id string, weight double"))
    top = rows(pin_pin.pin_pin_edges(pin_pin.cosave_scores(pruned), empty, 0.5, top_k=1), "pin_id")
    assert [(r["pin_id"], r["other_pin_id"], r["rank"]) for r in top] == [
        ("p1", "p2", 1), ("p2", "p1", 1), ("p3", "p4", 1), ("p4", "p3", 1)]
    assert top[0]["score"] == pytest.approx(0.5)


def test_walks_are_seeded_reproducible_and_stay_in_the_component(spark):
    links = [(f"f{i}", f"fb{i % 3}", 1.0) for i in range(9)] + [(f"c{i}", f"cb{i % 2}", 1.0) for i in range(6)]
    pruned = _saved(spark, links + [("f0", "fb1", 1.0), ("c0", "cb1", 1.0)])
    first = rows(related_pins.related_pins(walks.walk_visits(pruned, 10, 4, 0.3, seed=1), 5), "pin_id", "rank")
    again = rows(related_pins.related_pins(walks.walk_visits(pruned.repartition(3), 10, 4, 0.3, seed=1), 5), "pin_id", "rank")
    other = rows(related_pins.related_pins(walks.walk_visits(pruned, 10, 4, 0.3, seed=2), 5), "pin_id", "rank")
    assert first == again
    assert first != other
    assert all(r["pin_id"][0] == r["candidate_pin_id"][0] for r in first)  # f-pins never reach c-pins
    assert all(r["pin_id"] != r["candidate_pin_id"] for r in first)
    f0 = [r for r in first if r["pin_id"] == "f0"]
    assert [r["rank"] for r in f0] == list(range(1, len(f0) + 1)) and len(f0) <= 5
    assert all(a["score"] >= b["score"] for a, b in zip(f0, f0[1:]))


def test_multi_walk_hits_are_boosted(spark):
    visits = spark.createDataFrame(
        [("q", 0, "x")] * 4 + [("q", 0, "y"), ("q", 1, "y"), ("q", 2, "y"), ("q", 3, "y")],
        "pin_id string, walk int, candidate_pin_id string")
    got = rows(related_pins.related_pins(visits, 2), "rank")
    assert [(r["candidate_pin_id"], r["visits"], r["walks_hit"], r["score"]) for r in got] == [
        ("y", 4, 4, 16.0), ("x", 4, 1, 4.0)]
