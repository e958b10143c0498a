"""The full ``socmed run`` path over real HTTP against the project's sandbox, into PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks.generate import FIRST_DAY
from sandbox.server import Sandbox
from socmed import pipeline
from socmed.config import load_settings

TOKEN_ENV = "SOCMED_BENCH_SANDBOX_TOKEN"


def minimum_requests(posts: int, insights_days: int) -> int:
    """Instagram's floor for a full read (platform-apis.md section 8): the profile, media pages
    of 100 with insights nested, one account-insights series and one total_value call a day."""
    return 1 + -(-posts // 100) + 1 + insights_days


def write_config(data_dir: Path, base_url: str, url: str, accounts: list[tuple[str, str]]) -> Path:
    """A socmed.toml over the sandbox: its base URL, a token from the environment, PostgreSQL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    channels = "".join(
        f'\n[[channels]]\nplatform = "instagram"\nhandle = "{handle}"\naccount_id = "{account_id}"\n'
        for account_id, handle in accounts
    )
    path = data_dir / "socmed.toml"
    path.write_text(
        f'[pipeline]\ndata_dir = "."\n\n[warehouse]\nurl = "{url}"\n\n[platforms.instagram]\n'
        f'base_url = "{base_url}"\napi_version = "v24.0"\ntoken_env = "{TOKEN_ENV}"\n{channels}',
        encoding="utf-8",
    )
    return path


def run(work_dir: Path, url: str, accounts: int, media: int) -> dict[str, Any]:
    """Ingest every sandbox account once (a full read); requests, rows and the API minimum."""
    from flows.ingest import ingest

    with Sandbox(as_of=FIRST_DAY, extra_accounts=max(accounts - 2, 0), media_per_account=media) as sandbox:
        listed = [(a.id, a.username) for a in sandbox.data.accounts]
        config = write_config(work_dir / "http-data", sandbox.base_url, url, listed)
        os.environ[TOKEN_ENV] = sandbox.token
        settings = load_settings(config)
        pipeline.warehouse(url)  # migrate before the clock starts
        start = time.perf_counter()
        state = ingest(str(config), return_state=True)
        seconds = time.perf_counter() - start
        requests = len(sandbox.requests)
        posts = sum(a.media_count for a in sandbox.data.accounts)
        days = settings.platform("instagram").insights_days
        floor = sum(minimum_requests(a.media_count, days) for a in sandbox.data.accounts)
    with pipeline.warehouse(url).connect() as conn:
        rows = int(conn.execute(text("SELECT count(*) FROM content_metrics_daily")).scalar_one())
    return {
        "seconds": seconds,
        "ok": state.is_completed(),
        "accounts": len(listed),
        "posts": posts,
        "rows": rows,
        "requests": requests,
        "minimum": floor,
        "as_of": dt.date.isoformat(FIRST_DAY),
    }
