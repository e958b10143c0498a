"""The validation gate: each expectation fails on a crafted row, and rows are never lost."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from transforms.schemas import KEYS, METRIC_COLUMNS, SCHEMAS, empty
from validation import (
    ValidationThresholdExceeded,
    build_suites,
    check_threshold,
    validate_batch,
    validate_table,
)
from validation.engine import _result_rows
from validation.validate import REASON, ExpectationNotEvaluated

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
FETCHED = datetime(2025, 6, 1, 11, 0, tzinfo=UTC)
BEFORE_2004 = datetime(2003, 12, 31, 23, 59, tzinfo=UTC)
PROVENANCE = {"fetched_at": FETCHED, "run_id": "run-1", "raw_file": "instagram/2025-06-01/p1.json"}
BASE: dict[str, dict[str, Any]] = {
    "channel": {
        "platform": "instagram",
        "channel_id": "ch1",
        "handle": "acme",
        "display_name": "Acme",
        "url": "https://instagram.com/acme",
        "timezone": "Europe/Berlin",
        **PROVENANCE,
    },
    "content": {
        "platform": "instagram",
        "content_id": "c1",
        "channel_id": "ch1",
        "content_type": "reel",
        "media_type": "VIDEO",
        "published_at": datetime(2025, 5, 30, 9, 0, tzinfo=UTC),
        "title": None,
        "caption": "launch #news",
        "url": "https://instagram.com/p/c1",
        "hashtags": ["news"],
        **PROVENANCE,
    },
    "content_metrics_daily": {
        "platform": "instagram",
        "content_id": "c1",
        "snapshot_date": date(2025, 6, 1),
        "channel_id": "ch1",
        "views": 100,
        "reach": 80,
        "likes": 10,
        "comments": 2,
        "shares": 1,
        "saves": 0,
        **PROVENANCE,
    },
    "channel_metrics_daily": {
        "platform": "instagram",
        "channel_id": "ch1",
        "snapshot_date": date(2025, 6, 1),
        "followers": 1000,
        "following": 10,
        "posts_count": 50,
        "views": 5000,
        "reach": 3000,
        **PROVENANCE,
    },
}
OTHER_KEY: dict[str, dict[str, Any]] = {
    "channel": {"channel_id": "ch2"},
    "content": {"content_id": "c2"},
    "content_metrics_daily": {"content_id": "c2"},
    "channel_metrics_daily": {"channel_id": "ch2"},
}
NOT_NULL = "expect_column_values_to_not_be_null({})"
IN_SET = "expect_column_values_to_be_in_set({})"
BETWEEN = "expect_column_values_to_be_between({})"
REGEX = "expect_column_values_to_match_regex({})"
PAIR = "expect_column_pair_values_a_to_be_greater_than_b({}, {})"
UNIQUE = "expect_compound_columns_to_be_unique({})"


def row(table: str, **overrides: Any) -> dict[str, Any]:
    """A valid row of the table, with overrides."""
    return {**BASE[table], **overrides}


def frame(table: str, *rows: dict[str, Any]) -> pl.DataFrame:
    """A literal frame with the table's schema."""
    return pl.DataFrame(list(rows), schema=SCHEMAS[table])


def with_reasons(data: pl.DataFrame, reasons: list[str]) -> pl.DataFrame:
    """The frame as quarantine holds it."""
    return data.with_columns(pl.Series(REASON, reasons, dtype=pl.Utf8))


def _common_cases() -> list[tuple[str, dict[str, Any], str]]:
    cases = []
    for table in BASE:
        keys = [key for key in KEYS[table] if key != "platform"]
        cases += [
            (table, {"platform": None}, NOT_NULL.format("platform")),
            (table, {"platform": "myspace"}, IN_SET.format("platform")),
            (table, {"fetched_at": None}, NOT_NULL.format("fetched_at")),
            (
                table,
                {"fetched_at": NOW + timedelta(minutes=10, microseconds=1)},
                BETWEEN.format("fetched_at"),
            ),
            (table, {"run_id": None}, NOT_NULL.format("run_id")),
            (table, {"raw_file": None}, NOT_NULL.format("raw_file")),
            *((table, {key: None}, NOT_NULL.format(key)) for key in keys),
        ]
    return cases


