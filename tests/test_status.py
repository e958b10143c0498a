"""`socmed status`, token health and housekeeping, on a small hand-made warehouse."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, update

from connectors.base import RawResponse
from connectors.state import StateFile
from socmed import pipeline, status
from socmed.config import Settings, parse_settings
from socmed.rawzone import RawWriter
from socmed.status import TokenInfo
from warehouse.load import AuditInfo, load_batch, record_failed_load
from warehouse.models import Channel, ChannelMetricsDaily, LoadAudit

KOTA = "17841401000000001"
NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)  # 10:00 in Jakarta


def settings_for(tmp_path: Path, url: str, extra: dict[str, object] | None = None) -> Settings:
    data = {
        "pipeline": {"data_dir": str(tmp_path / "data")},
        "warehouse": {"url": url, "url_env": "SOCMED_STATUS_NO_SUCH_VAR"},
        "platforms": {
            "instagram": {"token_env": "SOCMED_STATUS_TOKEN", "base_url": "http://graph.test"},
            "tiktok": {"client_key_env": "K", "client_secret_env": "S", "refresh_token_env": "R"},
        },
        "channels": [
            {"platform": "instagram", "handle": "tangerangkota", "account_id": KOTA},
            {"platform": "tiktok", "handle": "tangerangkota", "account_id": "tt1", "token_env": "T"},
        ],
        **(extra or {}),
    }
    return parse_settings(data, tmp_path / "socmed.toml")


def audit(run_id: str, started: dt.datetime) -> AuditInfo:
    return AuditInfo(
        run_id=run_id,
        flow_run_id=None,
        platform="instagram",
        channel_id=KOTA,
        raw_files=[],
        started_at=started,
    )


def land(settings: Settings, run_id: str, fetched: dt.datetime, requests: int) -> Path:
    """A raw run of ``requests`` responses fetched at ``fetched``."""
    writer = RawWriter(settings.pipeline.data_dir, "instagram", KOTA, run_id, fetched.date())
    for _ in range(requests):
        writer.land(
            RawResponse(
                platform="instagram",
                account=KOTA,
                stream="media",
                method="GET",
                url="https://graph.test/v24.0/x",
                status=200,
                body=b"{}",
                fetched_at=fetched,
                elapsed_ms=1.0,
                attempt=1,
                context={},
            )
        )
    return writer.run_dir


def seed(settings: Settings, url: str) -> None:
    """Loads on Nov 25 (ok) and 26 (failed after it), observations on 5 of the last 14 days."""
    engine = pipeline.warehouse(url)
    load_batch(engine, {}, audit("20261125T170000Z-aaaaaa", dt.datetime(2026, 11, 25, 17, tzinfo=dt.UTC)))
    record_failed_load(
        engine,
        audit("20261126T170000Z-bbbbbb", NOW - dt.timedelta(hours=9)),
        "ValidationThresholdExceeded: 30% of rows failed",
    )
    row = {"platform": "instagram", "channel_id": KOTA, "run_id": "r", "raw_file": "f"}
    days = [dt.date(2026, 11, d) for d in (14, 20, 21, 25, 27)]
    finished = {
        "20261125T170000Z-aaaaaa": dt.datetime(2026, 11, 25, 17, 30, tzinfo=dt.UTC),
        "20261126T170000Z-bbbbbb": dt.datetime(2026, 11, 26, 18, 0, tzinfo=dt.UTC),
    }
    with engine.begin() as conn:
        for run_id, at in finished.items():  # the loads happened back then
            conn.execute(update(LoadAudit).where(LoadAudit.run_id == run_id).values(finished_at=at))
        conn.execute(
            insert(Channel),
            [
                {
                    **row,
                    "handle": "tangerangkota",
                    "timezone": "Asia/Jakarta",
                    "first_seen_at": NOW,
                    "last_seen_at": NOW,
                }
            ],
        )
        conn.execute(
            insert(ChannelMetricsDaily),
            [{**row, "snapshot_date": d, "followers": 217_000, "fetched_at": NOW} for d in days],
        )


def test_status_shows_freshness_failures_rows_requests_coverage_and_token(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = settings_for(tmp_path, sqlite_url)
    seed(settings, sqlite_url)
    land(settings, "20261127T010000Z-cccccc", NOW - dt.timedelta(hours=2), 3)
    land(settings, "20261125T010000Z-dddddd", NOW - dt.timedelta(days=2), 5)  # not in the last 24 h
    status.write_token_health(
        settings.pipeline.data_dir,
        {
            "instagram/@tangerangkota": TokenInfo(
                "expiring", "2026-12-01T00:00:00+00:00", NOW.isoformat(), "meta debug_token"
            )
        },
    )
    kota = status.channel_status(settings, pipeline.warehouse(sqlite_url), settings.channels[0], NOW)
    assert (kota.last_success is not None and kota.last_run_id) == "20261125T170000Z-aaaaaa"
    assert kota.freshness_hours is not None and 33 < kota.freshness_hours < 35
    assert kota.open_failures == [
        "2026-11-26 18:00 run 20261126T170000Z-bbbbbb: ValidationThresholdExceeded: 30% of rows failed"
    ]
    assert kota.rows == {"content": 0, "content_metrics_daily": 0, "channel_metrics_daily": 5}
    assert kota.requests_24h == 3
    assert kota.token is not None and kota.token.status == "expiring"
    assert next(iter(kota.coverage)) == "2026-11-14" and len(kota.coverage) == 14
    assert kota.missing_dates == [f"2026-11-{d}" for d in (15, 16, 17, 18, 19, 22, 23, 24, 26)]
    text = status.render([kota])
    assert "  coverage       2026-11-14 #.....##...#.# (# data, . none)" in text
    assert "  open failures  1" in text and "expiring, expires 2026-12-01T00:00:00+00:00" in text
    assert json.loads(status.as_json([kota]))[0]["missing_dates"] == kota.missing_dates


def test_a_later_success_closes_the_failures(tmp_path: Path, sqlite_url: str) -> None:
    settings = settings_for(tmp_path, sqlite_url)
    seed(settings, sqlite_url)
    load_batch(pipeline.warehouse(sqlite_url), {}, audit("20261127T020000Z-eeeeee", NOW))  # finished: now
    kota = status.channel_status(settings, pipeline.warehouse(sqlite_url), settings.channels[0], NOW)
    assert kota.open_failures == [] and kota.last_run_id == "20261127T020000Z-eeeeee"
    assert status.succeeded_load(pipeline.warehouse(sqlite_url), "20261126T170000Z-bbbbbb") is None
    assert status.succeeded_load(pipeline.warehouse(sqlite_url), "20261127T020000Z-eeeeee") is not None


def debug_token(reply: httpx.Response) -> tuple[dt.datetime | None, bool | None, str]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return reply

    with httpx.Client(base_url="http://graph.test", transport=httpx.MockTransport(handler)) as client:
        found = status.meta_token_expiry(client, "v24.0", "EAAtoken123")
    assert seen[0].url.path == "/v24.0/debug_token" and seen[0].url.params["input_token"] == "EAAtoken123"
    return found


def test_meta_debug_token_gives_the_expiry() -> None:
    soon, later = int(dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp()), 1_900_000_000
    data = {"data": {"is_valid": True, "expires_at": later, "data_access_expires_at": soon, "type": "USER"}}
    assert debug_token(httpx.Response(200, json=data)) == (dt.datetime(2026, 12, 1, tzinfo=dt.UTC), True, "")
    never = {"data": {"is_valid": True, "expires_at": 0, "data_access_expires_at": 0, "type": "PAGE"}}
    assert debug_token(httpx.Response(200, json=never)) == (None, True, "")
    invalid = {"data": {"is_valid": False, "expires_at": 1, "error": {"message": "Session has expired"}}}
    assert debug_token(httpx.Response(200, json=invalid))[1:] == (False, "Session has expired")
    refused = {"error": {"message": "Error validating access token EAAtoken123", "code": 190}}
    expires, valid, detail = debug_token(httpx.Response(400, json=refused))
    assert (expires, valid) == (None, False) and "EAAtoken123" not in detail
    assert debug_token(httpx.Response(500, text="oops"))[1] is None  # unknown: the check failed


def test_classify_warns_days_before_expiry() -> None:
    assert status.classify(NOW + dt.timedelta(days=30), True, NOW, 10) == "ok"
    assert status.classify(NOW + dt.timedelta(days=9), True, NOW, 10) == "expiring"
    assert status.classify(NOW - dt.timedelta(seconds=1), True, NOW, 10) == "expired"
    assert status.classify(None, True, NOW, 10) == "ok"
    assert status.classify(None, False, NOW, 10) == "expired"
    assert status.classify(None, None, NOW, 10) == "unknown"


def test_tiktok_token_health_reads_the_rotated_refresh_token_expiry(tmp_path: Path, sqlite_url: str) -> None:
    settings = settings_for(tmp_path, sqlite_url)
    tiktok = settings.channels[1]
    assert status.check_token(settings, tiktok, NOW) is None  # never refreshed yet: nothing known
    state = settings.pipeline.data_dir / "state" / "tiktok" / "tt1" / "tiktok-token.json"
    StateFile(state).write({"refresh_expires_at": (NOW + dt.timedelta(days=3)).isoformat()})
    info = status.check_token(settings, tiktok, NOW)
    assert info is not None and (info.status, info.source) == ("expiring", "tiktok refresh token")


@pytest.mark.slow
def test_token_health_flow_emits_events_and_feeds_status(
    prefect_server: None, tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import housekeeping
    from flows.events import SocmedEvent

    settings = settings_for(tmp_path, sqlite_url)
    config = tmp_path / "socmed.toml"
    config.write_text(
        f'[pipeline]\ndata_dir = "data"\n[warehouse]\nurl = "{sqlite_url}"\n'
        f'[[channels]]\nplatform = "instagram"\nhandle = "tangerangkota"\naccount_id = "{KOTA}"\n'
        'token_env = "SOCMED_STATUS_TOKEN"\n'
    )
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(days=4)
    monkeypatch.setattr(
        housekeeping,
        "check_token",
        lambda s, c, now: TokenInfo(
            status.classify(expiry, True, now, 10), expiry.isoformat(), now.isoformat(), "meta debug_token"
        ),
    )
    sent: list[SocmedEvent] = []
    monkeypatch.setattr(housekeeping, "emit", sent.append)
    assert housekeeping.token_health_check(str(config)) == {"instagram/@tangerangkota": "expiring"}
    assert [(e.event, e.resource["prefect.resource.id"]) for e in sent] == [
        ("socmed.token.expiring", f"socmed.token.instagram.{KOTA}")
    ]
    assert (
        status.read_token_health(settings.pipeline.data_dir)["instagram/@tangerangkota"].status == "expiring"
    )


def test_raw_files_are_pruned_only_when_loaded_and_older_than_the_retention(
    tmp_path: Path, sqlite_url: str
) -> None:
    from flows.housekeeping import prune_raw

    settings = settings_for(tmp_path, sqlite_url, {"housekeeping": {"raw_retention_days": 30}})
    old_loaded = land(settings, "20260901T010000Z-aaaaaa", dt.datetime(2026, 9, 1, 1, tzinfo=dt.UTC), 2)
    old_unloaded = land(settings, "20260902T010000Z-bbbbbb", dt.datetime(2026, 9, 2, 1, tzinfo=dt.UTC), 2)
    recent = land(settings, "20261120T010000Z-cccccc", dt.datetime(2026, 11, 20, 1, tzinfo=dt.UTC), 2)
    engine = pipeline.warehouse(sqlite_url)
    for run in (old_loaded, recent):
        load_batch(engine, {}, audit(run.name.removeprefix("run="), NOW))
    before = NOW.date() - dt.timedelta(days=30)
    assert prune_raw(settings, before, dry_run=True) == (1, 1) and old_loaded.exists()
    assert prune_raw(settings, before, dry_run=False) == (1, 1)
    assert not old_loaded.exists() and not old_loaded.parent.exists()  # the empty date folder went too
    assert old_unloaded.exists() and recent.exists()


@pytest.mark.slow
def test_housekeeping_prunes_old_runs_and_keeps_raw_files_by_default(
    prefect_server: None, tmp_path: Path, sqlite_url: str
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from flows.housekeeping import housekeeping, old_flow_runs, prune_flow_runs

    @flow(name="socmed-test-probe")
    def probe() -> int:
        return 1

    state = probe(return_state=True)
    run_id = str(state.state_details.flow_run_id)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    assert run_id in old_flow_runs(later, prefix="socmed-test-probe")
    assert run_id not in old_flow_runs(later - dt.timedelta(days=1), prefix="socmed-test-probe")
    assert prune_flow_runs.fn(later, dry_run=False, prefix="socmed-test-probe") >= 1
    assert state.state_details.flow_run_id is not None
    with get_client(sync_client=True) as client, pytest.raises(ObjectNotFound):
        client.read_flow_run(state.state_details.flow_run_id)
    settings = settings_for(tmp_path, sqlite_url)
    raw = land(settings, "20200101T010000Z-aaaaaa", dt.datetime(2020, 1, 1, 1, tzinfo=dt.UTC), 1)
    config = tmp_path / "socmed.toml"
    config.write_text(
        f'[pipeline]\ndata_dir = "data"\n[warehouse]\nurl = "{sqlite_url}"\n'
        f'[[channels]]\nplatform = "instagram"\nhandle = "k"\naccount_id = "{KOTA}"\ntoken_env = "T"\n'
    )
    done = housekeeping(str(config), dry_run=True)
    assert set(done) == {"flow_runs"} and raw.exists()  # no raw retention set: raw files stay
