"""How the suites run in Great Expectations: the checks a batch needs, its frames, two passes.

GE's cost is almost all fixed: per expectation evaluated (building its metric graph, which
serialises the expectation's arguments over and over) and per frame handed to it (GE
fingerprints every batch, strings dearest). So a batch's checks are planned once per batch
composition (``plan``):

- a platform's row-conditioned rules are left out when the batch has no row of that
  platform (they could only pass);
- a row-local expectation that every table of the batch carries with the same arguments
  (the provenance and platform checks) runs once over the tables' rows stacked
  (``Plan.shared``), the rest once per table;
- an in-set check is handed, as a suite parameter, only the part of its set that occurs in
  the column, and a column only not-null checks read reaches GE as its nullness.

Each frame is then validated in two passes over one loaded GE batch (``failing_rows``): pass
or fail for every expectation (``BOOLEAN_ONLY``: GE still counts the unexpected values to
decide, it only leaves out the lists), then ``COMPLETE`` with ``unexpected_index_column_names``
for the ones that failed, which names every failing row. Each of these changes what GE is
handed, never which rows fail; an expectation GE could not evaluate raises
``ExpectationNotEvaluated``.
"""

from __future__ import annotations

import copy
import functools
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
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
from great_expectations.execution_engine import pandas_execution_engine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.validator.v1_validator import Validator as SuiteValidator

from transforms.schemas import KEYS, SCHEMAS
from validation.gecache import cached_configurations
from validation.suites import DERIVED, build_suites, expectation_label, label

ROW = "__validation_row"
RUN_KEY = "__run_key"  # the table's key scoped to its run, for the uniqueness check (per_run)
SHARED = "__shared"  # the GE asset of the stacked frame
SOURCE = "socmed"  # the GE datasource of every asset
_NS_RANGE = (datetime(1678, 1, 1), datetime(2261, 12, 31))
_PLATFORM_CONDITION = re.compile(r'platform\s*==\s*["\']([^"\']+)["\']')
_PASS_FAIL = {"result_format": "BOOLEAN_ONLY"}
_NOT_NULL = "expect_column_values_to_not_be_null"
_FAILING_ROWS = {"result_format": "COMPLETE", "unexpected_index_column_names": [ROW]}
Composition = tuple[tuple[str, frozenset[str]], ...]  # (table, platforms in its rows), in order


class ExpectationNotEvaluated(RuntimeError):
    """GE raised while evaluating an expectation, or did not say which rows failed."""


@dataclass(frozen=True)
class Runtime:
    """The process-wide GE context objects: built once, used for every batch."""

    context: Any
    suites: dict[str, gx.ExpectationSuite]
    batches: dict[str, BatchDefinition]
    labels: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Checks:
    """Expectations for one GE frame: the suite GE runs, and the suite label of each of its labels."""

    asset: str
    suite: gx.ExpectationSuite
    labels: dict[str, str]
    columns: tuple[str, ...]
    presence: tuple[str, ...]  # columns only not-null checks read: GE needs their nullness only
    value_sets: dict[str, tuple[str, tuple[str, ...]]]  # suite parameter: (column, set of values)


@dataclass(frozen=True)
class Plan:
    """A batch's checks: the ones every table shares (on the stacked frame), and each table's own."""

    shared: Checks | None
    own: dict[str, Checks]


_RUNTIME_LOCK = threading.Lock()
# GE's engine keeps the batch being validated as process-wide state: one validation at a time.
_VALIDATING = threading.Lock()


def runtime() -> Runtime:
    """The cached runtime, built on first use."""
    with _RUNTIME_LOCK:
        return _build_runtime()


@functools.cache
def _build_runtime() -> Runtime:
    """An in-memory GE context holding one dataframe asset and one suite per table."""
    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    _skip_batch_fingerprints()
    source = context.data_sources.add_pandas(SOURCE)
    suites = {table: context.suites.add(suite) for table, suite in build_suites().items()}
    batches = {
        asset: source.add_dataframe_asset(asset).add_batch_definition_whole_dataframe("whole")
        for asset in (*suites, SHARED)
    }
    labels = {
        table: tuple(expectation_label(e) for e in suite.expectations) for table, suite in suites.items()
    }
    return Runtime(context=context, suites=suites, batches=batches, labels=labels)