SPECIFIC_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("channel", {"fetched_at": BEFORE_2004}, BETWEEN.format("fetched_at")),
    ("channel", {"timezone": "Mars/Olympus_Mons"}, IN_SET.format("timezone")),
    ("channel", {"url": "ftp://instagram.com/acme"}, REGEX.format("url")),
    ("channel", {"url": "instagram.com/acme"}, REGEX.format("url")),
    ("content", {"published_at": None}, NOT_NULL.format("published_at")),
    ("content", {"published_at": BEFORE_2004}, BETWEEN.format("published_at")),
    (
        "content",
        {"published_at": FETCHED + timedelta(days=1, microseconds=1)},
        PAIR.format("fetched_at_plus_1d", "published_at"),
    ),
    ("content", {"content_type": "tweet"}, IN_SET.format("content_type")),
    ("content", {"url": "www.instagram.com/p/c2"}, REGEX.format("url")),
    *(
        (table, {metric: -1}, BETWEEN.format(metric))
        for table in METRIC_COLUMNS
        for metric in METRIC_COLUMNS[table]
    ),
    *(
        (table, {"snapshot_date": date(2025, 6, 3)}, PAIR.format("fetched_date_plus_1d", "snapshot_date"))
        for table in METRIC_COLUMNS
    ),
    *(
        (table, {"snapshot_date": date(2003, 12, 31)}, BETWEEN.format("snapshot_date"))
        for table in METRIC_COLUMNS
    ),
]


@pytest.mark.parametrize(
    ("table", "overrides", "label"),
    _common_cases() + SPECIFIC_CASES,
    ids=lambda value: str(value) if not isinstance(value, dict) else "-".join(map(str, value.items())),
)
def test_each_expectation_quarantines_only_the_bad_row(
    table: str, overrides: dict[str, Any], label: str
) -> None:
    good, bad = row(table), row(table, **{**OTHER_KEY[table], **overrides})

    result = validate_table(table, frame(table, good, bad), NOW)

    assert_frame_equal(result.good, frame(table, good))
    assert_frame_equal(result.quarantined, with_reasons(frame(table, bad), [label]))
    assert result.failures == {label: 1}
    assert result.rows_in == 2


EDGE_ROWS: dict[str, list[dict[str, Any]]] = {
    "channel": [
        row("channel", fetched_at=NOW + timedelta(minutes=10)),
        row(
            "channel", channel_id="ch2", url=None, timezone="UTC", fetched_at=datetime(2004, 1, 1, tzinfo=UTC)
        ),
        row("channel", channel_id="ch3", url="http://example.com", timezone=None, platform="manual"),
    ],
    "content": [
        row("content", published_at=FETCHED + timedelta(days=1)),
        row(
            "content",
            content_id="c2",
            url=None,
            content_type="other",
            published_at=datetime(2004, 1, 1, tzinfo=UTC),
        ),
        row("content", content_id="c3_short_01", platform="youtube", content_type="short", hashtags=[]),
    ],
    "content_metrics_daily": [
        row("content_metrics_daily", **dict.fromkeys(METRIC_COLUMNS["content_metrics_daily"])),
        row("content_metrics_daily", content_id="c2", views=5, reach=9, snapshot_date=date(2025, 6, 2)),
        row("content_metrics_daily", snapshot_date=date(2025, 5, 31), likes=0, views=None),
    ],
    "channel_metrics_daily": [
        row("channel_metrics_daily", **dict.fromkeys(METRIC_COLUMNS["channel_metrics_daily"])),
        row("channel_metrics_daily", channel_id="ch2", views=5, reach=9, snapshot_date=date(2025, 6, 2)),
        row("channel_metrics_daily", snapshot_date=date(2025, 5, 31), followers=0),
    ],
}


