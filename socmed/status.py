"""What `socmed status` shows per channel, read from the warehouse's ``load_audit`` and facts.

Per channel: the last successful load and how fresh it is, row counts, the token's expiry
(as last checked by the ``token-health`` flow), requests sent in the last 24 hours (from the
raw zone's request records: the quota spent), a coverage grid of the last days with the
dates that have no data, and the open failures (failed loads newer than the last success).

Token health lives here too: Meta's ``GET /debug_token`` gives a token's ``expires_at``;
TikTok's rotated token file gives the refresh token's expiry. Results are kept in
``<data_dir>/state/token-health.json`` for this view.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, Row, func, select, union

from connectors.state import StateFile
from socmed import paths
from socmed.config import ChannelSettings, Settings
from socmed.redact import redact
from warehouse.models import ChannelMetricsDaily, Content, ContentMetricsDaily, LoadAudit

GRID_DAYS = 14
META_PLATFORMS = ("instagram", "facebook")


@dataclass
class TokenInfo:
    """A token's expiry as last checked; ``expires_at`` None means it does not expire."""

    status: str  # ok | expiring | expired | unknown
    expires_at: str | None
    checked_at: str
    source: str
    detail: str = ""


@dataclass
class ChannelStatus:
    """One channel's line in `socmed status`."""

    channel: str
    last_success: str | None = None
    last_run_id: str | None = None
    freshness_hours: float | None = None
    rows: dict[str, int] = field(default_factory=dict)
    last_load: dict[str, int] = field(default_factory=dict)
    token: TokenInfo | None = None
    requests_24h: int = 0
    coverage: dict[str, bool] = field(default_factory=dict)
    open_failures: list[str] = field(default_factory=list)

    @property
    def missing_dates(self) -> list[str]:
        """Dates of the grid without any observation."""
        return [day for day, seen in self.coverage.items() if not seen]


def succeeded_load(engine: Engine, run_id: str) -> str | None:
    """The load id of a succeeded load of this raw run, if there is one."""
    query = select(LoadAudit.load_id).where(LoadAudit.run_id == run_id, LoadAudit.status == "succeeded")
    with engine.connect() as conn:
        return conn.execute(query.limit(1)).scalar()


def _audits(engine: Engine, channel: ChannelSettings) -> list[Row[Any]]:
    """The channel's latest loads, newest first."""
    table = LoadAudit.__table__
    query = (
        select(table)
        .where(table.c.platform == channel.platform, table.c.channel_id == channel.account_id)
        .order_by(table.c.finished_at.desc())
        .limit(200)
    )
    with engine.connect() as conn:
        return list(conn.execute(query))


def _row_counts(engine: Engine, channel: ChannelSettings) -> dict[str, int]:
    counts = {}
    with engine.connect() as conn:
        for name, model in (
            ("content", Content),
            ("content_metrics_daily", ContentMetricsDaily),
            ("channel_metrics_daily", ChannelMetricsDaily),
        ):
            query = (
                select(func.count())
                .select_from(model)
                .where(model.platform == channel.platform, model.channel_id == channel.account_id)
            )
            counts[name] = int(conn.execute(query).scalar() or 0)
    return counts


def coverage(
    engine: Engine, channel: ChannelSettings, today: dt.date, days: int = GRID_DAYS
) -> dict[str, bool]:
    """For each of the last ``days`` dates (channel time zone), whether any observation exists."""
    first = today - dt.timedelta(days=days - 1)
    dates = union(
        *[
            select(model.snapshot_date.label("d")).where(
                model.platform == channel.platform,
                model.channel_id == channel.account_id,
                model.snapshot_date >= first,
            )
            for model in (ContentMetricsDaily, ChannelMetricsDaily)
        ]
    )
    with engine.connect() as conn:
        seen = {dt.date.fromisoformat(str(d)[:10]) for (d,) in conn.execute(dates)}
    return {
        (first + dt.timedelta(days=i)).isoformat(): (first + dt.timedelta(days=i)) in seen
        for i in range(days)
    }


