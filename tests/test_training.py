"""Labelled examples, splits, and training sets joined through Feast's point-in-time join:
no feature value from after an example, nothing older than the TTL, the same values online."""
import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from flows import serving, training
from pipelines.core import catalog, io
from pipelines.core.settings import load_settings
from pipelines.training import examples as ex
from pipelines.training import sets
from pipelines.training.point_in_time import as_of_join
from tests.conftest import rows

DAY = dt.date(2026, 1, 5)
EVENT_COLUMNS = ("event_id", "event_type", "event_time", "event_date", "user_id", "pin_id", "board_id", "session_id",
                 "is_outbound", "is_merchant", "ds")


def _event(event_id, event_type, user, pin, session, minute, merchant=False, day=DAY):
    return (event_id, event_type, dt.datetime.combine(day, dt.time(10, minute)), day, user, pin, None, session,
            False, merchant, day)


def _events(spark, events):
    return spark.createDataFrame(events, catalog.SILVER_EVENTS.schema).select(*EVENT_COLUMNS)


def _engaged(spark, pairs):
    return spark.createDataFrame(pairs, "user_id string, pin_id string, first_seen timestamp")


def _config(negatives=3, seed=1, validation=None, test=None):
    return ex.ExampleConfig(("save", "click"), negatives, seed, validation, test)


def test_positives_and_impression_negatives_follow_the_session_rule(spark):
    events = _events(spark, [
        _event("e1", "impression", "u1", "p1", "s1", 0), _event("e2", "save", "u1", "p1", "s1", 1),
        _event("e3", "impression", "u1", "p2", "s1", 2), _event("e4", "impression", "u1", "p3", "s1", 3),
        _event("e5", "closeup", "u1", "p3", "s1", 4), _event("e6", "click", "u1", "p4", "s1", 5, merchant=True),
        _event("e7", "click", "u1", "p5", "s1", 6), _event("e8", "impression", "u2", "p2", "s2", 7),
        _event("e9", "impression", "u2", "p2", "s2", 8), _event("e10", "impression", "u1", "p3", "s3", 9),
        _event("e11", "hide", "u2", "p9", "s2", 10),
    ])
    got = ex.training_examples(events, _engaged(spark, []), _config(negatives=0), "2026-01-05")
    assert [(r["example_id"], r["user_id"], r["pin_id"], r["label"], r["label_type"], r["is_product"], r["split"])
            for r in rows(got, "example_id")] == [
        ("e10", "u1", "p3", 0, "impression_negative", False, "train"),  # the closeup was in another session
        ("e2", "u1", "p1", 1, "save", False, "train"),
        ("e3", "u1", "p2", 0, "impression_negative", False, "train"),
        ("e6", "u1", "p4", 1, "merchant_click", True, "train"),
        ("e7", "u1", "p5", 1, "click", False, "train"),
        ("e8", "u2", "p2", 0, "impression_negative", False, "train"),  # the first of two impressions
    ]
    assert {r["event_timestamp"] for r in got.where("example_id = 'e2'").collect()} == {dt.datetime(2026, 1, 5, 10, 1)}