@pytest.mark.parametrize("table", list(EDGE_ROWS))
def test_boundaries_null_metrics_and_reach_above_views_pass(table: str) -> None:
    data = frame(table, *EDGE_ROWS[table])

    result = validate_table(table, data, NOW)

    assert_frame_equal(result.good, data)
    assert_frame_equal(result.quarantined, with_reasons(empty(table), []))
    assert result.failures == {}


def test_all_rows_of_a_duplicated_key_are_quarantined() -> None:
    table = "content_metrics_daily"
    first, second, third = (row(table, views=v) for v in (100, 120, 130))
    other_key, other_day = row(table, content_id="c2"), row(table, snapshot_date=date(2025, 5, 31))
    label = UNIQUE.format("platform, content_id, snapshot_date")

    result = validate_table(table, frame(table, first, other_key, second, other_day, third), NOW)

    assert_frame_equal(result.good, frame(table, other_key, other_day))
    assert_frame_equal(result.quarantined, with_reasons(frame(table, first, second, third), [label] * 3))
    assert result.failures == {label: 3}


def test_duplicate_that_also_fails_another_check_lists_both() -> None:
    bad = row("channel", timezone="Nowhere")
    label = UNIQUE.format("platform, channel_id")

    result = validate_table("channel", frame("channel", row("channel"), bad), NOW)

    assert result.good.height == 0
    expected = [label, f"{label}; {IN_SET.format('timezone')}"]
    assert_frame_equal(result.quarantined, with_reasons(frame("channel", row("channel"), bad), expected))
    assert result.failures == {label: 2, IN_SET.format("timezone"): 1}


def _cascade_batch() -> dict[str, pl.DataFrame]:
    ch1, ch2 = row("channel"), row("channel", channel_id="ch2", timezone="Nowhere")
    c1, c2 = row("content"), row("content", content_id="c2", channel_id="ch2")
    c3 = row("content", content_id="c3", channel_id="ch9")  # parent already in the warehouse
    c4 = row("content", content_id="c4", content_type="tweet")
    metric = "content_metrics_daily"
    return {
        "channel": frame("channel", ch1, ch2),
        "content": frame("content", c1, c2, c3, c4),
        metric: frame(
            metric,
            *(row(metric, content_id=c) for c in ("c1", "c2", "c3", "c4", "c5")),
            row(metric, content_id="c2", snapshot_date=date(2025, 5, 31), likes=-1),
        ),
        "channel_metrics_daily": frame(
            "channel_metrics_daily",
            *(row("channel_metrics_daily", channel_id=c) for c in ("ch1", "ch2", "ch9")),
        ),
    }


def test_rows_of_a_quarantined_parent_are_quarantined() -> None:
    batch = _cascade_batch()
    timezone, content_type = IN_SET.format("timezone"), IN_SET.format("content_type")
    channel, content = "parent channel quarantined", "parent content quarantined"

    results = validate_batch(batch, NOW)

    assert list(results) == ["channel", "content", "channel_metrics_daily", "content_metrics_daily"]
    expected = {
        "channel": ([0], [1], [timezone], {timezone: 1}),
        "content": ([0, 2], [1, 3], [channel, content_type], {content_type: 1, channel: 1}),
        "channel_metrics_daily": ([0, 2], [1], [channel], {channel: 1}),
        "content_metrics_daily": (
            [0, 2, 4],
            [1, 3, 5],
            [content, content, f"{BETWEEN.format('likes')}; {content}"],
            {BETWEEN.format("likes"): 1, content: 3},
        ),
    }
    for table, (good, bad, reasons, failures) in expected.items():
        result = results[table]
        assert_frame_equal(result.good, batch[table][good])
        assert_frame_equal(result.quarantined, with_reasons(batch[table][bad], reasons))
        assert (result.failures, result.rows_in) == (failures, batch[table].height)


def test_batch_without_parents_and_single_table_equals_validate_table() -> None:
    batch = _cascade_batch()
    metric = "content_metrics_daily"

    results = validate_batch({metric: batch[metric]}, NOW)

    assert list(results) == [metric]
    assert_frame_equal(results[metric].quarantined, validate_table(metric, batch[metric], NOW).quarantined)
    assert results[metric].quarantined.height == 1


