"""The demo: the whole pipeline on the embedded default against the project's own sandbox.

No server and no credentials: the sandbox serves Instagram's Graph API wire format on
loopback with synthetic data shaped like the reference user, the flows fetch from it over
real HTTP, and the warehouse is a SQLite file in the demo's data directory.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from sandbox.server import Sandbox
from socmed import pipeline
from socmed.config import load_settings

DEMO_TOKEN_ENV = "SOCMED_DEMO_TOKEN"
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
    requests: dict[str, tuple[int, int]]  # @handle -> (requests made, API minimum)
    failed: str | None


def write_config(data_dir: Path, base_url: str, accounts: list[tuple[str, str]]) -> Path:
    """A socmed.toml pointing at the sandbox; the token comes from an environment variable."""
    data_dir.mkdir(parents=True, exist_ok=True)
    channels = "".join(
        f'\n[[channels]]\nplatform = "instagram"\nhandle = "{handle}"\naccount_id = "{account_id}"\n'
        for account_id, handle in accounts
    )
    path = data_dir / "socmed.toml"
    path.write_text(
        "# Written by `socmed demo`: the sandbox on loopback, the embedded warehouse.\n"
        f'[pipeline]\ndata_dir = "."\n\n[platforms.instagram]\nbase_url = "{base_url}"\n'
        f'api_version = "v24.0"\ntoken_env = "{DEMO_TOKEN_ENV}"\n{channels}',
        encoding="utf-8",
    )
    return path


def minimum_requests(posts: int, insights_days: int) -> int:
    """The API's floor for a full read: profile, media pages of 100, one insights series, one call a day."""
    return 1 + -(-posts // 100) + 1 + insights_days


def table_counts(url: str) -> dict[str, int]:
    """Rows per warehouse table."""
    tables = ("channel", "content", "content_metrics_daily", "channel_metrics_daily", "load_audit")
    with pipeline.warehouse(url).connect() as conn:
        return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in tables}


def run_demo(data_dir: Path) -> DemoResult:
    """Serve the sandbox, ingest both reference accounts, and count what landed."""
    from flows.ingest import ingest

    started = time.perf_counter()
    with Sandbox(as_of=dt.datetime.now(dt.UTC).date()) as sandbox:
        accounts = [(a.id, a.username) for a in sandbox.data.accounts]
        config = write_config(data_dir, sandbox.base_url, accounts)
        os.environ[DEMO_TOKEN_ENV] = sandbox.token
        state = ingest(str(config), return_state=True)
        settings = load_settings(config)
        insights_days = settings.platform("instagram").insights_days
        requests = {
            f"@{a.username}": (
                sum(r.account_id == a.id for r in sandbox.requests),
                minimum_requests(a.media_count, insights_days),
            )
            for a in sandbox.data.accounts
        }
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
