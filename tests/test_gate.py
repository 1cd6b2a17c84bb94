"""The suites catch what they promise to: duplicate keys, lists longer than their top_n, values
out of range, pins nobody knows and rows from withheld boards, each named with a sample of
the bad rows; a clean batch passes."""
import datetime as dt

import pytest

from expectations import gate
from pipelines.core import catalog

GOOD_EDGES = [("p1", "p2", 1, 0.5, 0.4, 0.6), ("p1", "p3", 2, 0.3, 0.3, 0.3), ("p2", "p1", 1, 0.5, 0.4, 0.6)]


@pytest.fixture
def check(spark, settings):
    settings.lake_root.mkdir(parents=True)
    known_pins = spark.createDataFrame([("p1",), ("p2",), ("p3",)], "pin_id string")
    withheld_boards = spark.createDataFrame([("b_secret",)], "board_id string")

    def run(table: catalog.Table, data: list, s=settings) -> gate.GateResult:
        df = spark.createDataFrame(data, table.schema)
        with gate.reference_views(known_pins, withheld_boards):
            [result] = gate.validate_all(s, {table.name: (f"{table.name}_v1", df)}, "2026-01-01")
        return result

    return run


def test_a_clean_batch_passes(check):
    result = check(catalog.PIN_PIN_EDGES, GOOD_EDGES)
    assert result.success and result.rows == 3 and not result.failed


def test_an_empty_batch_passes(check, settings):
    # GX's unique proportion of no rows is 0, not 1: the key check must not fail a day with no rows
    result = check(catalog.PIN_PIN_EDGES, [])
    assert result.success and result.rows == 0 and not result.failed
    stored = gate.context(settings).validation_results_store.get_all()
    assert [r.success for r in stored] == [True]  # one validation, not a failed one and a re-run


@pytest.mark.parametrize("bad_row, named", [
    (("p1", "p2", 3, 0.1, 0.1, 0.1), "compound_columns_to_be_unique"),    # the key twice
    (("p1", "p9", 3, 0.1, 0.1, 0.1), "other_pin_id is a known pin"),      # a pin nobody knows
    (("p2", "p3", 2, 1.5, 0.1, 0.1), "values_to_be_between(score)"),      # a cosine above 1
    (("p3", "p3", 1, 0.1, 0.1, 0.1), "no pin is its own neighbour"),
    (("p2", "p3", 99, 0.1, 0.1, 0.1), "values_to_be_between(rank)"),       # beyond pin_pin_top_k
])
def test_a_bad_row_fails_the_suite_by_name_with_a_sample(check, bad_row, named):
    result = check(catalog.PIN_PIN_EDGES, GOOD_EDGES + [bad_row])
    assert not result.success
    assert len(result.failed) == 1, result.failed
    assert named in result.failed[0], result.failed
    assert " bad, e.g. " in result.failed[0], result.failed  # with a sample of the bad rows
    assert any(str(value) in result.failed[0].split(" bad, e.g. ")[1] for value in bad_row), result.failed


@pytest.mark.parametrize("ranks, named", [
    ("1..n+1", "values_to_be_between(rank)"),                 # the extra row ranked beyond top_n
    ("1..n, one twice", "at most {n} rows per pin_id"),        # or sharing a rank within top_n
])
def test_more_rows_per_key_than_top_n_fail(check, settings, ranks, named):
    n = settings.pin_pin_top_k
    positions = list(range(1, n + 2)) if ranks == "1..n+1" else [*range(1, n + 1), n]
    rows = [("p1", f"p{i % 3 + 1}x{i}", rank, 0.1, 0.1, 0.1) for i, rank in enumerate(positions)]
    result = check(catalog.PIN_PIN_EDGES, rows)
    assert not result.success
    [failure] = [f for f in result.failed if named.format(n=n) in f]  # (the made-up neighbours are unknown pins too)
    assert " bad, e.g. " in failure and '"pin_id": "p1"' in failure, failure


def test_fused_vectors_are_embedding_dim_long_or_longer_by_a_weighted_content_vector(check, settings):
    dim = settings.embedding_dim
    row = lambda n: ("p1", [0.1] * n, "graph", "g1", dt.datetime(2026, 1, 1))  # noqa: E731
    assert check(catalog.PIN_EMBEDDINGS, [row(dim)]).success
    assert not check(catalog.PIN_EMBEDDINGS, [row(dim + 3)]).success
    weighted = settings.replace(fused_content_weight=0.5)  # the raw content vector beside the graph one
    assert check(catalog.PIN_EMBEDDINGS, [row(dim + 3)], weighted).success
    longer = check(catalog.PIN_EMBEDDINGS, [row(dim + settings.content_dim + 1)], weighted)
    assert not longer.success and f"at most {dim + settings.content_dim} finite values" in longer.failed[0]


def test_a_node_from_a_withheld_board_fails(check):
    result = check(catalog.GRAPH_NODES, [("board", "b_public", 2, None, None), ("board", "b_secret", 1, None, None),
                                         ("user", "b_secret", 1, None, None)])
    assert not result.success
    assert [f.split(":")[0] for f in result.failed] == ["no row from a secret or withheld board (node_id)"]
    assert "1 bad" in result.failed[0]


def test_a_failure_raises_one_error_naming_the_table(check):
    result = check(catalog.PIN_PIN_EDGES, GOOD_EDGES + [("p1", "p9", 3, 0.1, 0.1, 0.1)])
    with pytest.raises(gate.GateFailed, match=r"pin_pin_edges \(pin_pin_edges_v1\): other_pin_id is a known pin"):
        gate.raise_if_failed([result])


def test_tables_checked_side_by_side_keep_their_own_results(spark, settings):
    # validate_all runs the tables' checkpoints in threads: each result, count and sample must
    # come from its own table's rows
    settings.lake_root.mkdir(parents=True)
    frames = {
        catalog.PIN_PIN_EDGES.name: ("pin_pin_edges_v1", spark.createDataFrame(
            GOOD_EDGES + [("p1", "p9", 3, 0.1, 0.1, 0.1)], catalog.PIN_PIN_EDGES.schema)),
        catalog.GRAPH_NODES.name: ("graph_nodes_v1", spark.createDataFrame(
            [("board", "b_public", 2, None, None), ("pin", "p1", 3, None, None)], catalog.GRAPH_NODES.schema)),
        catalog.RELATED_PINS.name: ("related_pins_v1", spark.createDataFrame([], catalog.RELATED_PINS.schema)),
    }
    known_pins = spark.createDataFrame([("p1",), ("p2",), ("p3",)], "pin_id string")
    with gate.reference_views(known_pins, spark.createDataFrame([("b_secret",)], "board_id string")):
        results = gate.validate_all(settings, frames, "2026-01-01")
    assert [(r.table, r.success, r.rows) for r in results] == [
        ("pin_pin_edges", False, 4), ("graph_nodes", True, 2), ("related_pins", True, 0)]
    assert [f.split(":")[0] for f in results[0].failed] == ["other_pin_id is a known pin"]
    assert '"other_pin_id": "p9"' in results[0].failed[0], results[0].failed
    stored = gate.context(settings).validation_results_store.get_all()
    assert sorted((r.suite_name, r.success) for r in stored) == [
        ("graph_nodes_v1", True), ("pin_pin_edges_v1", False), ("pin_pin_edges_v1", False), ("related_pins_v1", True)]