def requests_last_day(data_dir: Path, channel: ChannelSettings, now: dt.datetime) -> int:
    """Requests whose responses landed in the raw zone in the last 24 hours."""
    since = now - dt.timedelta(hours=24)
    root = paths.raw_root(data_dir) / f"platform={channel.platform}" / f"account={channel.account_id}"
    count = 0
    for day in {since.date(), now.date()}:
        for meta in root.glob(f"date={day.isoformat()}/run=*/*.meta.json"):
            try:
                fetched = dt.datetime.fromisoformat(json.loads(meta.read_text())["fetched_at"])
            except (OSError, ValueError, KeyError):
                continue
            count += since <= fetched <= now
    return count


def channel_status(
    settings: Settings, engine: Engine, channel: ChannelSettings, now: dt.datetime
) -> ChannelStatus:
    """Everything `socmed status` shows for one channel."""
    out = ChannelStatus(channel.key, rows=_row_counts(engine, channel))
    audits = _audits(engine, channel)
    success = next((a for a in audits if a.status == "succeeded"), None)
    if success is not None:
        finished = success.finished_at
        out.last_success, out.last_run_id = finished.isoformat(timespec="seconds"), success.run_id
        out.freshness_hours = round((now - finished).total_seconds() / 3600, 1)
        out.last_load = {
            "rows_in": success.rows_in,
            "loaded": success.rows_loaded,
            "changed": success.rows_changed,
            "quarantined": success.rows_quarantined,
        }
    newer = [
        a for a in audits if a.status == "failed" and (success is None or a.finished_at > success.finished_at)
    ]
    out.open_failures = [
        f"{a.finished_at:%Y-%m-%d %H:%M} run {a.run_id}: {(a.error or '')[:160]}" for a in newer
    ]
    out.token = read_token_health(settings.pipeline.data_dir).get(channel.key)
    out.requests_24h = requests_last_day(settings.pipeline.data_dir, channel, now)
    today = now.astimezone(zoneinfo.ZoneInfo(channel.timezone)).date()
    out.coverage = coverage(engine, channel, today)
    return out


def _grid(cov: dict[str, bool]) -> str:
    return "".join("#" if seen else "." for seen in cov.values())


def render(statuses: list[ChannelStatus]) -> str:
    """The plain-text status report."""
    lines = []
    for s in statuses:
        fresh = f"{s.freshness_hours} h ago" if s.freshness_hours is not None else "never loaded"
        token = (
            f"{s.token.status}" + (f", expires {s.token.expires_at}" if s.token.expires_at else "")
            if s.token
            else "not checked (run the token-health flow)"
        )
        first = next(iter(s.coverage), "-")
        lines += [
            s.channel,
            f"  last success   {s.last_success or '-'} ({fresh}) run {s.last_run_id or '-'}",
            f"  last load      {_pairs(s.last_load) or '-'}",
            f"  warehouse rows {_pairs(s.rows)}",
            f"  token          {token}",
            f"  requests 24 h  {s.requests_24h}",
            f"  coverage       {first} {_grid(s.coverage)} (# data, . none)",
            f"  no data on     {', '.join(s.missing_dates) or 'none'}",
            f"  open failures  {len(s.open_failures) or 'none'}",
            *[f"    {failure}" for failure in s.open_failures[:5]],
            "",
        ]
    return "\n".join(lines)


def _pairs(values: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in values.items())


def as_json(statuses: list[ChannelStatus]) -> str:
    """The status report as JSON (for monitoring)."""
    return json.dumps([{**asdict(s), "missing_dates": s.missing_dates} for s in statuses], indent=1)


# -- token health ------------------------------------------------------------------------


def token_health_file(data_dir: Path) -> Path:
    """Where the last token checks are kept (outside the raw zone)."""
    return data_dir / "state" / "token-health.json"


