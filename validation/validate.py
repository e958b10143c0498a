"""Run the table suites over Polars frames and split each frame into good and quarantined rows.

A frame goes to GE as numpy-backed pandas (see ``_to_pandas``) plus a temporary row number.
GE evaluates the whole suite once for pass or fail (result format ``BOOLEAN_ONLY``), then
only the expectations that failed once more to report the row numbers of every failing row
(``COMPLETE`` with ``unexpected_index_column_names``), on the same loaded batch; the Polars
frame is split on them. Every input row ends up in exactly one of the two outputs; an
expectation GE could not evaluate raises ``ExpectationNotEvaluated`` rather than passing.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import great_expectations as gx
import pandas as pd
import polars as pl
import polars.selectors as cs
from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
from great_expectations.core.batch_definition import BatchDefinition
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.validator.v1_validator import Validator as SuiteValidator

from transforms.schemas import KEYS, SCHEMAS, TABLE_ORDER
from validation.suites import DERIVED, build_suites, expectation_label, label, suite_parameters

log = logging.getLogger(__name__)

ROW = "__validation_row"
_NS_RANGE = (datetime(1678, 1, 1), datetime(2261, 12, 31))
_PLATFORM_CONDITION = re.compile(r'platform\s*==\s*["\']([^"\']+)["\']')
REASON = "failed_expectations"
SEPARATOR = "; "
# Fact and child tables, and the tables whose quarantined rows take theirs along.
PARENTS: dict[str, tuple[str, ...]] = {
    "content": ("channel",),
    "channel_metrics_daily": ("channel",),
    "content_metrics_daily": ("content",),
}
_CHEAP_FORMAT = {"result_format": "BOOLEAN_ONLY"}
_RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": [ROW]}


@dataclass(frozen=True)
class ValidationResult:
    """One table's rows, split by the table's suite."""

    table: str
    good: pl.DataFrame
    quarantined: pl.DataFrame
    failures: dict[str, int]
    rows_in: int


class ExpectationNotEvaluated(RuntimeError):
    """GE raised while evaluating an expectation, or did not say which rows failed."""


@dataclass(frozen=True)
class _Runtime:
    """The process-wide GE context objects: built once, used for every batch."""

    context: Any
    suites: dict[str, gx.ExpectationSuite]
    batches: dict[str, BatchDefinition]
    labels: dict[str, tuple[str, ...]]


_RUNTIME_LOCK = threading.Lock()


def _runtime() -> _Runtime:
    """The cached runtime, built on first use."""
    with _RUNTIME_LOCK:
        return _build_runtime()


@functools.cache
def _build_runtime() -> _Runtime:
    """An in-memory GE context holding one dataframe asset and one suite per table."""
    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    source = context.data_sources.add_pandas("socmed")
    suites = {table: context.suites.add(suite) for table, suite in build_suites().items()}
    batches = {
        table: source.add_dataframe_asset(table).add_batch_definition_whole_dataframe("whole")
        for table in suites
    }
    labels = {
        table: tuple(expectation_label(e) for e in suite.expectations) for table, suite in suites.items()
    }
    return _Runtime(context=context, suites=suites, batches=batches, labels=labels)


def validate_table(table: str, frame: pl.DataFrame, now: datetime) -> ValidationResult:
    """Validate one table's frame against its suite at time ``now``."""
    reasons, failures = _evaluate(table, frame, now)
    return _split(table, frame, reasons, failures)


def validate_batch(
    frames: Mapping[str, pl.DataFrame], now: datetime, per_run: bool = False
) -> dict[str, ValidationResult]:
    """Validate every table, then quarantine rows whose parent was quarantined in this batch.

    ``per_run``: the frames hold several runs' rows (a reprocessing batch); keys must be unique
    and quarantined parents take their children along within each run, as if each run were
    validated alone.
    """
    unknown = sorted(set(frames) - set(TABLE_ORDER))
    if unknown:
        raise ValueError(f"unknown tables: {unknown}")
    evaluated: dict[str, tuple[pl.Series, dict[str, int]]] = {}
    for table in (t for t in TABLE_ORDER if t in frames):
        reasons, failures = _evaluate(table, frames[table], now, per_run)
        for parent in PARENTS.get(table, ()):
            if parent in evaluated:
                parent_rows = frames[parent].filter(evaluated[parent][0].is_not_null())
                keys = [*KEYS[parent], *(["run_id"] if per_run else [])]
                reasons, failures = _cascade(frames[table], reasons, failures, parent, parent_rows, keys)
        evaluated[table] = (reasons, failures)
    return {table: _split(table, frames[table], *evaluated[table]) for table in evaluated}


