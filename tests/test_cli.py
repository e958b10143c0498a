"""The `socmed` command: clear errors, migrations, and the demo a new user runs first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox import hub
from socmed.cli import app
from tests.e2e_helpers import query

runner = CliRunner()


def test_run_with_unknown_platform_names_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "socmed.toml"
    config.write_text('[[channels]]\nplatform = "tiktokk"\nhandle = "x"\naccount_id = "1"\ntoken_env = "T"\n')
    result = runner.invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 2
    assert f"{config}: channels[0].platform: unknown platform 'tiktokk'" in result.output


def test_run_with_bad_date_names_the_option(tmp_path: Path) -> None:
    config = tmp_path / "socmed.toml"
    config.write_text(
        '[[channels]]\nplatform = "instagram"\nhandle = "x"\naccount_id = "1"\ntoken_env = "T"\n'
    )
    result = runner.invoke(app, ["run", "--config", str(config), "--since", "2026-02-30"])
    assert result.exit_code == 2
    assert "--since: bad date '2026-02-30' (expected YYYY-MM-DD)" in result.output


def test_db_upgrade_creates_the_warehouse(tmp_path: Path) -> None:
    config = tmp_path / "socmed.toml"
    config.write_text(
        '[pipeline]\ndata_dir = "d"\n[[channels]]\nplatform = "instagram"\nhandle = "x"\n'
        'account_id = "1"\ntoken_env = "T"\n'
    )
    result = runner.invoke(app, ["db", "upgrade", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "is at revision 0004" in result.output
    tables = query(
        f"sqlite:///{tmp_path / 'd' / 'warehouse.db'}",
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    )
    assert [t[0] for t in tables] == [
        "alembic_version",
        "campaign",
        "campaign_content",
        "channel",
        "channel_metrics_daily",
        "content",
        "content_metrics_daily",
        "load_audit",
        "sync_state",
        "time_zone_offset",
    ]


@pytest.mark.slow
def test_demo_command_runs_the_whole_pipeline(tmp_path: Path) -> None:
    # a new user's machine: no Prefect settings, and a Prefect home of its own, not the ~/.prefect
    # database that any other demo or test on this machine may be writing at the same time
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    socmed = Path(sys.executable).with_name("socmed")
    out = subprocess.run(
        [str(socmed), "demo", "--data-dir", str(tmp_path / "demo")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Quarantined rows: 0" in out.stdout and "with a failure" not in out.stdout
    # nothing a new user would read as a failure (the temporary server's telemetry was one)
    assert "| ERROR " not in out.stdout + out.stderr, (out.stdout + out.stderr)[-3000:]
    url = f"sqlite:///{tmp_path / 'demo' / 'warehouse.db'}"
    # every sandbox of the hub is served, configured and ingested
    platforms = sorted(entry.platform for entry in hub.SANDBOXES)
    assert query(url, "SELECT DISTINCT platform FROM channel ORDER BY platform") == [(p,) for p in platforms]
    assert query(url, "SELECT handle FROM channel WHERE platform = 'instagram' ORDER BY handle") == [
        ("tangerangkota",), ("tangerangtv",)]
    assert "tiktok/@tangerangkota " in out.stdout
    report = tmp_path / "demo" / "report" / "report.html"
    assert f"Report (charts beside it): {report}" in out.stdout
    assert report.stat().st_size > 50_000


def test_data_dictionary_in_docs_matches_the_models() -> None:
    from warehouse.dictionary import render
    from warehouse.models import Base

    committed = (Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md").read_text()
    assert committed == render(), "regenerate with: .venv/bin/socmed db dictionary > docs/data-dictionary.md"
    for table in Base.metadata.tables.values():
        assert table.comment, table.name
        assert all(c.comment for c in table.columns), table.name
