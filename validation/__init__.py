"""Data-quality gate: Great Expectations suites per table, and good/quarantine splits."""

import socmed  # noqa: F401  first: it tunes the memory allocators before Polars loads
import validation.deferred  # noqa: F401  before GE is imported: see its docstring
from validation.suites import build_suite, build_suites, suite_name
from validation.validate import (
    ExpectationNotEvaluated,
    ValidationResult,
    ValidationThresholdExceeded,
    check_threshold,
    validate_batch,
    validate_table,
)

__all__ = [
    "ExpectationNotEvaluated",
    "ValidationResult",
    "ValidationThresholdExceeded",
    "build_suite",
    "build_suites",
    "check_threshold",
    "suite_name",
    "validate_batch",
    "validate_table",
]