def test_sampled_negatives_are_seeded_and_never_a_pin_the_user_engaged_with(spark):
    events = [_event("e1", "save", "u1", "p1", "s1", 0), _event("e2", "click", "u1", "p2", "s1", 1)]
    events += [_event(f"x{i}", "impression", "u9", f"q{i % 6}", "s9", 10 + i % 40) for i in range(60)]
    events += [_event(f"y{i}", "impression", "u9", "p6", "s9", 50) for i in range(30)]
    frame = _events(spark, events)
    later = dt.datetime(2026, 1, 9)
    # One row per edge type: p6 and q1 also have an edge of another type first seen later
    # (a click after a save), which must not make them look fresh.
    engaged = _engaged(spark, [("u1", "p6", dt.datetime(2025, 12, 1)), ("u1", "q1", dt.datetime(2026, 1, 5, 9)),
                               ("u1", "q2", later), ("u1", "p6", later), ("u1", "q1", later)])
    got = ex.training_examples(frame, engaged, _config(negatives=3, seed=5), "2026-01-05").where(
        "label_type = 'sampled_negative'")
    sampled = rows(got, "example_id")
    assert sampled and len(sampled) <= 6
    assert all(r["user_id"] == "u1" and r["label"] == 0 for r in sampled)
    # p6 engaged before the day and q1 that day are excluded; q2 engaged only later may be drawn.
    assert not {r["pin_id"] for r in sampled} & {"p1", "p2", "p6", "q1"}
    per_positive = {}
    for r in sampled:
        per_positive.setdefault(r["example_id"].split(":")[0], []).append(r["pin_id"])
    assert set(per_positive) <= {"e1", "e2"}
    assert all(len(p) == len(set(p)) <= 3 for p in per_positive.values())
    again = ex.training_examples(frame, engaged, _config(negatives=3, seed=5), "2026-01-05").where(
        "label_type = 'sampled_negative'")
    assert rows(again, "example_id") == sampled
    other_seed = ex.training_examples(frame, engaged, _config(negatives=3, seed=6), "2026-01-05").where(
        "label_type = 'sampled_negative'")
    assert rows(other_seed, "example_id") != sampled


def test_sampled_negatives_follow_popularity(spark):
    events = [_event(f"s{i}", "save", f"v{i}", f"p{i}", f"t{i}", 0) for i in range(400)]
    events += [_event(f"a{i}", "impression", "u9", "hot", "s9", 1) for i in range(360)]
    events += [_event(f"b{i}", "impression", "u9", "cold", "s9", 2) for i in range(40)]
    got = ex.training_examples(_events(spark, events), _engaged(spark, []), _config(negatives=1, seed=3), "2026-01-05")
    sampled = got.where("label_type = 'sampled_negative'")
    assert sampled.count() == 400  # one per positive
    drawn = {r["pin_id"]: r["count"] for r in sampled.where("pin_id IN ('hot', 'cold')").groupBy("pin_id").count()
             .collect()}
    # Tickets: each saved pin holds 1, hot 360, cold 40: about half the draws hit hot or cold, 9 : 1.
    assert 160 <= drawn["hot"] + drawn["cold"] <= 240
    assert 0.85 <= drawn["hot"] / (drawn["hot"] + drawn["cold"]) <= 0.95


def test_splits_are_ordered_in_time(spark):
    days = [DAY + dt.timedelta(days=i) for i in range(5)]
    frame = _events(spark, [_event(f"e{i}", "save", "u1", f"p{i}", "s1", i, day=d) for i, d in enumerate(days)])
    got = ex.training_examples(frame, _engaged(spark, []), _config(negatives=0, validation=days[2], test=days[4]),
                               "2026-01-09")
    by_split = {r["split"]: (r["first"], r["last"]) for r in got.groupBy("split").agg(
        F.min("event_timestamp").alias("first"), F.max("event_timestamp").alias("last")).collect()}
    assert set(by_split) == {"train", "validation", "test"}
    assert by_split["train"][1] < by_split["validation"][0] <= by_split["validation"][1] < by_split["test"][0]
    assert [r["split"] for r in rows(got, "event_date")] == ["train", "train", "validation", "validation", "test"]


# --- point-in-time features through Feast ------------------------------------------------------

T_EXAMPLE = dt.datetime(2026, 1, 5, 12, 0)


def _snapshot(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(23, 59, 59))


def _user_stats(spark, user, day, impressions):
    return (user, dt.date.fromisoformat(day), _snapshot(day), impressions, 1, 1, 1, 0.5)


