"""Run the table suites over Polars frames and split each frame into good and quarantined rows.

GE reports the row numbers of every failing row (``validation.engine``: how the suites run,
and why they run that way); each Polars frame is split on them. Quarantined parents take
their children along. Every input row ends up in exactly one of the two outputs; an
expectation GE could not evaluate raises ``ExpectationNotEvaluated`` rather than passing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from transforms.schemas import KEYS, SCHEMAS, TABLE_ORDER
from validation import engine
from validation.engine import ROW, ExpectationNotEvaluated
from validation.engine import runtime as _runtime  # the benchmark warms GE up through this name
from validation.suites import suite_parameters

__all__ = ["ExpectationNotEvaluated", "ValidationResult", "validate_batch", "validate_table"]

log = logging.getLogger(__name__)

REASON = "failed_expectations"
SEPARATOR = "; "
# Fact and child tables, and the tables whose quarantined rows take theirs along.
PARENTS: dict[str, tuple[str, ...]] = {
    "content": ("channel",),
    "channel_metrics_daily": ("channel",),
    "content_metrics_daily": ("content",),
}


@dataclass(frozen=True)
class ValidationResult:
    """One table's rows, split by the table's suite."""

    table: str
    good: pl.DataFrame
    quarantined: pl.DataFrame
    failures: dict[str, int]
    rows_in: int


def validate_table(table: str, frame: pl.DataFrame, now: datetime) -> ValidationResult:
    """Validate one table's frame against its suite at time ``now``."""
    _check_frame(table, frame)
    failed = _failed_rows({table: frame}, now)[table]
    return _split(table, frame, *_summarise(frame, failed))


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
    ordered = {table: frames[table] for table in TABLE_ORDER if table in frames}
    for table, frame in ordered.items():
        _check_frame(table, frame)
    failed = _failed_rows(ordered, now, per_run)
    evaluated: dict[str, tuple[pl.Series, dict[str, int]]] = {}
    for table, frame in ordered.items():
        reasons, failures = _summarise(frame, failed[table])
        for parent in PARENTS.get(table, ()):
            if parent in evaluated:
                parent_rows = ordered[parent].filter(evaluated[parent][0].is_not_null())
                keys = [*KEYS[parent], *(["run_id"] if per_run else [])]
                reasons, failures = _cascade(frame, reasons, failures, parent, parent_rows, keys)
        evaluated[table] = (reasons, failures)
    return {table: _split(table, ordered[table], *evaluated[table]) for table in evaluated}


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
    frames: Mapping[str, pl.DataFrame], now: datetime, per_run: bool = False
) -> dict[str, list[tuple[str, list[int]]]]:
    """Per table, the failing row numbers per expectation label, in suite order."""
    params = suite_parameters(now)
    present = {table: frame for table, frame in frames.items() if frame.height}
    composition = tuple((table, _platforms(frame)) for table, frame in present.items())
    checks = engine.plan(composition, per_run)
    found: dict[str, dict[str, list[int]]] = {table: {} for table in present}
    if checks.shared is not None:
        data = engine.stacked_frame(present, checks.shared)
        shared = engine.failing_rows(checks.shared, data, params)
        found = engine.unstack(shared, {table: frame.height for table, frame in present.items()})
    for table, frame in present.items():
        own = checks.own[table]
        found[table].update(engine.failing_rows(own, engine.table_frame(table, frame, own), params))
    labels = _runtime().labels
    return {table: [(name, found.get(table, {}).get(name, [])) for name in labels[table]] for table in frames}


def _platforms(frame: pl.DataFrame) -> frozenset[str]:
    """The platforms a frame's rows are of."""
    return frozenset(str(p) for p in frame["platform"].drop_nulls().unique())


def _summarise(frame: pl.DataFrame, failed: list[tuple[str, list[int]]]) -> tuple[pl.Series, dict[str, int]]:
    """Per-row failure reasons (null for a good row) and failing-row counts per expectation."""
    failures = {name: len(rows) for name, rows in failed if rows}
    return _reasons(frame.height, failed), failures


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
    if reasons.null_count() == frame.height:  # every row passed: the frame itself, not a copy
        good, quarantined = frame, marked.clear()
    else:
        failed = pl.col(REASON).is_not_null()
        good, quarantined = marked.filter(~failed).drop(REASON), marked.filter(failed)
    result = ValidationResult(
        table=table, good=good, quarantined=quarantined, failures=failures, rows_in=frame.height
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
