"""Helpers for the end-to-end tests: configs pointing at the sandbox, warehouse dumps, truth checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from sandbox.data import SandboxData

TOKEN_ENV = "SOCMED_E2E_TOKEN"
FACT_TABLES = ("channel", "content", "content_metrics_daily", "channel_metrics_daily", "sync_state")


def write_config(
    tmp_path: Path,
    base_url: str,
    warehouse_url: str,
    data: SandboxData,
    extra: str = "",
    channel_extra: dict[str, str] | None = None,
) -> Path:
    """A socmed.toml for the sandbox's accounts, the token from TOKEN_ENV."""
    channels = ""
    for account in data.accounts:
        channels += (
            f'\n[[channels]]\nplatform = "instagram"\nhandle = "{account.username}"\n'
            f'account_id = "{account.id}"\n{(channel_extra or {}).get(account.username, "")}\n'
        )
    path = tmp_path / "socmed.toml"
    path.write_text(
        f'[pipeline]\ndata_dir = "data"\n{extra}\n[warehouse]\nurl = "{warehouse_url}"\n'
        f'url_env = "SOCMED_E2E_NO_SUCH_VAR"\n'
        f'[platforms.instagram]\nbase_url = "{base_url}"\ntoken_env = "{TOKEN_ENV}"\n'
        f"timeout_seconds = 5\n{channels}"
    )
    return path


def dump(url: str, tables: tuple[str, ...] = FACT_TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the given tables, sorted, for exact before/after comparisons."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return {t: sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM {t}"))) for t in tables}
    finally:
        engine.dispose()


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Run one query against the warehouse."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def assert_matches_truth(url: str, data: SandboxData, snapshot: dt.date) -> None:
    """The warehouse holds exactly what the sandbox generated: counts and sums, nothing lost or doubled."""
    for account in data.accounts:
        truth = data.expected(account.id)
        content = query(
            url,
            "SELECT count(*), count(DISTINCT content_id) FROM content "
            "WHERE platform = 'instagram' AND channel_id = :c",
            c=account.id,
        )
        assert content == [(truth["media_count"], truth["media_count"])], account.username
        facts = query(
            url,
            "SELECT count(*), sum(likes), sum(comments), sum(views), sum(reach), sum(saves), sum(shares), "
            "sum(CASE WHEN likes IS NULL THEN 1 ELSE 0 END), sum(CASE WHEN views IS NULL THEN 1 ELSE 0 END) "
            "FROM content_metrics_daily WHERE channel_id = :c AND snapshot_date = :d",
            c=account.id,
            d=snapshot,
        )
        assert [tuple(int(v) for v in facts[0])] == [
            (
                truth["media_count"],
                truth["like_count_sum"],
                truth["comments_count_sum"],
                truth["views_sum"],
                truth["reach_sum"],
                truth["saved_sum"],
                truth["shares_sum"],
                truth["hidden_like_media"],
                truth["views_unsupported_media"],
            )
        ], (account.username, facts)
        followers = query(
            url,
            "SELECT followers, following, posts_count FROM channel_metrics_daily "
            "WHERE channel_id = :c AND snapshot_date = :d",
            c=account.id,
            d=snapshot,
        )
        assert followers == [(truth["followers_count"], truth["follows_count"], truth["media_count"])]
        days = query(
            url,
            "SELECT snapshot_date, views, reach FROM channel_metrics_daily "
            "WHERE channel_id = :c AND views IS NOT NULL ORDER BY snapshot_date",
            c=account.id,
        )
        assert len(days) == 2, days  # insights_days defaults to the last two complete platform days
        for day, views, reach in days:
            daily = data.daily(account.id, dt.date.fromisoformat(str(day)))
            assert (views, reach) == (daily["views"], daily["reach"]), day


def files_containing(root: Path, needle: bytes) -> list[Path]:
    """Every file under root whose bytes (or gunzipped bytes) contain needle."""
    import gzip

    hits = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        if needle in raw:
            hits.append(path)
    return hits
