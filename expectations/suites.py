"""Suites as code, one per gated table, versioned (`_v1`): changing semantics means `_v2`."""
from __future__ import annotations

from typing import Callable

import great_expectations as gx
import great_expectations.expectations as gxe

from pipelines import catalog
from pipelines.contract import EVENT_TYPES


def _not_null(*columns: str) -> list:
    return [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in columns]


def silver_events_v1() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(
        name="silver_events_v1",
        expectations=[
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *_not_null("event_id", "event_type", "event_time", "event_date", "user_id"),
            gxe.ExpectColumnValuesToBeUnique(column="event_id"),
            gxe.ExpectColumnValuesToBeInSet(column="event_type", value_set=list(EVENT_TYPES)),
        ],
    )


def pin_stats_v1() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(
        name="pin_stats_v1",
        expectations=[
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *_not_null("pin_id", "ds", "event_timestamp"),
            gxe.ExpectColumnValuesToBeUnique(column="pin_id"),
            gxe.ExpectColumnValuesToBeBetween(column="impressions_7d", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="saves_7d", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="ctr_7d", min_value=0.0, max_value=1.0),
        ],
    )


def user_stats_v1() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(
        name="user_stats_v1",
        expectations=[
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *_not_null("user_id", "ds", "event_timestamp"),
            gxe.ExpectColumnValuesToBeUnique(column="user_id"),
            gxe.ExpectColumnValuesToBeBetween(column="distinct_pins_7d", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="ctr_7d", min_value=0.0, max_value=1.0),
        ],
    )


# Table name -> suite factory. The flow gates every table listed here after writing it.
SUITES: dict[str, Callable[[], gx.ExpectationSuite]] = {
    catalog.SILVER_EVENTS.name: silver_events_v1,
    catalog.PIN_STATS.name: pin_stats_v1,
    catalog.USER_STATS.name: user_stats_v1,
}