def test_rows_are_conserved_across_good_and_quarantine() -> None:
    table = "content_metrics_daily"
    rows = [
        row(table, content_id=f"c{i}", likes=(i % 5) - 2, views=None if i % 3 else i, platform=p,
            reach=None, saves=None)  # metrics TikTok never reports (its platform rules)
        for i, p in enumerate(["instagram", "tiktok", "nope", None, "manual"] * 4)
    ]
    data = frame(table, *rows, rows[0], rows[0], row(table, content_id=None))

    result = validate_table(table, data, NOW)

    assert result.good.height + result.quarantined.height == result.rows_in == data.height == 23
    rejoined = pl.concat([result.good, result.quarantined.drop(REASON)])
    order = list(SCHEMAS[table])
    assert_frame_equal(rejoined.sort(order, nulls_last=True), data.sort(order, nulls_last=True))
    assert result.quarantined.height == 19
    assert result.failures == {
        NOT_NULL.format("platform"): 4,
        NOT_NULL.format("content_id"): 1,
        UNIQUE.format("platform, content_id, snapshot_date"): 3,
        IN_SET.format("platform"): 4,
        BETWEEN.format("likes"): 10,
    }


@pytest.mark.parametrize("table", list(SCHEMAS))
def test_empty_frame_validates_to_empty_results(table: str) -> None:
    result = validate_table(table, empty(table), NOW)

    assert_frame_equal(result.good, empty(table))
    assert_frame_equal(result.quarantined, with_reasons(empty(table), []))
    assert (result.failures, result.rows_in) == ({}, 0)


def test_frame_off_the_schema_or_naive_clock_is_refused() -> None:
    data = frame("channel", row("channel"))

    with pytest.raises(ValueError, match=r"channel: columns do not match the schema: \['timezone"):
        validate_table("channel", data.drop("timezone"), NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        validate_table("channel", data, NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="unknown tables"):
        validate_batch({"posts": data}, NOW)


def _quarter_bad_batch() -> dict[str, pl.DataFrame]:
    return {
        "channel": frame("channel", row("channel"), row("channel", channel_id="ch2", timezone="Nowhere")),
        "content": frame("content", row("content"), row("content", content_id="c2")),
    }


def test_threshold_passes_at_or_below_the_share() -> None:
    results = validate_batch(_quarter_bad_batch(), NOW)

    check_threshold(results, 0.25)
    check_threshold(results, 1.0)
    check_threshold({}, 0.0)


def test_threshold_raises_above_the_share_naming_tables_and_expectations() -> None:
    results = validate_batch(_quarter_bad_batch(), NOW)

    with pytest.raises(ValidationThresholdExceeded) as raised:
        check_threshold(results, 0.2)

    assert str(raised.value) == (
        "validation quarantined 25.0% of the batch, above the 20.0% threshold; "
        "tables: channel 1/2; top failing expectations: "
        "channel: expect_column_values_to_be_in_set(timezone) (1)"
    )
    assert (raised.value.share, raised.value.threshold, raised.value.tables) == (0.25, 0.2, {"channel": 1})


def test_threshold_share_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="within"):
        check_threshold({}, 1.5)


def test_suites_are_named_per_table_and_do_not_compare_reach_with_views() -> None:
    suites = build_suites()

    assert {t: s.name for t, s in suites.items()} == {t: f"socmed.{t}" for t in SCHEMAS}
    pairs = {
        table: [
            e.configuration.kwargs["column_B"]
            for e in suite.expectations
            if "column_B" in e.configuration.kwargs
        ]
        for table, suite in suites.items()
    }
    assert pairs == {
        "channel": [],
        "content": ["published_at"],
        "content_metrics_daily": ["snapshot_date"],
        "channel_metrics_daily": ["snapshot_date"],
    }


