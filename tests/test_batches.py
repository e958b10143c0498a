"""Reprocessing batches: how runs are cut and gathered, and that the budget never changes results."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy.exc import OperationalError

from benchmarks.generate import Size, generate
from benchmarks.ours import write_config
from connectors.base import RawResponse
from socmed import pipeline
from socmed.batches import CUT_BEFORE, FIRST_SHARE, Batch, load_prepared, plan_batches, prepare_batch
from socmed.config import load_settings
from socmed.rawzone import RawWriter, list_runs
from tests.e2e_helpers import dump, query
from transforms.parquet import read_table
from transforms.schemas import KEYS, TABLE_ORDER

SMALL = Size("t", 3, 120, 3)  # 3 accounts x 120 posts x 3 days: nine runs of 3 to 5 responses
BUDGET = 60_000  # bytes of bodies: most runs are cut into parts (a run is 130 to 180 kB)
GROUPING = 400_000  # two runs a batch, none cut


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated Instagram raw zone (read only: copy it before writing beside it)."""
    return generate(tmp_path_factory.mktemp("zone"), SMALL)


def _flat(batches: list[Batch]) -> list[tuple[str, int]]:
    """Every response of the batches as (run id, seq), in batch order."""
    return [(piece.run_id, int(m["seq"])) for b in batches for piece in b.slices for m in piece.metas]


@pytest.mark.parametrize("budget", [BUDGET, GROUPING])
def test_batches_keep_every_response_once_in_arrival_order_within_their_budgets(
    zone: Path, budget: int
) -> None:
    runs = list_runs(zone, "instagram")
    batches = list(plan_batches(runs, budget))
    arrival = [(r.name.removeprefix("run="), seq) for r in runs for seq in range(1, 100) if _has(r, seq)]
    assert _flat(batches) == arrival
    assert [b.number for b in batches] == list(range(1, len(batches) + 1))
    for index, batch in enumerate(batches):
        allowed = budget // FIRST_SHARE if index == 0 else budget
        assert len(batch.slices) == 1 or sum(p.body_bytes for p in batch.slices) <= allowed
        assert len({p.run_dir for p in batch.slices}) == len(batch.slices), "two slices of one run"
    if budget == GROUPING:
        assert len(batches[0].slices) == 1 and {len(b.slices) for b in batches[1:]} == {2}


def _has(run_dir: Path, seq: int) -> bool:
    """Whether the run has a response numbered seq."""
    return any(run_dir.glob(f"{seq:05d}-*.meta.json"))


def test_a_run_over_budget_is_cut_only_before_a_group_starting_response(zone: Path) -> None:
    pieces = [p for b in plan_batches(list_runs(zone, "instagram"), BUDGET) for p in b.slices]
    cut = [p for p in pieces if p.part]
    assert cut, "the budget cuts some runs"
    by_run: dict[str, list[int]] = {}
    for piece in pieces:
        by_run.setdefault(piece.run_id, []).append(piece.part)
        if piece.part > 1:
            assert piece.metas[0]["stream"] in CUT_BEFORE["instagram"]
    for parts in by_run.values():
        assert parts in ([0], list(range(1, len(parts) + 1)))
    assert {p.file_id for p in cut} >= {f"{cut[0].run_id}.part0001"}
    whole = list(plan_batches(list_runs(zone, "instagram"), 64 * 1024 * 1024))
    assert all(p.part == 0 for b in whole for p in b.slices)


def test_a_platform_without_cut_points_is_never_cut(tmp_path: Path) -> None:
    writer = RawWriter(tmp_path, "tiktok", "tt-1", "run-1", dt.date(2026, 11, 26))
    at = dt.datetime(2026, 11, 26, 1, tzinfo=dt.UTC)
    for _ in range(3):
        body = b'{"data": {"videos": []}, "error": {"code": "ok"}}' + b" " * 50_000
        url = "https://open.tiktokapis.com/v2/video/list/"
        writer.write(RawResponse("tiktok", "tt-1", "videos", "POST", url, 200, at, body))
    [batch] = list(plan_batches(list_runs(tmp_path, "tiktok"), 10_000))
    assert [(p.part, len(p.metas)) for p in batch.slices] == [(0, 3)]


def _reprocess(zone: Path, work: Path, budget: int) -> tuple[str, Path]:
    """Reprocess a copy of the zone into a new embedded warehouse with this budget (no Prefect)."""
    data = work / "data"
    shutil.copytree(zone, data)
    url = f"sqlite:///{work / 'warehouse.db'}"
    settings = load_settings(write_config(work, data, url))
    engine = pipeline.warehouse(url)
    for batch in plan_batches(list_runs(data, "instagram"), budget):
        load_prepared(engine, prepare_batch(settings, batch, None))
    return url, data


def test_the_budget_changes_nothing_reprocessing_gives(zone: Path, tmp_path: Path) -> None:
    small_url, small_data = _reprocess(zone, tmp_path / "small", BUDGET)
    mid_url, mid_data = _reprocess(zone, tmp_path / "mid", GROUPING)
    large_url, large_data = _reprocess(zone, tmp_path / "large", 64 * 1024 * 1024)
    tables = ("channel", "content", "content_metrics_daily", "channel_metrics_daily")
    assert dump(small_url, tables) == dump(large_url, tables) == dump(mid_url, tables)
    assert query(small_url, "SELECT count(*) FROM content_metrics_daily") == [(SMALL.snapshots,)]
    for table in TABLE_ORDER:
        one, two, three = (read_table(d, table).sort(KEYS[table]) for d in (small_data, mid_data, large_data))
        assert one.height and one.equals(two) and one.equals(three), table
    per_run = (
        "SELECT run_id, sum(rows_in), sum(rows_loaded), sum(rows_changed), count(*) FROM load_audit"
        " GROUP BY run_id ORDER BY run_id"
    )
    small, large = query(small_url, per_run), query(large_url, per_run)
    assert [r[:4] for r in small] == [r[:4] for r in large]
    assert sum(r[4] for r in small) > sum(r[4] for r in large), "parts load under audits of their own"
    assert pl.DataFrame(small, orient="row")["column_4"].max() > 1


def test_a_loaded_batch_lets_its_frames_go_and_a_failed_load_keeps_them(zone: Path, tmp_path: Path) -> None:
    """Prefect holds a task's result in reference cycles until a full collection: a loaded
    batch must not hold its rows there, and a load that raised keeps them for its retry."""
    data, url = tmp_path / "data", f"sqlite:///{tmp_path / 'warehouse.db'}"
    shutil.copytree(zone, data)
    settings = load_settings(write_config(tmp_path, data, url))
    batch = next(plan_batches(list_runs(data, "instagram"), 64 * 1024 * 1024))
    prepared = prepare_batch(settings, batch, None)
    rows = sum(frame.height for frame in prepared.good.values())
    assert rows
    broken = pipeline.warehouse(f"sqlite:///{tmp_path / 'other.db'}")
    with broken.begin() as conn:
        conn.exec_driver_sql("DROP TABLE content_metrics_daily")
    with pytest.raises(OperationalError, match="content_metrics_daily"):
        load_prepared(broken, prepared)
    assert sum(frame.height for frame in prepared.good.values()) == rows
    load_prepared(pipeline.warehouse(url), prepared)
    assert prepared.good == {} and prepared.loaded
    counts = "SELECT (SELECT count(*) FROM content_metrics_daily), (SELECT count(*) FROM load_audit)"
    stored = query(url, counts)
    assert stored[0][0] > 0
    load_prepared(pipeline.warehouse(url), prepared)  # again (a retried task): nothing more happens
    assert query(url, counts) == stored