def _feature_lake(spark, settings):
    """Feature tables written directly: u1 has a snapshot before the example (4 impressions)
    and one after it (999,999: leakage if ever joined); u2's only snapshot is older than the TTL."""
    io.overwrite(spark.createDataFrame([
        _user_stats(spark, "u1", "2026-01-03", 3), _user_stats(spark, "u1", "2026-01-04", 4),
        _user_stats(spark, "u1", "2026-01-05", 999_999), _user_stats(spark, "u2", "2026-01-01", 7),
    ], catalog.USER_STATS.schema), catalog.USER_STATS, settings)
    io.overwrite(spark.createDataFrame([
        ("p1", dt.date(2026, 1, 4), _snapshot("2026-01-04"), 40, 4, 2, 1, 0.05),
        ("p1", dt.date(2026, 1, 5), _snapshot("2026-01-05"), 888_888, 4, 2, 1, 0.05),
    ], catalog.PIN_STATS.schema), catalog.PIN_STATS, settings)
    io.overwrite(spark.createDataFrame([
        ("p1", dt.date(2026, 1, 4), _snapshot("2026-01-04"), 9, 5, 3, 1, 2, 4),
        ("p1", dt.date(2026, 1, 5), _snapshot("2026-01-05"), 777_777, 5, 3, 1, 2, 4),
    ], catalog.PIN_GRAPH_STATS.schema), catalog.PIN_GRAPH_STATS, settings)
    io.overwrite(spark.createDataFrame([
        ("p1", [0.5, -0.5], "graph", "m1", dt.datetime(2026, 1, 2)),
        ("p2", [0.25, 0.75], "aligned_content", "m1", dt.datetime(2026, 1, 6)),  # changed after the example
    ], catalog.PIN_EMBEDDINGS.schema), catalog.PIN_EMBEDDINGS, settings)
    io.overwrite(spark.createDataFrame([
        ("u1", 1, "p1", [0.5, -0.5], 2.0, 3, "m1", dt.datetime(2026, 1, 3)),
        ("u1", 2, "p2", [0.25, 0.75], 1.0, 1, "m1", dt.datetime(2026, 1, 3)),
    ], catalog.USER_INTEREST_EMBEDDINGS.schema), catalog.USER_INTEREST_EMBEDDINGS, settings)
    examples = [("x1", "u1", "p1", "s", T_EXAMPLE, T_EXAMPLE.date(), 1, "save", False, "train", DAY),
                ("x2", "u2", "p2", "s", T_EXAMPLE, T_EXAMPLE.date(), 0, "impression_negative", False, "train", DAY),
                ("x3", "u1", "p9", "s", dt.datetime(2026, 1, 6, 8), dt.date(2026, 1, 6), 0, "sampled_negative", False,
                 "train", DAY)]
    io.overwrite(spark.createDataFrame(examples, catalog.TRAINING_EXAMPLES.schema), catalog.TRAINING_EXAMPLES, settings)
    serving.apply(settings)


@pytest.fixture(scope="module")
def feature_lake(spark, tmp_path_factory):
    settings = load_settings(env={}, lake_root=tmp_path_factory.mktemp("features") / "lake", shuffle_partitions=2)
    _feature_lake(spark, settings)
    return settings


def test_point_in_time_join_never_leaks_a_later_value_and_respects_the_ttl(spark, feature_lake):
    settings = feature_lake
    built = training.build(settings, dt.date(2026, 1, 5), dt.date(2026, 1, 6))
    got = {r["example_id"]: r for r in sets.read_training_set(spark, settings, built.training_set_id).collect()}
    assert set(got) == {"x1", "x2", "x3"}  # examples without features keep their row
    x1, x2, x3 = got["x1"], got["x2"], got["x3"]
    assert x1["user_stats_v1__impressions_7d"] == 4        # the 2026-01-05 snapshot (999,999) is later
    assert x1["pin_stats_v1__impressions_7d"] == 40        # not 888,888
    assert x1["pin_graph_stats_v1__viewers"] == 9          # not 777,777
    assert x1["pin_graph_stats_v1__co_engaged_pins"] == 4
    assert x1["pin_embeddings_v1__embedding"] == [0.5, -0.5]
    assert x1["user_interests_v1__interests"] == 2
    assert x2["user_stats_v1__impressions_7d"] is None     # 2026-01-01 is older than the 3-day TTL
    assert x2["pin_embeddings_v1__embedding"] is None      # its only vector is dated after the example
    assert x3["user_stats_v1__impressions_7d"] == 999_999  # on 2026-01-06 the 01-05 snapshot is the latest
    assert built.missing_features == {"user_stats_v1": 1, "pin_stats_v1": 2, "pin_graph_stats_v1": 2,
                                      "pin_embeddings_v1": 2, "user_interests_v1": 1}
    assert built.rows == 3