def _evaluate(
    table: str, frame: pl.DataFrame, now: datetime, per_run: bool = False
) -> tuple[pl.Series, dict[str, int]]:
    """Per-row failure reasons (null for a good row) and failing-row counts per expectation."""
    _check_frame(table, frame)
    params = suite_parameters(now)
    if frame.height == 0:
        return pl.Series(REASON, [], dtype=pl.Utf8), {}
    failed = _failed_rows(table, frame, params, per_run)
    failures = {name: len(rows) for name, rows in failed if rows}
    return _reasons(frame.height, failed), failures


def _check_frame(table: str, frame: pl.DataFrame) -> None:
    """Raise ValueError unless the frame carries the table's columns with their exact types."""
    if table not in SCHEMAS:
        raise ValueError(f"unknown table {table!r}")
    wrong = [
        f"{name}: {frame.schema.get(name)} (want {dtype})"
        for name, dtype in SCHEMAS[table].items()
        if frame.schema.get(name) != dtype
    ]
    clashes = [name for name in (ROW, REASON) if name in frame.columns]
    if wrong or clashes:
        raise ValueError(f"{table}: columns do not match the schema: {wrong + clashes}")


def _failed_rows(
    table: str, frame: pl.DataFrame, params: dict[str, Any], per_run: bool = False
) -> list[tuple[str, list[int]]]:
    """Run the table's suite; the failing row numbers per expectation label, in suite order.

    Two passes over one GE batch: every expectation with ``BOOLEAN_ONLY`` (GE still counts the
    unexpected values to decide success, it only leaves out the lists), then only the ones
    that failed with ``COMPLETE``, which names their failing rows. A clean batch, the usual
    case, never pays for the row lists.
    """
    runtime = _runtime()
    platforms = frozenset(str(p) for p in frame["platform"].drop_nulls().unique())
    suite = _suite_for(table, platforms)
    data = _to_pandas(table, frame, _suite_columns(suite), per_run)
    validator = SuiteValidator(
        runtime.batches[table], result_format=_CHEAP_FORMAT, batch_parameters={"dataframe": data}
    )
    failing = _failing(table, validator.validate_expectation_suite(suite, params), suite)
    rows: dict[str, list[int]] = {}
    if failing:
        validator.result_format = _RESULT_FORMAT  # the same loaded batch, asked again
        retry = gx.ExpectationSuite(name=f"{suite.name}[failing]", expectations=failing)
        rows = _rows_by_label(validator.validate_expectation_suite(retry, params))
        if set(rows) != {expectation_label(e) for e in failing}:
            raise ExpectationNotEvaluated(f"{table}: GE answered for {sorted(rows)} on the second pass")
    return [(name, rows.get(name, [])) for name in runtime.labels[table]]


def _failing(
    table: str, outcome: ExpectationSuiteValidationResult, suite: gx.ExpectationSuite
) -> list[gx.expectations.Expectation]:
    """Copies of the suite's expectations that failed the first pass; raises if one was not evaluated."""
    passed = {}
    for result in outcome.results:
        config = result.expectation_config
        if config is None:
            raise ExpectationNotEvaluated(f"{table}: result without its expectation: {result}")
        name = label(config.type, config.kwargs)
        if _raised(result.exception_info) or not isinstance(result.success, bool):
            raise ExpectationNotEvaluated(f"{table}: {name}: {result.exception_info}")
        passed[name] = result.success
    if set(passed) != {expectation_label(e) for e in suite.expectations}:
        raise ExpectationNotEvaluated(f"{table}: GE answered for {sorted(passed)}")
    # GE: an expectation belongs to one suite
    return [copy.copy(e) for e in suite.expectations if not passed[expectation_label(e)]]


@functools.cache
def _suite_for(table: str, platforms: frozenset[str]) -> gx.ExpectationSuite:
    """The table's suite without the rules of platforms absent from the batch (cached per set).

    A rule on ``platform=="x"`` rows has no row to check in a batch without platform x: it
    passes by definition, so GE is not asked (GE filters rows for such a rule once per metric,
    which dominated validation time). Every row still meets every expectation that applies.
    """
    runtime = _runtime()
    full = runtime.suites[table]
    kept = [e for e in full.expectations if _rule_platform(e) in (None, *platforms)]
    if len(kept) == len(full.expectations):
        return full
    name = f"{full.name}[{','.join(sorted(platforms))}]"
    copies = [copy.copy(e) for e in kept]  # GE: an expectation belongs to one suite
    return runtime.context.suites.add(gx.ExpectationSuite(name=name, expectations=copies))