@pytest.mark.parametrize(
    ("success", "result", "exception_info"),
    [
        (False, {}, {"raised_exception": True, "exception_message": "boom"}),
        (True, {}, {"metric.id": {"raised_exception": True, "exception_message": "boom"}}),
        (False, {"unexpected_count": 2}, {"raised_exception": False}),
        (False, {"unexpected_count": 1, "unexpected_index_list": [{"__validation_row": 0}] * 2}, {}),
    ],
    ids=["raised", "metric-raised", "rows-missing", "count-mismatch"],
)
def test_an_expectation_ge_could_not_evaluate_never_passes(
    success: bool, result: dict[str, Any], exception_info: dict[str, Any]
) -> None:
    # Imported here: great_expectations must first be imported through validation (see suites.py).
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    config = ExpectationConfiguration(type="expect_column_values_to_not_be_null", kwargs={"column": "x"})
    outcome = ExpectationValidationResult(
        success=success, expectation_config=config, result=result, exception_info=exception_info
    )

    with pytest.raises(ExpectationNotEvaluated, match=r"expect_column_values_to_not_be_null\(x\)"):
        _result_rows(outcome)


@pytest.mark.parametrize(
    ("success", "exception_info", "answered"),
    [
        (False, {"raised_exception": True, "exception_message": "boom"}, ["x"]),
        (None, {"raised_exception": False}, ["x"]),
        (True, {"raised_exception": False}, []),
    ],
    ids=["raised", "no-verdict", "not-answered"],
)
def test_the_pass_fail_pass_never_lets_an_unevaluated_expectation_through(
    success: bool | None, exception_info: dict[str, Any], answered: list[str]
) -> None:
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult

    from validation.engine import _failing

    suite = gx.ExpectationSuite(name="one", expectations=[gxe.ExpectColumnValuesToNotBeNull(column="x")])
    results = [
        ExpectationValidationResult(
            success=success,
            expectation_config=gxe.ExpectColumnValuesToNotBeNull(column=column).configuration,
            exception_info=exception_info,
        )
        for column in answered
    ]
    outcome = ExpectationSuiteValidationResult(success=False, results=results, suite_name="one")

    with pytest.raises(ExpectationNotEvaluated, match="t: "):
        _failing("t", outcome, suite)


def test_checks_every_table_shares_name_each_tables_own_rows() -> None:
    batch = {
        "channel": frame("channel", row("channel"), row("channel", channel_id="ch2", run_id=None)),
        "content": frame("content", row("content", platform="myspace"), row("content", content_id="c2")),
        "content_metrics_daily": frame(
            "content_metrics_daily",
            row("content_metrics_daily", raw_file=None),
            row("content_metrics_daily", content_id="c2"),
        ),
    }
    run_id, platform = NOT_NULL.format("run_id"), IN_SET.format("platform")

    results = validate_batch(batch, NOW)

    expected = {
        "channel": ([0], [1], [run_id]),
        "content": ([1], [0], [platform]),
        "content_metrics_daily": ([1], [0], [NOT_NULL.format("raw_file")]),
    }
    for table, (good, bad, reasons) in expected.items():
        assert_frame_equal(results[table].good, batch[table][good])
        assert_frame_equal(results[table].quarantined, with_reasons(batch[table][bad], reasons))


def test_per_run_keys_are_unique_within_a_run_and_other_key_checks_see_the_key() -> None:
    table = "content"
    video = {"platform": "youtube", "content_type": "short", "content_id": "abcdefghijk"}
    first, again = row(table, **video), row(table, **video, run_id="run-2")
    twice = row(table, content_id="c7")
    label = UNIQUE.format("platform, content_id")

    results = validate_batch({table: frame(table, first, again, twice, twice)}, NOW, per_run=True)

    assert_frame_equal(results[table].good, frame(table, first, again))
    assert_frame_equal(results[table].quarantined, with_reasons(frame(table, twice, twice), [label] * 2))