def test_own_as_of_join_equals_feasts(spark, feature_lake):
    settings = feature_lake
    spec = sets.spec_of(settings, dt.date(2026, 1, 5), dt.date(2026, 1, 6))
    versions = training.pinned_versions(settings, spec.feature_service)
    entity = sets.entity_rows(io.read_table(spark, catalog.TRAINING_EXAMPLES, settings), spec)
    feast = serving.historical_features(settings, entity, spec.feature_service, versions).frame
    own = as_of_join(entity, serving.feature_frames(settings, spec.feature_service, versions))
    assert sorted(own.columns) == sorted(feast.columns)
    assert rows(own.select(*sorted(feast.columns)), "example_id") == rows(feast.select(*sorted(feast.columns)),
                                                                          "example_id")


def test_offline_join_equals_what_the_online_store_served_at_that_time(spark, feature_lake):
    settings = feature_lake
    store = serving.feature_store(settings)
    store.materialize(start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
                      end_date=T_EXAMPLE.replace(tzinfo=dt.timezone.utc))
    online = serving.lookup(settings, "u1", ["p1"])
    built = training.build(settings, dt.date(2026, 1, 5), dt.date(2026, 1, 6))
    x1 = sets.read_training_set(spark, settings, built.training_set_id).where("example_id = 'x1'").first()
    for name in ("impressions_7d", "clicks_7d", "ctr_7d"):
        assert online.user[name] == x1[f"user_stats_v1__{name}"], name
        assert online.pins["p1"][name] == x1[f"pin_stats_v1__{name}"], name
    for name in ("viewers", "savers", "boards"):
        assert online.pins["p1"][name] == x1[f"pin_graph_stats_v1__{name}"], name
    assert online.pins["p1"]["embedding"] == pytest.approx(x1["pin_embeddings_v1__embedding"])
    assert online.user["interests"] == x1["user_interests_v1__interests"]


def test_point_in_time_join_reads_only_the_days_its_range_needs(spark, tmp_path):
    """feast-dev/feast#3681: Feast's Spark retrieval scans whole sources. On Delta it does not:
    its query bounds `event_timestamp` by the examples' range less the TTL, and Delta skips
    every file whose event_timestamp statistics fall outside, so an old day whose files are gone
    from disk is never opened."""
    settings = load_settings(env={}, lake_root=tmp_path / "lake", shuffle_partitions=2)
    _feature_lake(spark, settings)
    io.append(spark.createDataFrame([_user_stats(spark, "u1", "2025-06-01", 555)], catalog.USER_STATS.schema),
              catalog.USER_STATS, settings)
    old_day = Path(catalog.USER_STATS.path(settings)) / "ds=2025-06-01"
    assert any(old_day.glob("*.parquet"))
    for f in old_day.glob("*.parquet"):
        f.unlink()
    built = training.build(settings, dt.date(2026, 1, 5), dt.date(2026, 1, 6))
    x1 = sets.read_training_set(spark, settings, built.training_set_id).where("example_id = 'x1'").first()
    assert x1["user_stats_v1__impressions_7d"] == 4
    with pytest.raises(Exception, match="(?i)file.*(not|does not) exist|FileNotFound"):
        io.read_table(spark, catalog.USER_STATS, settings).collect()  # a full scan would have failed


def test_build_rejects_an_unknown_feature_service_and_split_dates_outside_the_range(spark, feature_lake):
    settings = feature_lake
    with pytest.raises(sets.TrainingSetError, match="no feature service 'nope'"):
        training.build(settings, dt.date(2026, 1, 5), dt.date(2026, 1, 6), feature_service="nope")
    with pytest.raises(sets.TrainingSetError, match="outside the range"):
        training.build(settings.replace(split_test_start=dt.date(2026, 2, 1)), dt.date(2026, 1, 5),
                       dt.date(2026, 1, 6))
    with pytest.raises(sets.TrainingSetError, match="is empty"):
        training.build(settings, dt.date(2026, 1, 6), dt.date(2026, 1, 5))
    with pytest.raises(sets.TrainingSetError, match="no labelled examples"):
        training.build(settings, dt.date(2026, 3, 1), dt.date(2026, 3, 2))