def _skip_batch_fingerprints() -> None:
    """Stop GE hashing every value of each frame it loads, for a batch marker nothing reads.

    GE's pandas engine fingerprints a loaded frame smaller than ``HASH_THRESHOLD`` bytes
    (pandas' hash of every value, then MD5) into the batch's markers, which only end up in a
    validation result's metadata: a quarter of a batch's validation time at 200k rows, strings
    dearest. A threshold of 0 bytes leaves it out; the rows GE checks are the same. (It is the
    process's GE setting, like the engine's caches ``_forget_batches`` empties.)
    """
    pandas_execution_engine.HASH_THRESHOLD = 0  # a GE that renames it: tests/test_validation.py fails


@functools.cache
def plan(composition: Composition, per_run: bool) -> Plan:
    """The checks for a batch of these tables and platforms (cached per composition)."""
    kept = {table: _applicable(table, platforms) for table, platforms in composition}
    shared = _shared_labels(kept) if len(kept) > 1 else frozenset()
    first = next(iter(kept.values()), [])
    common = [e for e in first if expectation_label(e) in shared]
    return Plan(
        shared=_checks(SHARED, common, False) if common else None,
        own={
            t: _checks(t, [e for e in es if expectation_label(e) not in shared], per_run)
            for t, es in kept.items()
        },
    )


def _applicable(table: str, platforms: frozenset[str]) -> list[gx.expectations.Expectation]:
    """The table's expectations without the rules of platforms absent from the batch.

    A rule on ``platform=="x"`` rows has no row to check in a batch without platform x: it
    passes by definition, so GE is not asked (GE filters rows for such a rule once per metric).
    """
    return [e for e in runtime().suites[table].expectations if _rule_platform(e) in (None, *platforms)]


def _rule_platform(expectation: gx.expectations.Expectation) -> str | None:
    """The platform a rule's row condition selects (``platform=="x"``), or None for every row."""
    condition = expectation.configuration.kwargs.get("row_condition")
    if isinstance(condition, Mapping):
        condition = condition.get("pass_through_filter")
    found = _PLATFORM_CONDITION.fullmatch(str(condition or "").strip())
    return found.group(1) if found else None


def _shared_labels(kept: Mapping[str, list[gx.expectations.Expectation]]) -> frozenset[str]:
    """Labels of the row-local expectations every table carries with equal arguments and types.

    A column-map expectation without a row condition and with ``mostly`` 1 decides each row on
    that row alone, so checking the tables' rows stacked fails exactly the rows it would fail
    table by table.
    """
    candidates = [{expectation_label(e): _signature(table, e) for e in es} for table, es in kept.items()]
    first = candidates[0]
    return frozenset(
        name for name, sig in first.items() if sig is not None and all(c.get(name) == sig for c in candidates)
    )


def _signature(table: str, expectation: gx.expectations.Expectation) -> str | None:
    """What must be equal for two tables to share the expectation, or None if it is not row-local."""
    kwargs = expectation.configuration.kwargs
    column = kwargs.get("column")
    if not isinstance(expectation, ColumnMapExpectation) or not isinstance(column, str):
        return None
    if column not in SCHEMAS[table]:  # a derived column: each table derives its own
        return None
    if kwargs.get("row_condition") or expectation.mostly != 1:
        return None
    return repr((sorted(kwargs.items()), SCHEMAS[table][column]))