def _rule_platform(expectation: gx.expectations.Expectation) -> str | None:
    """The platform a rule's row condition selects (``platform=="x"``), or None for every row."""
    condition = expectation.configuration.kwargs.get("row_condition")
    if isinstance(condition, Mapping):
        condition = condition.get("pass_through_filter")
    found = _PLATFORM_CONDITION.fullmatch(str(condition or "").strip())
    return found.group(1) if found else None


def _suite_columns(suite: gx.ExpectationSuite) -> list[str]:
    """The columns the suite reads, in first-use order."""
    columns: dict[str, None] = {}
    for expectation in suite.expectations:
        kwargs = expectation.configuration.kwargs
        named = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
        columns.update(dict.fromkeys([*named, *kwargs.get("column_list", [])]))
    return list(columns)


def _to_pandas(
    table: str, frame: pl.DataFrame, columns: Sequence[str], per_run: bool = False
) -> pd.DataFrame:
    """The columns GE needs, with the row number and derived columns, as numpy-backed pandas.

    Numpy-backed columns keep GE on its vectorised paths and its batch fingerprint cheap
    (pyarrow-backed ones are compared and hashed value by value). Times and dates reach GE as
    naive UTC (the suites' bounds are naive UTC too: pandas deprecates the time-zone-dropping
    conversion GE makes in pair checks), and integer columns with nulls as float64, where NaN
    is null to GE, so a null metric still passes the ">= 0" checks. ``per_run``: see
    ``_run_scoped_key``.
    """
    selected = frame.with_row_index(ROW).with_columns(**DERIVED[table])
    if per_run:
        selected = selected.with_columns(_run_scoped_key(table))
    return _naive_times(selected.select(ROW, *columns)).to_pandas()


def _run_scoped_key(table: str) -> pl.Expr:
    """The table's first non-platform key prefixed with the run id, for GE's eyes only.

    The same post comes back in every day's run: in a batch of several runs the key is unique
    per run, and GE's compound-unique check sees it that way. Null stays null, so the not-null
    checks are unchanged; no other expectation reads the key.
    """
    key = next(k for k in KEYS[table] if k != "platform")
    scoped = pl.concat_str(pl.col("run_id").fill_null(""), pl.col(key), separator="\x1f")
    return pl.when(pl.col(key).is_null()).then(None).otherwise(scoped).alias(key)


def _naive_times(frame: pl.DataFrame) -> pl.DataFrame:
    """Datetimes as naive UTC and dates as naive midnights; nanoseconds wherever they fit.

    GE compares datetime64[ns] columns vectorised and anything else value by value: a column
    holding a value outside the nanosecond range (years 1678-2261) keeps microseconds.
    """
    naive = frame.with_columns(
        cs.datetime().dt.convert_time_zone("UTC").dt.replace_time_zone(None),
        cs.date().cast(pl.Datetime("us")),
    )
    fits = naive.select(cs.datetime().is_between(*_NS_RANGE).or_(cs.datetime().is_null()).all())
    return naive.with_columns(pl.col(name).dt.cast_time_unit("ns") for name in fits.columns if fits[name][0])


def _rows_by_label(outcome: ExpectationSuiteValidationResult) -> dict[str, list[int]]:
    """Failing row numbers per expectation label."""
    return dict(_result_rows(result) for result in outcome.results)


def _result_rows(result: ExpectationValidationResult) -> tuple[str, list[int]]:
    """One expectation's label and failing row numbers; raises if GE could not evaluate it."""
    config = result.expectation_config
    if config is None:
        raise ExpectationNotEvaluated(f"result without its expectation: {result}")
    name = label(config.type, config.kwargs)
    if _raised(result.exception_info):
        raise ExpectationNotEvaluated(f"{name}: {result.exception_info}")
    found = [int(item[ROW]) for item in result.result.get("unexpected_index_list") or []]
    if len(found) != result.result.get("unexpected_count", 0) or result.success != (not found):
        raise ExpectationNotEvaluated(f"{name}: failing rows not reported: {result.result}")
    return name, found


