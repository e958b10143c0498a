"""One Great Expectations suite per warehouse table, built in code.

Two kinds of value are not known when a suite is built, so the suites refer to them
indirectly:

- the validation clock: ``fetched_at`` may not be later than ``now`` plus a little clock
  skew. The bound is the suite parameter ``MAX_FETCHED_AT``, filled by ``suite_parameters``.
- a bound shifted from another column of the same row ("published_at not after
  fetched_at + 1 day"): GE compares two columns but cannot shift one, so the validator adds
  the shifted column (``DERIVED``) before handing the frame to GE, and the suite compares
  the pair.

Nulls pass every check except the explicit not-null ones: a metric a platform does not
report is null, and a URL or time zone may be unknown.
"""

from __future__ import annotations

import warnings
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from transforms.schemas import KEYS, KNOWN_PLATFORMS, METRIC_COLUMNS, SCHEMAS
from validation.platform_rules import platform_expectations

with warnings.catch_warnings():
    # GE 1.24 imports the stdlib's deprecated sre_constants; under -W error that is fatal.
    warnings.simplefilter("ignore", DeprecationWarning)
    import great_expectations as gx
    import great_expectations.expectations as gxe

SUITE_PREFIX = "socmed."
EARLIEST = datetime(2004, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(minutes=10)
MAX_FETCHED_AT = "max_fetched_at"
URL_PATTERN = r"^https?://"
CONTENT_TYPES: frozenset[str] = frozenset(
    {"post", "reel", "video", "short", "story", "article", "carousel", "ad", "live", "other"}
)
PROVENANCE_NOT_NULL: tuple[str, ...] = ("fetched_at", "run_id", "raw_file")

# Shifted copies of fetched_at, added to the frame GE sees (see the module docstring).
FETCHED_AT_PLUS_1D = "fetched_at_plus_1d"
FETCHED_DATE_PLUS_1D = "fetched_date_plus_1d"
_FETCHED_DATE_PLUS_1D_EXPR = pl.col("fetched_at").dt.date() + pl.duration(days=1)
DERIVED: dict[str, dict[str, pl.Expr]] = {
    "channel": {},
    "content": {FETCHED_AT_PLUS_1D: pl.col("fetched_at") + pl.duration(days=1)},
    "content_metrics_daily": {FETCHED_DATE_PLUS_1D: _FETCHED_DATE_PLUS_1D_EXPR},
    "channel_metrics_daily": {FETCHED_DATE_PLUS_1D: _FETCHED_DATE_PLUS_1D_EXPR},
}


def suite_name(table: str) -> str:
    """The suite's name for a table, e.g. ``socmed.content``."""
    return SUITE_PREFIX + table


def suite_parameters(now: datetime) -> dict[str, Any]:
    """Run-time suite parameters for a validation at ``now`` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return {MAX_FETCHED_AT: _naive_utc(now + CLOCK_SKEW)}


def _naive_utc(moment: datetime) -> datetime:
    """A bound as GE compares it: naive UTC (the validator hands GE naive UTC times and dates)."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def label(expectation_type: str, kwargs: Mapping[str, Any]) -> str:
    """A readable, per-suite unique name, e.g. ``expect_column_values_to_be_between(likes)``."""
    columns = kwargs.get("column_list") or [
        kwargs[key] for key in ("column", "column_A", "column_B") if key in kwargs
    ]
    condition = kwargs.get("row_condition")  # platform rules: GE keeps {"pass_through_filter": ...}
    if isinstance(condition, Mapping):
        condition = condition.get("pass_through_filter")
    return f"{expectation_type}({', '.join(columns)})" + (f" if {condition}" if condition else "")


def expectation_label(expectation: gxe.Expectation) -> str:
    """The label of an expectation object (see ``label``)."""
    config = expectation.configuration
    return label(config.type, config.kwargs)


def build_suite(table: str) -> gx.ExpectationSuite:
    """The expectation suite for one table."""
    expectations = [*_common(table), *_SPECIFIC[table](), *platform_expectations(table)]
    labels = [expectation_label(e) for e in expectations]
    if len(set(labels)) != len(labels):
        raise RuntimeError(f"{table}: expectation labels are not unique: {labels}")
    return gx.ExpectationSuite(name=suite_name(table), expectations=expectations)


def build_suites() -> dict[str, gx.ExpectationSuite]:
    """One suite per warehouse table, keyed by table name."""
    return {table: build_suite(table) for table in SCHEMAS}


def _common(table: str) -> list[gxe.Expectation]:
    """Keys, platform and provenance checks shared by every table."""
    not_null = dict.fromkeys((*KEYS[table], *PROVENANCE_NOT_NULL))
    return [
        *(gxe.ExpectColumnValuesToNotBeNull(column=column) for column in not_null),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=list(KEYS[table])),
        gxe.ExpectColumnValuesToBeInSet(column="platform", value_set=sorted(KNOWN_PLATFORMS)),
        gxe.ExpectColumnValuesToBeBetween(
            column="fetched_at", min_value=_naive_utc(EARLIEST), max_value={"$PARAMETER": MAX_FETCHED_AT}
        ),
    ]


def _not_after(column: str, bound_column: str) -> gxe.Expectation:
    """``column`` <= ``bound_column``; rows where either is null are left to not-null checks."""
    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=bound_column,
        column_B=column,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


def _url(column: str = "url") -> gxe.Expectation:
    """Null, or an http(s) URL."""
    return gxe.ExpectColumnValuesToMatchRegex(column=column, regex=URL_PATTERN)


def _non_negative(table: str) -> list[gxe.Expectation]:
    """Every metric column >= 0 when present (GE skips nulls in column-map checks)."""
    return [gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0) for column in METRIC_COLUMNS[table]]


def _snapshot_date() -> list[gxe.Expectation]:
    """snapshot_date after 2004 and at most one day after the UTC date it was fetched."""
    return [
        gxe.ExpectColumnValuesToBeBetween(column="snapshot_date", min_value=_naive_utc(EARLIEST)),
        _not_after("snapshot_date", FETCHED_DATE_PLUS_1D),
    ]


def _channel() -> list[gxe.Expectation]:
    """Channel-only checks."""
    zones = sorted(zoneinfo.available_timezones())
    return [gxe.ExpectColumnValuesToBeInSet(column="timezone", value_set=zones), _url()]


def _content() -> list[gxe.Expectation]:
    """Content-only checks."""
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="published_at"),
        gxe.ExpectColumnValuesToBeBetween(column="published_at", min_value=_naive_utc(EARLIEST)),
        _not_after("published_at", FETCHED_AT_PLUS_1D),
        gxe.ExpectColumnValuesToBeInSet(column="content_type", value_set=sorted(CONTENT_TYPES)),
        _url(),
    ]


def _content_metrics_daily() -> list[gxe.Expectation]:
    """Content fact checks."""
    return [*_non_negative("content_metrics_daily"), *_snapshot_date()]


def _channel_metrics_daily() -> list[gxe.Expectation]:
    """Channel fact checks."""
    return [*_non_negative("channel_metrics_daily"), *_snapshot_date()]


_SPECIFIC = {
    "channel": _channel,
    "content": _content,
    "content_metrics_daily": _content_metrics_daily,
    "channel_metrics_daily": _channel_metrics_daily,
}