def _checks(asset: str, expectations: Sequence[gx.expectations.Expectation], per_run: bool) -> Checks:
    """A suite of copies (GE: an expectation belongs to one suite), run-scoped keys if ``per_run``."""
    labels: dict[str, str] = {}
    copies: list[gx.expectations.Expectation] = []
    value_sets: dict[str, tuple[str, tuple[str, ...]]] = {}
    for expectation in expectations:
        kwargs = expectation.configuration.kwargs
        changed: dict[str, Any] = {}
        if per_run and expectation.configuration.type == "expect_compound_columns_to_be_unique":
            key = next(k for k in KEYS[asset] if k != "platform")
            changed["column_list"] = [RUN_KEY if c == key else c for c in kwargs["column_list"]]
        values = kwargs.get("value_set")
        if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
            name = f"value_set_{len(value_sets)}"
            value_sets[name] = (kwargs["column"], tuple(values))
            changed["value_set"] = {"$PARAMETER": name}
        scoped = type(expectation)(**{**kwargs, **changed}) if changed else copy.copy(expectation)
        labels[expectation_label(scoped)] = expectation_label(expectation)
        copies.append(scoped)
    suite = gx.ExpectationSuite(name=f"socmed.{asset}[{len(copies)}]", expectations=copies)
    readers = _readers(copies)
    presence = tuple(column for column, kinds in readers.items() if kinds == {_NOT_NULL})
    return Checks(asset, suite, labels, tuple(readers), presence, value_sets)


def _readers(expectations: Iterable[gx.expectations.Expectation]) -> dict[str, set[str]]:
    """The columns the expectations read (conditions included), in first-use order, and by what."""
    readers: dict[str, set[str]] = {}
    for expectation in expectations:
        config = expectation.configuration
        named = [config.kwargs[k] for k in ("column", "column_A", "column_B") if k in config.kwargs]
        for column in [*named, *config.kwargs.get("column_list", [])]:
            readers.setdefault(column, set()).add(config.type)
        if _rule_platform(expectation):
            readers.setdefault("platform", set()).add("row_condition")
    return readers


def table_frame(table: str, frame: pl.DataFrame, checks: Checks) -> pd.DataFrame:
    """The columns a table's checks read, with the row number and derived columns, for GE."""
    selected = frame.with_row_index(ROW).with_columns(**DERIVED[table])
    if RUN_KEY in checks.columns:
        selected = selected.with_columns(_run_scoped_key(table))
    return _for_ge(selected.select(ROW, *checks.columns), checks.presence)


def stacked_frame(frames: Mapping[str, pl.DataFrame], checks: Checks) -> pd.DataFrame:
    """The tables' rows one after another (in the frames' order), numbered across tables, for GE."""
    stacked = pl.concat([frame.select(checks.columns) for frame in frames.values()])
    return _for_ge(stacked.with_row_index(ROW), checks.presence)


def unstack(rows: Mapping[str, list[int]], heights: Mapping[str, int]) -> dict[str, dict[str, list[int]]]:
    """Row numbers of the stacked frame as each table's own, per label."""
    out: dict[str, dict[str, list[int]]] = {}
    start = 0
    for table, height in heights.items():
        end = start + height
        out[table] = {name: [r - start for r in found if start <= r < end] for name, found in rows.items()}
        start = end
    return out


def _run_scoped_key(table: str) -> pl.Expr:
    """The table's first non-platform key within its run, numbered, as ``RUN_KEY``.

    The same post comes back in every day's run: in a batch of several runs the key is unique
    per run, and GE's compound-unique check sees it that way. One number per distinct
    (run id, key) pair, null where the key is null: the same duplicates as the pairs, and a
    number is much cheaper for GE to fingerprint than a string.
    """
    key = next(k for k in KEYS[table] if k != "platform")
    scoped = pl.struct(pl.col("run_id"), pl.col(key)).rank("dense")
    return pl.when(pl.col(key).is_null()).then(None).otherwise(scoped).alias(RUN_KEY)


def _for_ge(frame: pl.DataFrame, presence: Sequence[str] = ()) -> pd.DataFrame:
    """Numpy-backed pandas, times and dates as naive UTC, ``presence`` columns as their nullness.

    Numpy-backed columns keep GE on its vectorised paths and its batch fingerprint cheap
    (strings are the costly ones to fingerprint: a column only not-null checks read reaches GE
    as 1 or null). Times and dates reach GE as naive UTC (the suites' bounds are naive UTC too:
    pandas deprecates the time-zone-dropping conversion GE makes in pair checks), and integer
    columns with nulls as float64, where NaN is null to GE, so a null metric still passes the
    ">= 0" checks.
    """
    nullness = [
        pl.when(pl.col(c).is_null()).then(None).otherwise(pl.lit(1, pl.UInt8)).alias(c) for c in presence
    ]
    return _naive_times(frame.with_columns(nullness)).to_pandas()


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