def _raised(exception_info: Mapping[str, Any]) -> bool:
    """Whether GE's exception_info (flat, or keyed by metric) records an exception."""
    if "raised_exception" in exception_info:
        return bool(exception_info["raised_exception"])
    return any(info.get("raised_exception") for info in exception_info.values())


def _reasons(height: int, failed: list[tuple[str, list[int]]]) -> pl.Series:
    """A Utf8 series aligned with the frame: the row's failing labels joined, or null."""
    reasons = pl.Series(REASON, [None] * height, dtype=pl.Utf8)
    pairs = pl.DataFrame(
        {
            "row": [row for _, rows in failed for row in rows],
            "label": [name for name, rows in failed for _ in rows],
        },
        schema={"row": pl.Int64, "label": pl.Utf8},
    )
    joined = pairs.group_by("row", maintain_order=True).agg(pl.col("label").str.join(SEPARATOR))
    return reasons.scatter(joined["row"], joined["label"])


def _cascade(
    child: pl.DataFrame,
    reasons: pl.Series,
    failures: dict[str, int],
    parent: str,
    quarantined_parents: pl.DataFrame,
    keys: list[str],
) -> tuple[pl.Series, dict[str, int]]:
    """Add "parent <table> quarantined" to child rows whose parent key was quarantined."""
    bad_keys = quarantined_parents.drop_nulls(keys).select(pl.struct(keys)).to_series().implode()
    hit = child.select(pl.struct(keys).is_in(bad_keys)).to_series()
    count = int(hit.sum())
    if count == 0:
        return reasons, failures
    reason = f"parent {parent} quarantined"
    both = pl.concat_str([pl.col(REASON), pl.lit(reason)], separator=SEPARATOR, ignore_nulls=True)
    marked = pl.DataFrame([reasons, hit.alias("hit")]).select(
        pl.when("hit").then(both).otherwise(pl.col(REASON)).alias(REASON)
    )
    return marked.to_series(), {**failures, reason: count}


def _split(table: str, frame: pl.DataFrame, reasons: pl.Series, failures: dict[str, int]) -> ValidationResult:
    """Split the frame on the reasons series; input order is kept in both parts."""
    marked = frame.with_columns(reasons.alias(REASON))
    failed = pl.col(REASON).is_not_null()
    result = ValidationResult(
        table=table,
        good=marked.filter(~failed).drop(REASON),
        quarantined=marked.filter(failed),
        failures=failures,
        rows_in=frame.height,
    )
    if failures:
        log.warning(
            "%s: quarantined %d of %d rows: %s", table, result.quarantined.height, frame.height, failures
        )
    return result


class ValidationThresholdExceeded(Exception):
    """Too large a share of a batch was quarantined to load the rest with confidence."""

    def __init__(self, results: Mapping[str, ValidationResult], share: float, threshold: float):
        self.share = share
        self.threshold = threshold
        self.tables = {t: r.quarantined.height for t, r in results.items() if r.quarantined.height}
        tables = ", ".join(f"{t} {results[t].quarantined.height}/{results[t].rows_in}" for t in self.tables)
        top = ", ".join(f"{t}: {name} ({n})" for t, name, n in _top_failures(results))
        super().__init__(
            f"validation quarantined {share:.1%} of the batch, above the {threshold:.1%} "
            f"threshold; tables: {tables}; top failing expectations: {top}"
        )


def check_threshold(results: Mapping[str, ValidationResult], max_failure_share: float) -> None:
    """Raise ValidationThresholdExceeded if quarantined / rows_in over the batch is above the share."""
    if not 0.0 <= max_failure_share <= 1.0:
        raise ValueError(f"max_failure_share must be within [0, 1], got {max_failure_share}")
    rows_in = sum(r.rows_in for r in results.values())
    quarantined = sum(r.quarantined.height for r in results.values())
    share = quarantined / rows_in if rows_in else 0.0
    if share > max_failure_share:
        raise ValidationThresholdExceeded(results, share, max_failure_share)


def _top_failures(results: Mapping[str, ValidationResult], limit: int = 5) -> list[tuple[str, str, int]]:
    """The most frequent failures across tables: (table, label, rows), largest first."""
    found = [(t, name, n) for t, r in results.items() for name, n in r.failures.items()]
    return sorted(found, key=lambda item: -item[2])[:limit]
