"""Suites as code: one per table a run writes, versioned (`<table>_v1`; changing semantics
means `_v2`). Every suite checks its table's keys (not null, unique), and where they apply:
values within the range their formula allows, lists no longer than their top_n, every pin id
pointing at a known pin, and no row from a secret or withheld board.

Row checks ("no row where ...") are `Flag`s, not GX's UnexpectedRowsExpectation: the gate
adds each flag as a boolean column of the batch (a check across tables first joins the view it
needs: the known pin ids or the withheld board ids, see `expectations.gate.reference_views`)
and the suite expects that column to be false everywhere. GX folds those expectations, with the
suite's other column checks, into one aggregate query per table, where each
UnexpectedRowsExpectation costs two Spark jobs of its own. Key uniqueness is a `Unique`, for
the same reason (see there).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import great_expectations as gx
import great_expectations.expectations as gxe

from pipelines.core import catalog, contract
from pipelines.core.settings import Settings

KNOWN_PINS_VIEW = "tastegraph_known_pins"            # (pin_id): pins in silver
WITHHELD_BOARDS_VIEW = "tastegraph_withheld_boards"  # (board_id): secret or unreadable boards

Expectations = list


@dataclass(frozen=True)
class Unique:
    """No two rows share a value of `columns`. The gate checks it as an aggregate (the distinct
    count of the columns equals the count of rows), which GX folds into the suite's aggregate
    query, where GX's row-level uniqueness check is a window query of its own per check. Only
    when a batch fails does the gate run the row-level form (`rows_expectation`), to name a
    sample of the duplicated rows. A compound key is one struct column of the batch."""

    columns: tuple[str, ...]
    description: str | None = None

    @property
    def column(self) -> str:
        return self.columns[0] if len(self.columns) == 1 else "_key_" + "_".join(self.columns)

    def expectation(self) -> gxe.ExpectColumnProportionOfUniqueValuesToBeBetween:
        return gxe.ExpectColumnProportionOfUniqueValuesToBeBetween(
            column=self.column, min_value=1.0, description=self.description)

    def rows_expectation(self):
        if len(self.columns) == 1:
            return gxe.ExpectColumnValuesToBeUnique(column=self.columns[0], description=self.description)
        return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(self.columns), description=self.description)


def _keys(table: catalog.Table) -> Expectations:
    """Each key column not null, and the key unique."""
    return [gxe.ExpectColumnValuesToNotBeNull(column=k) for k in table.keys] + (
        [Unique(tuple(table.keys))] if table.keys else [])


@dataclass(frozen=True)
class Flag:
    """Rows that must not exist: those where `where` (Spark SQL on the batch's columns) holds.
    `lookups` are (column, view) pairs: the gate joins the view's ids to the batch as
    `_in_<view>_<column>` (null when the id is not in the view) before evaluating `where`."""

    where: str
    description: str
    lookups: tuple[tuple[str, str], ...] = ()

    @property
    def column(self) -> str:
        return "_flag_" + re.sub(r"[^a-z0-9]+", "_", self.description.lower()).strip("_")

    def expectation(self) -> gxe.ExpectColumnValuesToBeInSet:
        return gxe.ExpectColumnValuesToBeInSet(column=self.column, value_set=[False], description=self.description)


def lookup_column(view: str, column: str) -> str:
    return f"_in_{view}_{column}"


def _rows(where: str, description: str, lookups: tuple[tuple[str, str], ...] = ()) -> Flag:
    return Flag(where, description, lookups)


def _not_finite(column: str) -> str:
    return f"({column} IS NULL OR isnan({column}) OR abs({column}) = double('infinity'))"


def _known_pins(*columns: str) -> list:
    return [_rows(f"{c} IS NOT NULL AND {lookup_column(KNOWN_PINS_VIEW, c)} IS NULL", f"{c} is a known pin",
                  ((c, KNOWN_PINS_VIEW),)) for c in columns]


def _no_withheld_board(condition: str, column: str) -> Flag:
    return _rows(f"{condition} AND {lookup_column(WITHHELD_BOARDS_VIEW, column)} IS NOT NULL",
                 f"no row from a secret or withheld board ({column})", ((column, WITHHELD_BOARDS_VIEW),))


def _ranked(key: str, n: int, position: str = "rank", what: str = "rows") -> list:
    """At most n rows per key: each row's position within its key lies in 1..n, and no two rows
    of a key share a position (the tables rank with row_number)."""
    return [gxe.ExpectColumnValuesToBeBetween(column=position, min_value=1, max_value=n),
            Unique((key, position), f"at most {n} {what} per {key} (one row per {position})")]


def _in_set(column: str, values) -> gxe.ExpectColumnValuesToBeInSet:
    return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=sorted(values))


def _bronze(key: str) -> Expectations:
    return [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in (key, "ds", "source_file", "line_number")] + [
        gxe.ExpectColumnValuesToBeBetween(column="line_number", min_value=1)]


def bronze_events(s: Settings) -> Expectations:
    return _bronze("event_id") + [
        _in_set("event_type", contract.EVENT_TYPES), gxe.ExpectColumnValuesToNotBeNull(column="event_time")]


def bronze_pins(s: Settings) -> Expectations:
    return _bronze("pin_id") + [
        _rows("exists(interests, a -> NOT a.score BETWEEN 0 AND 1)", "annotation scores in [0, 1]")]


def bronze_boards(s: Settings) -> Expectations:
    return _bronze("board_id")


def quarantine(s: Settings) -> Expectations:
    return [_in_set("reason", contract.REASONS), _in_set("stream", contract.STREAMS),
            gxe.ExpectColumnValuesToBeBetween(column="line_number", min_value=1),
            Unique(("stream", "ds", "source_file", "line_number"))]


def events(s: Settings) -> Expectations:
    return _keys(catalog.SILVER_EVENTS) + [
        _in_set("event_type", contract.EVENT_TYPES),
        *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in ("event_time", "event_date", "user_id", "ds")],
        _rows("event_date <> to_date(event_time)", "event_date is the date of event_time"),
        _no_withheld_board("true", "board_id"),
    ]


def pins(s: Settings) -> Expectations:
    return _keys(catalog.SILVER_PINS) + [
        gxe.ExpectColumnValuesToBeBetween(column="price", min_value=0),
        _rows("exists(interests, a -> NOT a.score BETWEEN 0 AND 1)", "annotation scores in [0, 1]"),
    ]


def boards(s: Settings) -> Expectations:
    return _keys(catalog.SILVER_BOARDS) + [_no_withheld_board("true", "board_id")]


def touched_dates(s: Settings) -> Expectations:
    return _keys(catalog.TOUCHED_DATES) + [gxe.ExpectColumnValuesToBeBetween(column="events", min_value=1)]


def graph_edge_days(s: Settings) -> Expectations:
    return _keys(catalog.GRAPH_EDGE_DAYS) + [
        _in_set("edge_type", contract.EVENT_EDGE_TYPES),
        gxe.ExpectColumnValuesToBeBetween(column="event_count", min_value=1),
        _rows("first_seen > last_seen", "first_seen <= last_seen"),
    ]


def _weight_bounds(s: Settings) -> str:
    """Rows whose weight the decay formula cannot give: an event edge's weight per event lies
    between 0 and its type's weight (each event adds weight * 0.5^(age / half-life), age >= 0);
    annotation scores lie in [0, 1]; ownership and categories weigh 1."""
    per_type = " ".join(
        f"WHEN '{t}' THEN weight / event_count NOT BETWEEN {min(0.0, w) - 1e-9} AND {max(0.0, w) + 1e-9}"
        for t, w in sorted(s.edge_type_weights.items()))
    return (f"{_not_finite('weight')} OR CASE edge_type {per_type} "
            f"WHEN '{contract.PIN_INTEREST}' THEN weight NOT BETWEEN 0 AND 1 ELSE weight <> 1 END")


def graph_edges(s: Settings) -> Expectations:
    return _keys(catalog.GRAPH_EDGES) + [
        _in_set("edge_type", contract.EVENT_EDGE_TYPES + contract.DIMENSION_EDGE_TYPES),
        gxe.ExpectColumnValuesToBeBetween(column="event_count", min_value=0),
        _rows(_weight_bounds(s), "weights within what the decay formula allows"),
        _no_withheld_board("src_type = 'board'", "src_id"),
        _no_withheld_board("dst_type = 'board'", "dst_id"),
    ]


def graph_nodes(s: Settings) -> Expectations:
    return _keys(catalog.GRAPH_NODES) + [
        _in_set("node_type", ("user", "pin", "board", "interest")),
        gxe.ExpectColumnValuesToBeBetween(column="degree", min_value=1),
        _no_withheld_board("node_type = 'board'", "node_id"),
    ]


def pin_pin_edges(s: Settings) -> Expectations:
    return _keys(catalog.PIN_PIN_EDGES) + _ranked("pin_id", s.pin_pin_top_k) + [
        *[gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1) for c in ("score", "cosave", "coengaged")],
        _rows("pin_id = other_pin_id", "no pin is its own neighbour"),
        *_known_pins("pin_id", "other_pin_id"),
    ]


def related_pins(s: Settings) -> Expectations:
    return _keys(catalog.RELATED_PINS) + _ranked("pin_id", s.related_top_n) + [
        _rows(f"{_not_finite('score')} OR score <= 0", "scores finite and positive"),
        gxe.ExpectColumnValuesToBeBetween(column="walks_hit", min_value=1, max_value=s.walks_per_pin),
        _rows("visits < walks_hit", "visits >= walks_hit"),
        _rows("pin_id = candidate_pin_id", "no pin is its own candidate"),
        *_known_pins("pin_id", "candidate_pin_id"),
    ]


def user_candidates(s: Settings) -> Expectations:
    return _keys(catalog.USER_CANDIDATES) + _ranked("user_id", s.user_candidates_top_n) + [
        _rows(f"{_not_finite('score')} OR score <= 0", "scores finite and positive"),
        gxe.ExpectColumnValuesToBeBetween(column="query_pins_hit", min_value=1, max_value=s.query_pins_per_user),
        *_known_pins("candidate_pin_id"),
    ]


def _stats(table: catalog.Table, counts: tuple[str, ...]) -> Expectations:
    return _keys(table) + [gxe.ExpectColumnValuesToNotBeNull(column="event_timestamp")] + [
        gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in counts] + [
        gxe.ExpectColumnValuesToBeBetween(column="ctr_7d", min_value=0.0, max_value=1.0)]


def pin_stats(s: Settings) -> Expectations:
    return _stats(catalog.PIN_STATS, ("impressions_7d", "closeups_7d", "clicks_7d", "saves_7d"))


def user_stats(s: Settings) -> Expectations:
    return _stats(catalog.USER_STATS, ("impressions_7d", "clicks_7d", "saves_7d", "distinct_pins_7d"))


def pin_graph_stats(s: Settings) -> Expectations:
    counts = ("viewers", "engaged_users", "savers", "hiders", "boards", "co_engaged_pins")
    return _keys(catalog.PIN_GRAPH_STATS) + [gxe.ExpectColumnValuesToNotBeNull(column="event_timestamp")] + [
        gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in counts] + [
        # All zeros is allowed: the row of a pin whose edges a corrected day removed.
        _rows("savers > engaged_users", "a saver is an engaged user"),
    ]


def _vectors(column: str, size: int | None, at_most: int | None = None, nullable: bool = False) -> list:
    """Every vector of `column` has `size` finite values (or at most `at_most`)."""
    length = f"size({column}) <> {size}" if size is not None else f"size({column}) > {at_most}"
    bad = f"({length} OR exists({column}, x -> {_not_finite('x')}))"
    checks = [_rows(f"{column} IS NOT NULL AND {bad}", f"{column}: {size or f'at most {at_most}'} finite values")]
    if not nullable:
        checks.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
    return checks


def pin_graph_embeddings(s: Settings) -> Expectations:
    return _keys(catalog.PIN_GRAPH_EMBEDDINGS) + _vectors("embedding", s.embedding_dim) + [
        gxe.ExpectColumnValuesToBeBetween(column="occurrences", min_value=s.embedding_min_count),
        gxe.ExpectColumnValuesToNotBeNull(column="model_version"), *_known_pins("pin_id")]


def user_collab_embeddings(s: Settings) -> Expectations:
    return _keys(catalog.USER_COLLAB_EMBEDDINGS) + _vectors("embedding", s.als_rank)


def pin_collab_embeddings(s: Settings) -> Expectations:
    return _keys(catalog.PIN_COLLAB_EMBEDDINGS) + _vectors("embedding", s.als_rank) + _known_pins("pin_id")


def pin_content_embeddings(s: Settings) -> Expectations:
    return _keys(catalog.PIN_CONTENT_EMBEDDINGS) + [
        *_vectors("content_embedding", None, at_most=s.content_dim, nullable=True),
        *_vectors("aligned_embedding", s.embedding_dim, nullable=True),
        _rows("content_embedding IS NULL AND note IS NULL", "a pin without a vector has a note saying why"),
        *_known_pins("pin_id")]


def _fused_vectors(s: Settings) -> list:
    """The fused vectors (and the interest clusters made of them): `embedding_dim` long, or up
    to `content_dim` longer when the raw content vector goes beside them (`fused_content_weight`)."""
    if s.fused_content_weight > 0:
        return _vectors("embedding", None, at_most=s.embedding_dim + s.content_dim)
    return _vectors("embedding", s.embedding_dim)


def pin_embeddings(s: Settings) -> Expectations:
    return _keys(catalog.PIN_EMBEDDINGS) + _fused_vectors(s) + [
        _in_set("source", ("graph", "aligned_content")), gxe.ExpectColumnValuesToNotBeNull(column="event_timestamp"),
        *_known_pins("pin_id")]


def user_interest_embeddings(s: Settings) -> Expectations:
    return _keys(catalog.USER_INTEREST_EMBEDDINGS) + _fused_vectors(s) + [
        *_ranked("user_id", s.user_interests_max, position="cluster", what="interest clusters"),
        _rows(f"{_not_finite('importance')} OR importance <= 0", "importance finite and positive"),
        gxe.ExpectColumnValuesToBeBetween(column="pins", min_value=1, max_value=s.user_interests_pins_max),
        *_known_pins("medoid_pin_id")]


_POSITIVE_LABELS = ("save", "click", "closeup", "merchant_click")


def _labelled(table: catalog.Table) -> Expectations:
    """Labelled examples wherever they are stored: one label per example, consistent with its type."""
    return _keys(table) + [
        *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in ("user_id", "pin_id", "event_timestamp", "event_date")],
        _in_set("label", (0, 1)), _in_set("split", ("train", "validation", "test")),
        _in_set("label_type", (*_POSITIVE_LABELS, "impression_negative", "sampled_negative")),
        _rows(f"(label = 1) <> (label_type IN {tuple(_POSITIVE_LABELS)})", "label 1 exactly for positive label types"),
        _rows("is_product AND label_type <> 'merchant_click'", "only merchant clicks are product examples"),
        _rows("event_date <> to_date(event_timestamp)", "event_date is the date of event_timestamp"),
    ]


def training_examples(s: Settings) -> Expectations:
    return _labelled(catalog.TRAINING_EXAMPLES)


def training_sets(s: Settings) -> Expectations:
    return _labelled(catalog.TRAINING_SETS)


def eval_results(s: Settings) -> Expectations:
    bounded = "metric IN ('recall', 'ndcg', 'hr', 'coverage')"
    return _keys(catalog.EVAL_RESULTS) + [
        _in_set("protocol", ("A_sampled_100", "B_full_ranking")), _in_set("split", ("validation", "test")),
        gxe.ExpectColumnValuesToBeBetween(column="k", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="users", min_value=0),
        _rows(f"{bounded} AND value IS NOT NULL AND (value < 0 OR value > 1)", "rate metrics within [0, 1]"),
        _rows(f"value IS NOT NULL AND {_not_finite('value')}", "values finite"),
        _rows("value IS NULL AND users > 0", "a value wherever a slice has users"),
        _rows("ci_low IS NOT NULL AND (ci_low > value OR ci_high < value)",
              "the interval holds the value"),
        _rows("value IS NULL AND note IS NULL", "a missing value says why"),
    ]


_BY_TABLE: dict[str, Callable[[Settings], Expectations]] = {
    catalog.BRONZE_EVENTS.name: bronze_events, catalog.BRONZE_PINS.name: bronze_pins,
    catalog.BRONZE_BOARDS.name: bronze_boards, catalog.QUARANTINE.name: quarantine,
    catalog.SILVER_EVENTS.name: events, catalog.SILVER_PINS.name: pins, catalog.SILVER_BOARDS.name: boards,
    catalog.TOUCHED_DATES.name: touched_dates, catalog.GRAPH_EDGE_DAYS.name: graph_edge_days,
    catalog.GRAPH_EDGES.name: graph_edges, catalog.GRAPH_NODES.name: graph_nodes,
    catalog.PIN_PIN_EDGES.name: pin_pin_edges, catalog.RELATED_PINS.name: related_pins,
    catalog.USER_CANDIDATES.name: user_candidates, catalog.PIN_STATS.name: pin_stats,
    catalog.USER_STATS.name: user_stats, catalog.PIN_GRAPH_STATS.name: pin_graph_stats,
    catalog.PIN_GRAPH_EMBEDDINGS.name: pin_graph_embeddings, catalog.USER_COLLAB_EMBEDDINGS.name: user_collab_embeddings,
    catalog.PIN_COLLAB_EMBEDDINGS.name: pin_collab_embeddings,
    catalog.PIN_CONTENT_EMBEDDINGS.name: pin_content_embeddings, catalog.PIN_EMBEDDINGS.name: pin_embeddings,
    catalog.USER_INTEREST_EMBEDDINGS.name: user_interest_embeddings,
    catalog.TRAINING_EXAMPLES.name: training_examples, catalog.TRAINING_SETS.name: training_sets,
    catalog.EVAL_RESULTS.name: eval_results,
}

@dataclass(frozen=True)
class Suite:
    """A table's suite: the GX suite, the flags and key columns the gate adds to the batch
    before it runs, and the same suite with row-level uniqueness checks (`detailed`, run only
    on a failing batch, to sample the bad rows)."""

    suite: gx.ExpectationSuite
    flags: tuple[Flag, ...]
    uniques: tuple[Unique, ...]
    detailed: gx.ExpectationSuite


def _suite(name: str, expectations: Callable[[Settings], Expectations]) -> Callable[[Settings], Suite]:
    def build(settings: Settings) -> Suite:
        checks, again = expectations(settings), expectations(settings)  # a GX suite owns its expectations
        fast = [c.expectation() if isinstance(c, (Flag, Unique)) else c for c in checks]
        rows = [c.rows_expectation() if isinstance(c, Unique) else c.expectation() if isinstance(c, Flag) else c
                for c in again]
        return Suite(gx.ExpectationSuite(name=name, expectations=fast),
                     tuple(c for c in checks if isinstance(c, Flag)), tuple(c for c in checks if isinstance(c, Unique)),
                     gx.ExpectationSuite(name=name, expectations=rows))
    return build


# Suite name -> factory. A stage declares the suites that gate its outputs by these names.
SUITES: dict[str, Callable[[Settings], Suite]] = {
    f"{table}_v1": _suite(f"{table}_v1", expectations) for table, expectations in _BY_TABLE.items()}