def failing_rows(checks: Checks, data: pd.DataFrame, params: dict[str, Any]) -> dict[str, list[int]]:
    """Failing row numbers per suite label, for every expectation of ``checks`` (two passes).

    GE builds each expectation's configuration once per evaluation, not on every read
    (``validation.gecache``): half of a batch's validation time went to those rebuilds.
    """
    if not checks.suite.expectations:
        return {}
    with _VALIDATING, cached_configurations():
        try:
            return _failing_rows(checks, data, params)
        finally:
            _forget_batches()


def _forget_batches() -> None:
    """Drop what GE's engine keeps of the frames it validated: their batches and metric values.

    GE's execution engine is the process's (one per datasource) and never empties its metric
    cache, keyed by batch: each frame left its row masks there, and a 2M-row replay grew by
    0.3 MB a batch until the end. Its batch manager also held the last frame of every asset
    while the next batch was prepared. Every frame is a new batch, so nothing cached is ever
    used again once its two passes are done.
    """
    engine = runtime().context.data_sources.get(SOURCE).get_execution_engine()
    engine.batch_manager.batch_data_cache.clear()
    engine.batch_manager.reset_batch_cache()
    engine._metric_cache.clear()  # GE has no public call for it


def _failing_rows(checks: Checks, data: pd.DataFrame, params: dict[str, Any]) -> dict[str, list[int]]:
    """``failing_rows`` itself."""
    params = {**params, **_value_sets(checks, data)}
    validator = SuiteValidator(
        runtime().batches[checks.asset], result_format=_PASS_FAIL, batch_parameters={"dataframe": data}
    )
    failing = _failing(checks.asset, validator.validate_expectation_suite(checks.suite, params), checks.suite)
    rows: dict[str, list[int]] = {}
    if failing:
        validator.result_format = _FAILING_ROWS  # the same loaded batch, asked again
        retry = gx.ExpectationSuite(name=f"{checks.suite.name}[failing]", expectations=failing)
        rows = _rows_by_label(validator.validate_expectation_suite(retry, params))
        if set(rows) != {expectation_label(e) for e in failing}:
            raise ExpectationNotEvaluated(
                f"{checks.asset}: GE answered for {sorted(rows)} on the second pass"
            )
    return {checks.labels[name]: rows.get(name, []) for name in checks.labels}


def _value_sets(checks: Checks, data: pd.DataFrame) -> dict[str, list[str]]:
    """Each in-set check's values that occur in the frame (or its first value, if none does).

    Every value of the column is in the set exactly when it is in the set's part that occurs
    in the column: the same rows fail, and GE, which serialises an expectation's arguments
    many times over while it plans, is not handed all 600 time zones.
    """
    out = {}
    for name, (column, values) in checks.value_sets.items():
        present = set(data[column].dropna().unique())
        out[name] = [v for v in values if v in present] or list(values[:1])
    return out


def _failing(
    asset: str, outcome: ExpectationSuiteValidationResult, suite: gx.ExpectationSuite
) -> list[gx.expectations.Expectation]:
    """Copies of the suite's expectations that failed the first pass; raises if one was not evaluated."""
    passed = {}
    for result in outcome.results:
        config = result.expectation_config
        if config is None:
            raise ExpectationNotEvaluated(f"{asset}: result without its expectation: {result}")
        name = label(config.type, config.kwargs)
        if _raised(result.exception_info) or not isinstance(result.success, bool):
            raise ExpectationNotEvaluated(f"{asset}: {name}: {result.exception_info}")
        passed[name] = result.success
    if set(passed) != {expectation_label(e) for e in suite.expectations}:
        raise ExpectationNotEvaluated(f"{asset}: GE answered for {sorted(passed)}")
    return [copy.copy(e) for e in suite.expectations if not passed[expectation_label(e)]]


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