def _every_case_batch() -> dict[str, pl.DataFrame]:
    """Each table with a good row and one row per failing case of the suites."""
    by_table: dict[str, list[dict[str, Any]]] = {}
    for index, (table, overrides, _) in enumerate(_common_cases() + SPECIFIC_CASES):
        keys = {key: f"k{index}" for key in KEYS[table] if key not in ("platform", "snapshot_date")}
        by_table.setdefault(table, [row(table)]).append(row(table, **{**keys, **overrides}))
    return {table: frame(table, *rows) for table, rows in by_table.items()}


def test_cached_configurations_give_ge_s_own_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """GE's configurations built once per evaluation (validation.gecache) fail the same rows for the
    same reasons as GE's own property, and leave GE's property in place outside the block."""
    from great_expectations.expectations.expectation import Expectation

    from validation import engine, gecache

    batch = _every_case_batch()
    cached = validate_batch(batch, NOW)
    assert Expectation.__dict__["configuration"] is not gecache._ORIGINAL  # installed
    monkeypatch.setattr(engine, "cached_configurations", contextlib.nullcontext)
    monkeypatch.setattr(Expectation, "configuration", gecache._ORIGINAL)
    plain = validate_batch(batch, NOW)
    assert sum(r.quarantined.height for r in plain.values()) == len(_common_cases() + SPECIFIC_CASES)
    for table, result in plain.items():
        assert cached[table].failures == result.failures
        assert_frame_equal(cached[table].quarantined, result.quarantined)
        assert_frame_equal(cached[table].good, result.good)


def test_outside_the_cache_block_each_read_is_ge_s_own_build() -> None:
    from validation.engine import runtime
    from validation.gecache import cached_configurations

    expectation = runtime().suites["content"].expectations[0]
    with cached_configurations():
        first, second = expectation.configuration, expectation.configuration
        assert first is not second and first.kwargs is not second.kwargs
        assert first.to_json_dict() == second.to_json_dict()
        second.kwargs["column"] = "changed by a caller"
        assert expectation.configuration.kwargs == first.kwargs  # a caller's change stays its own
    outside = expectation.configuration
    assert outside.to_json_dict() == first.to_json_dict()


def _pandas_objects() -> int:
    import gc

    import pandas as pd

    gc.collect()
    return sum(isinstance(o, pd.DataFrame | pd.Series) for o in gc.get_objects())


def test_ge_keeps_nothing_of_a_validated_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each validation leaves GE's process-wide engine as it found it: a long replay does not grow
    by every batch's frames and row masks (GE's own caches are never emptied)."""
    from validation import engine

    def validate(n: int) -> None:
        """A batch with failing rows in every table (both passes run), its data new to GE."""
        later = timedelta(microseconds=n)
        batch = {t: f.with_columns(pl.col("fetched_at") + later) for t, f in _every_case_batch().items()}
        assert sum(r.quarantined.height for r in validate_batch(batch, NOW + later).values())

    validate(0)
    before = _pandas_objects()
    for n in range(1, 4):
        validate(n)
    assert _pandas_objects() == before
    assert not engine.runtime().context.data_sources.get(engine.SOURCE).get_execution_engine()._metric_cache

    monkeypatch.setattr(engine, "_forget_batches", lambda: None)  # GE's own behaviour: it grows
    validate(4)
    grown = _pandas_objects()
    validate(5)
    assert _pandas_objects() > grown


def test_ge_does_not_fingerprint_the_frames_it_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """GE hashes every value of a loaded frame for a batch marker nothing reads; ours is skipped."""
    import pandas as pd
    from great_expectations.execution_engine import pandas_execution_engine

    from validation import engine

    def markers() -> dict[str, Any]:
        frame = pd.DataFrame({"caption": ["📣 Kota\n" * 300] * 50})
        batch = engine.runtime().batches["content"].get_batch(batch_parameters={"dataframe": frame})
        return dict(batch.batch_markers)

    assert "pandas_data_fingerprint" not in markers()
    monkeypatch.setattr(pandas_execution_engine, "HASH_THRESHOLD", 1e9)  # GE's own default
    assert "pandas_data_fingerprint" in markers()
