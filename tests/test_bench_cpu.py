"""The benchmark's CPU accounting: the server's CPU is the server's, the process's the process's.

No figure is asserted as fast or slow: only that work lands on the side that did it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from benchmarks.cpu import measure, postgres_cpu_seconds
from benchmarks.report import Report, Row


@pytest.mark.postgres
def test_a_query_s_cpu_counts_as_the_server_s_and_the_waiting_process_spends_little(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            with measure() as used:
                conn.execute(text("SELECT count(*) FROM generate_series(1, 3000000)")).scalar_one()
    finally:
        engine.dispose()
    assert used.postgres is not None and used.postgres > 0
    assert used.process < used.postgres  # the client only waited for the answer
    assert used.total == used.process + used.postgres


@pytest.mark.postgres
def test_backends_that_exited_still_count(pg_url: str) -> None:
    before = postgres_cpu_seconds()
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM generate_series(1, 3000000)")).scalar_one()
    engine.dispose()  # the backend exits; the postmaster collects its CPU
    after = postgres_cpu_seconds()
    assert before is not None and after is not None and after > before


def test_the_table_shows_cpu_where_measured_and_a_dash_elsewhere() -> None:
    report = Report("10k", 2)
    report.rows = [
        Row("ours (PostgreSQL)", 10_000, 2.0, 500.0, True, cpu_process=2.5, cpu_postgres=1.5),
        Row("dlt nested", 10_000, 20.0, 400.0, True, cpu_process=18.0, cpu_postgres=6.0),
        Row("parse floor", 10_000, 0.5, 300.0, None),
    ]
    lines = report.table().splitlines()
    assert "CPU s" in lines[1]
    ours, dlt, floor = lines[3:6]
    assert "4.0" in ours.split() and "24.0" in dlt.split() and "-" in floor.split()
    assert report.cpu_line() == (
        "CPU seconds (process + PostgreSQL): ours (PostgreSQL) 4.0 = 2.5 + 1.5; dlt nested 24.0 = 18.0 + 6.0;"
        " ours against it by CPU: dlt nested 6.00x"
    )


def test_targets_set_at_200k_say_so_at_another_size() -> None:
    rows = [
        Row("ours (PostgreSQL)", 10_000, 2.0, 500.0, True),
        Row("dlt flat", 10_000, 12.0, 400.0, True),
    ]
    at_200k, at_2m = Report("200k", 2), Report("2m", 2)
    at_200k.rows = at_2m.rows = rows
    assert at_200k.targets({"validate": 0.2}, 0.05)[:3] == [
        "[met] 5x dlt flattened: 6.00x",
        "[met] GE validation 10.0% of end to end (< 25%)",
        "[met] Prefect overhead 5.0% (< 10%)",
    ]
    assert at_2m.targets({"validate": 0.6}, 0.12)[:3] == [
        "[met] 5x dlt flattened: 6.00x at 2m (the target is set at 200k)",
        "[NOT met] GE validation 30.0% of end to end (< 25%) at 2m (the target is set at 200k)",
        "[NOT met] Prefect overhead 12.0% (< 10%) at 2m (the target is set at 200k)",
    ]


def test_peaks_are_also_shown_above_the_parse_floor_s_process() -> None:
    report = Report("2m", 2)
    report.rows = [
        Row("ours (PostgreSQL)", 10_000, 2.0, 476.4, True),
        Row("dlt flat", 10_000, 12.0, 390.0, True),
        Row("parse floor", 10_000, 0.5, 358.0, None),
        Row("COPY floor", 10_000, 0.1, 933.0, True),
    ]
    assert report.memory_line() == (
        "peak RSS above the parse floor's process (358 MB, this run's control):"
        " ours (PostgreSQL) +118, dlt flat +32 MB"
    )
    report.rows = report.rows[:2]
    assert report.memory_line() is None  # no control in the run