def read_token_health(data_dir: Path) -> dict[str, TokenInfo]:
    """The last check of every channel's token."""
    stored = StateFile(token_health_file(data_dir)).read()
    return {key: TokenInfo(**value) for key, value in stored.items() if isinstance(value, dict)}


def write_token_health(data_dir: Path, checks: dict[str, TokenInfo]) -> None:
    """Merge new checks into the file."""
    file = StateFile(token_health_file(data_dir))
    file.write({**file.read(), **{key: asdict(info) for key, info in checks.items()}})


def classify(expires_at: dt.datetime | None, valid: bool | None, now: dt.datetime, warn_days: int) -> str:
    """ok, expiring (within ``warn_days``), expired, or unknown (the check itself failed)."""
    if valid is None:
        return "unknown"
    if not valid or (expires_at is not None and expires_at <= now):
        return "expired"
    if expires_at is not None and expires_at - now <= dt.timedelta(days=warn_days):
        return "expiring"
    return "ok"


def meta_token_expiry(
    client: httpx.Client, api_version: str, token: str
) -> tuple[dt.datetime | None, bool | None, str]:
    """Meta's ``GET /debug_token``: (expiry or None for never, valid or None if unknown, detail).

    The token inspects itself; an expired or invalid one is refused with error code 190.
    """
    response = client.get(
        f"/{api_version}/debug_token",
        params={"input_token": token},
        headers={"Authorization": f"OAuth {token}"},
    )
    body = _json(response)
    data = body.get("data") if isinstance(body.get("data"), dict) else None
    if response.status_code != 200 or data is None:
        error = _object(body.get("error"))
        message = redact(str(error.get("message", "")), [token])[:120]
        detail = f"debug_token answered {response.status_code}: {message}"
        return None, (False if error.get("code") == 190 else None), detail
    stamps = [
        int(data[k])
        for k in ("expires_at", "data_access_expires_at")
        if isinstance(data.get(k), int) and data[k] > 0
    ]
    expires = dt.datetime.fromtimestamp(min(stamps), dt.UTC) if stamps else None
    detail = (
        ""
        if data.get("is_valid")
        else redact(str((data.get("error") or {}).get("message", "invalid")), [token])[:120]
    )
    return expires, bool(data.get("is_valid")), detail


def tiktok_refresh_expiry(path: Path) -> dt.datetime | None:
    """The refresh token's expiry recorded in TikTok's rotated-token file, if any."""
    value = StateFile(path).read().get("refresh_expires_at")
    try:
        return dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def check_token(settings: Settings, channel: ChannelSettings, now: dt.datetime) -> TokenInfo | None:
    """Check one channel's token where its platform says when it expires (Meta, TikTok)."""
    from socmed.config import resolve_token

    plat = settings.platform(channel.platform)
    warn = settings.housekeeping.token_warn_days
    checked = now.isoformat(timespec="seconds")
    if channel.platform == "tiktok":
        state = settings.pipeline.data_dir / "state" / "tiktok" / channel.account_id
        path = (
            Path(str(plat.token_file).format(account_id=channel.account_id))
            if plat.token_file
            else state / "tiktok-token.json"
        )
        expires = tiktok_refresh_expiry(path)
        if expires is None:
            return None
        return TokenInfo(
            classify(expires, True, now, warn), expires.isoformat(), checked, "tiktok refresh token"
        )
    if channel.platform not in META_PLATFORMS:
        return None
    token = resolve_token(settings.token_source(channel), f"{settings.source}: channel {channel.key}")
    with httpx.Client(
        base_url=channel.base_url or plat.base_url or "", timeout=plat.timeout_seconds
    ) as client:
        expires, valid, detail = meta_token_expiry(
            client, plat.api_version or "v24.0", token.get_secret_value()
        )
    return TokenInfo(
        classify(expires, valid, now, warn),
        expires.isoformat() if expires else None,
        checked,
        "meta debug_token",
        detail,
    )
