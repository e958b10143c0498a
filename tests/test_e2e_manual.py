"""End to end: CSV files dropped in a watch folder, imported by `socmed import` into SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox.manual import ACCOUNT_ID, HANDLE, ManualDrop
from socmed.cli import app
from tests.e2e_helpers import dump, query

pytestmark = pytest.mark.slow
runner = CliRunner()
CORRECTION = "snapshot_date,followers\n{day},{followers}\n"


def write_config(tmp_path: Path, warehouse_url: str) -> Path:
    """A socmed.toml with one manual channel watching tmp_path/inbox."""
    path = tmp_path / "socmed.toml"
    path.write_text(
        f'[pipeline]\ndata_dir = "data"\n[warehouse]\nurl = "{warehouse_url}"\n'
        'url_env = "SOCMED_E2E_NO_SUCH_VAR"\n'
        f'[[channels]]\nplatform = "manual"\nhandle = "{HANDLE}"\naccount_id = "{ACCOUNT_ID}"\n'
        'watch_dir = "inbox"\n'
    )
    return path


def raw_bodies(tmp_path: Path) -> list[bytes]:
    """Every body landed for the manual channel, in landing order."""
    root = tmp_path / "data" / "raw" / "platform=manual" / f"account={ACCOUNT_ID}"
    return [gzip.decompress(p.read_bytes()) for p in sorted(root.rglob("*.json.gz"))]


def totals(url: str) -> tuple[object, ...]:
    """Counts and sums of what the manual channel holds."""
    [row] = query(
        url,
        "SELECT (SELECT count(*) FROM content WHERE platform = 'manual'), "
        "(SELECT count(*) FROM content_metrics_daily WHERE platform = 'manual'), "
        "(SELECT sum(reach) FROM content_metrics_daily WHERE platform = 'manual'), "
        "(SELECT sum(views) FROM content_metrics_daily WHERE platform = 'manual'), "
        "(SELECT sum(CASE WHEN views IS NULL THEN 1 ELSE 0 END) FROM content_metrics_daily "
        "WHERE platform = 'manual'), "
        "(SELECT count(*) FROM channel_metrics_daily WHERE platform = 'manual'), "
        "(SELECT sum(reach) FROM channel_metrics_daily WHERE platform = 'manual')",
    )
    return tuple(int(v) for v in row)


def test_dropped_files_are_imported_once_and_a_bad_file_loses_nothing(
    prefect_server: None, warehouse_url: str, tmp_path: Path
) -> None:
    drop = ManualDrop(dt.datetime.now(dt.UTC).date(), folder=tmp_path / "inbox").start()
    config = write_config(tmp_path, warehouse_url)
    result = runner.invoke(app, ["import", "--config", str(config)])
    assert result.exit_code == 0, result.output
    files = "channel_metrics_daily.csv, content.csv, content_metrics_daily.csv"
    assert f"manual/@{HANDLE}: imported {files}" in result.output
    truth = drop.expected()
    assert totals(warehouse_url) == (truth["content"], truth["content_metrics_daily"], truth["reach_sum"],
                                     truth["views_sum"], truth["views_null"], truth["channel_metrics_daily"],
                                     truth["channel_reach_sum"])
    last = drop.rows["channel_metrics_daily"][-1]["snapshot_date"]
    assert query(warehouse_url, "SELECT followers FROM channel_metrics_daily WHERE platform = 'manual' "
                 "AND snapshot_date = :d", d=dt.date.fromisoformat(last)) == [(truth["followers_last"],)]
    originals = [(tmp_path / "inbox" / name).read_bytes() for name in sorted(drop.files())]
    assert raw_bodies(tmp_path) == originals  # landed unchanged
    before = dump(warehouse_url)

    again = runner.invoke(app, ["import", "--config", str(config)])
    assert (again.exit_code, again.output.strip()) == (0, "no new files")
    assert dump(warehouse_url) == before

    bad = tmp_path / "inbox" / "koreksi.csv"
    bad.write_text(CORRECTION.format(day=last, followers="2.300"))
    failed = runner.invoke(app, ["import", "--config", str(config)])
    assert failed.exit_code == 1
    assert "file 'koreksi.csv'" in failed.output and "line 2, column 'followers': '2.300'" in failed.output
    assert dump(warehouse_url) == before  # nothing of the bad file loaded ...
    assert raw_bodies(tmp_path)[-1] == bad.read_bytes()  # ... and nothing lost: it is in the raw zone

    bad.write_text(CORRECTION.format(day=last, followers="2300"))  # corrected in place: new content
    fixed = runner.invoke(app, ["import", "--config", str(config)])
    assert fixed.exit_code == 0, fixed.output
    reach = drop.rows["channel_metrics_daily"][-1]["reach"]  # a correction of followers keeps it
    assert query(warehouse_url, "SELECT followers, reach FROM channel_metrics_daily "
                 "WHERE platform = 'manual' AND snapshot_date = :d", d=dt.date.fromisoformat(last)) == [
        (2300, reach)]
    audits = query(warehouse_url, "SELECT status FROM load_audit WHERE platform = 'manual'")
    assert [a[0] for a in audits] == ["succeeded"] * 3  # one run per drop with new files, none when idle

