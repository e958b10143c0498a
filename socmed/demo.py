"""The demo: the whole pipeline on the embedded default against the project's own sandbox.

No server and no credentials: every platform's sandbox (``sandbox.hub``) serves its API's
wire format on loopback with synthetic data shaped like the reference user, the flows fetch
from them over real HTTP, and the warehouse is a SQLite file in the demo's data directory.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from sandbox import hub
from socmed import pipeline
from socmed.config import load_settings

DEMO_QUERY = """SELECT ch.handle, co.content_type, co.url, m.views, m.likes, m.comments
FROM content_metrics_daily m JOIN content co USING (platform, content_id)
JOIN channel ch ON ch.platform = co.platform AND ch.channel_id = co.channel_id
WHERE m.views IS NOT NULL ORDER BY m.views DESC LIMIT 5;"""


@dataclass(frozen=True)
class DemoResult:
    """What the demo did, for the summary it prints."""

    config: Path
    data_dir: Path
    warehouse_url: str
    seconds: float
    table_rows: dict[str, int]
    quarantined: int
    requests: dict[str, tuple[int, int]]  # platform/@handle -> (requests made, API minimum)
    failed: str | None


def demo_campaigns(today: dt.date) -> str:
    """Campaigns over the sandbox's captions (Indonesian and English), as TOML."""
    half_year, quarter = today - dt.timedelta(days=182), today - dt.timedelta(days=91)
    return (
        '\n[[campaigns]]\nname = "Car Free Day"\nhashtags = ["CFDTangerang", "CarFreeDay"]\n'
        f'keywords = ["car free day", "CFD"]\nstart = {half_year}\n'
        '\n[[campaigns]]\nname = "Siaga Banjir"\nhashtags = ["SiagaBanjir", "InfoBanjir"]\n'
        f'keywords = ["banjir", "flood", "genangan"]\nstart = {half_year}\n'
        '\n[[campaigns]]\nname = "Ayo ke Tangerang"\nhashtags = ["AyoKeTangerang", "WisataTangerang"]\n'
        f'keywords = ["Festival Cisadane"]\nstart = {quarter}\nend = {today}\n'
    )


def write_config(data_dir: Path, channels: str, today: dt.date | None = None) -> Path:
    """A socmed.toml pointing at the sandboxes (``channels``: platform tables and channels)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    channels += demo_campaigns(today or dt.datetime.now(dt.UTC).date())
    path = data_dir / "socmed.toml"
    path.write_text(
        "# Written by `socmed demo`: the sandboxes on loopback, the embedded warehouse.\n"
        f'[pipeline]\ndata_dir = "."\n{channels}',
        encoding="utf-8",
    )
    return path


def table_counts(url: str) -> dict[str, int]:
    """Rows per warehouse table."""
    tables = ("channel", "content", "content_metrics_daily", "channel_metrics_daily", "load_audit")
    with pipeline.warehouse(url).connect() as conn:
        return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in tables}


def run_demo(data_dir: Path) -> DemoResult:
    """Serve every sandbox, ingest every reference channel, and count what landed."""
    from flows.ingest import ingest

    started = time.perf_counter()
    with hub.serving(dt.datetime.now(dt.UTC).date()) as fakes:
        demo = hub.demo_channels(fakes)
        config = write_config(data_dir, demo.toml)
        os.environ.update(demo.env)
        state = ingest(str(config), return_state=True)
        stories = ingest(str(config), streams=["stories"], return_state=True)  # as ingest-stories does
        state = state if not state.is_completed() else stories
        settings = load_settings(config)
        requests = hub.request_usage(fakes, settings)
    url = settings.warehouse_url()
    with pipeline.warehouse(url).connect() as conn:
        quarantined = conn.execute(
            text("SELECT coalesce(sum(rows_quarantined), 0) FROM load_audit")
        ).scalar_one()
    return DemoResult(
        config,
        settings.pipeline.data_dir,
        url,
        time.perf_counter() - started,
        table_counts(url),
        int(quarantined),
        requests,
        None if state.is_completed() else state.message,
    )
