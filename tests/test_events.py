"""Events: stable names and resources, the triggers and automations that match them, idempotent processing."""

from __future__ import annotations

import datetime as dt
import importlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import polars as pl
import pytest
import yaml
from prefect import Flow
from prefect.events.schemas.automations import AutomationCore, EventTrigger
from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
from prefect.events.schemas.events import Resource, ResourceSpecification, matches

from flows import events
from flows.events import INLINE, PENDING, ChannelRef, SocmedEvent
from socmed.automations import load_definitions, with_block
from validation.validate import ValidationResult
from warehouse.load import LoadResult

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENTS = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
KOTA = ChannelRef("instagram", "17841401000000001", "tangerangkota")
NOW = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)
RUN = "20261127T010000Z-abc123"


def landed(processing: str) -> SocmedEvent:
    location = f"raw/platform=instagram/account={KOTA.account}/date=2026-11-27/run={RUN}"
    return events.raw_landed(KOTA, RUN, location, processing, {"responses": 3})


def trigger(deployment: str) -> DeploymentEventTrigger:
    (only,) = DEPLOYMENTS[deployment]["triggers"]
    return DeploymentEventTrigger.model_validate(only)


def fires(spec: DeploymentEventTrigger | AutomationCore, event: SocmedEvent) -> bool:
    """Whether a trigger's expect and match select the event (Prefect's own matching)."""
    found = spec.trigger if isinstance(spec, AutomationCore) else spec
    assert isinstance(found, EventTrigger)
    expected = any(matches(name, event.event) for name in found.expect)
    match = found.match
    selector = match if isinstance(match, ResourceSpecification) else ResourceSpecification(match)
    return expected and selector.matches(Resource(event.resource))


def render(parameters: dict[str, str], event: SocmedEvent) -> dict[str, Any]:
    """The trigger's parameter templates rendered against the event, as Prefect does."""
    context = {"event": {"event": event.event, "resource": event.resource, "payload": event.payload}}
    return {k: jinja2.Template(v).render(**context) for k, v in parameters.items()}


def flow_of(deployment: str) -> Flow[..., Any]:
    path, _, name = DEPLOYMENTS[deployment]["entrypoint"].partition(":")
    flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)
    assert isinstance(flow, Flow)
    return flow


def test_raw_landed_names_the_batch_and_its_location() -> None:
    event = landed(PENDING)
    assert event.event == "socmed.raw.landed"
    assert event.resource == {
        "prefect.resource.id": f"socmed.raw.instagram.{KOTA.account}.{RUN}",
        "prefect.resource.name": f"instagram/@tangerangkota raw run {RUN}",
        "socmed.platform": "instagram",
        "socmed.account": KOTA.account,
        "socmed.channel": "instagram/@tangerangkota",
        "socmed.run-id": RUN,
        "socmed.raw.location": f"raw/platform=instagram/account={KOTA.account}/date=2026-11-27/run={RUN}",
        "socmed.processing": "pending",
    }
    assert event.related == [
        {
            "prefect.resource.id": f"socmed.channel.instagram.{KOTA.account}",
            "prefect.resource.role": "channel",
            "prefect.resource.name": KOTA.key,
        }
    ]


def test_announcing_the_same_batch_again_reuses_the_event_id() -> None:
    assert landed(PENDING).id == landed(PENDING).id  # Prefect's triggers skip an id seen before
    assert landed(PENDING).id != landed(INLINE).id
    other = events.raw_landed(KOTA, "20261127T020000Z-def456", "raw/x", PENDING, {})
    assert other.id != landed(PENDING).id
    assert isinstance(landed(PENDING).id, uuid.UUID)


def test_only_pending_batches_start_the_processing_deployment() -> None:
    process = trigger("process-raw")
    assert fires(process, landed(PENDING))
    assert not fires(process, landed(INLINE))  # the ingest flow processes its own batches
    assert not fires(process, events.webhook_received(KOTA, "meta/instagram", ["comments"], 1))
    params = render(process.parameters or {}, landed(PENDING))
    assert params == {"platform": "instagram", "account": KOTA.account, "run_id": RUN}
    flow_of("process-raw").validate_parameters({**DEPLOYMENTS["process-raw"]["parameters"], **params})


def test_a_webhook_event_starts_a_debounced_ingestion_of_its_channel() -> None:
    ingest = trigger("ingest-channel")
    event = events.webhook_received(KOTA, "meta/instagram", ["comments"], 2)
    assert fires(ingest, event) and not fires(ingest, landed(PENDING))
    assert ingest.for_each == {"prefect.resource.id"}  # debounced per channel
    assert ingest.within == ingest.schedule_after == dt.timedelta(seconds=60)
    params = render(ingest.parameters or {}, event)
    assert params == {"channel": "instagram/@tangerangkota"}
    flow_of("ingest-channel").validate_parameters({**DEPLOYMENTS["ingest-channel"]["parameters"], **params})


def test_every_scheduled_platform_deployment_selects_its_platform() -> None:
    from socmed.platforms import platform_names

    scheduled = {n: d for n, d in DEPLOYMENTS.items() if n.startswith("ingest-") and d.get("schedules")}
    platforms = {d["parameters"].get("platform") for d in scheduled.values()} - {None}
    assert platforms == set(platform_names()) - {"manual"}  # manual imports are dropped files
    assert all(s["timezone"] == "Asia/Jakarta" for d in scheduled.values() for s in d["schedules"])


def test_the_repository_automations_are_valid_and_match_our_events() -> None:
    block = str(uuid.uuid4())
    found = {d["name"]: AutomationCore.model_validate(with_block(d, block)) for d in load_definitions()}
    assert set(found) == {"socmed-flow-run-failed", "socmed-validation-failed", "socmed-token-expiry"}
    for automation in found.values():
        assert [str(a.block_document_id) for a in automation.actions] == [block]  # type: ignore[union-attr]
    failed = events.validation_failed(KOTA, RUN, "content", "socmed.content", 3, 40, False, {"x": 3})
    assert fires(found["socmed-validation-failed"], failed)
    expiring = events.token_health(KOTA, NOW + dt.timedelta(days=5), NOW, "environment variable T")
    assert expiring.event == "socmed.token.expiring" and fires(found["socmed-token-expiry"], expiring)
    expired = events.token_health(KOTA, None, NOW, "environment variable T")
    assert expired.event == "socmed.token.expired" and fires(found["socmed-token-expiry"], expired)
    watched = found["socmed-flow-run-failed"].trigger
    assert isinstance(watched, EventTrigger) and isinstance(watched.match_related, ResourceSpecification)
    related = watched.match_related
    for deployment in DEPLOYMENTS:  # every flow we deploy is watched for failures
        flow = flow_of(deployment)
        assert related.matches(
            Resource(
                {
                    "prefect.resource.id": "prefect.flow.1",
                    "prefect.resource.role": "flow",
                    "prefect.resource.name": flow.name,
                }
            )
        )


def result(table: str, rows: int, failed: int, failures: dict[str, int]) -> ValidationResult:
    frame = pl.DataFrame({"n": list(range(rows))})
    return ValidationResult(table, frame.slice(failed), frame.head(failed), failures, rows)


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[SocmedEvent]]:
    found: list[SocmedEvent] = []
    monkeypatch.setattr(events, "emit", found.append)
    yield found


def test_validation_failures_name_the_suite_the_share_and_whether_they_stopped_the_run(
    emitted: list[SocmedEvent],
) -> None:
    from socmed.config import ChannelSettings

    channel = ChannelSettings(platform="instagram", handle="tangerangkota", account_id=KOTA.account)
    results = {
        "content": result("content", 40, 3, {"expect_column_values_to_not_be_null(url)": 3}),
        "channel": result("channel", 1, 0, {}),
    }
    events.announce_validation(channel, RUN, results, max_share=0.10)
    events.announce_validation(channel, RUN, results, max_share=0.05)
    assert [
        (
            e.resource["socmed.suite"],
            e.resource["socmed.failure-share"],
            e.resource["socmed.blocking"],
            e.payload["rows_failed"],
            e.payload["expectations"],
        )
        for e in emitted
    ] == [
        ("socmed.content", "0.0750", "false", 3, {"expect_column_values_to_not_be_null(url)": 3}),
        ("socmed.content", "0.0750", "true", 3, {"expect_column_values_to_not_be_null(url)": 3}),
    ]  # the suite's share is 3/40; the run stops when 3 of 41 rows (7.3 %) is above the threshold


def test_a_completed_load_carries_its_row_counts(emitted: list[SocmedEvent]) -> None:
    from socmed.config import ChannelSettings

    channel = ChannelSettings(platform="instagram", handle="tangerangkota", account_id=KOTA.account)
    counts = {
        "content": {"in": 40, "loaded": 37, "inserted": 30, "updated": 2, "unchanged": 5, "quarantined": 3},
        "channel": {"in": 1, "loaded": 1, "inserted": 0, "updated": 0, "unchanged": 1, "quarantined": 0},
    }
    events.announce_load(channel, RUN, LoadResult("load-1", counts, 41, 38, 32))
    (event,) = emitted
    assert event.event == "socmed.load.completed"
    assert event.resource["prefect.resource.id"] == f"socmed.load.instagram.{KOTA.account}.{RUN}"
    assert event.payload == {
        "load_id": "load-1",
        "totals": {"rows_in": 41, "loaded": 38, "changed": 32, "quarantined": 3},
        "tables": {
            "content": {"rows_in": 40, "loaded": 37, "changed": 32, "quarantined": 3},
            "channel": {"rows_in": 1, "loaded": 1, "changed": 0, "quarantined": 0},
        },
    }


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from sandbox.server import Sandbox
    from tests.e2e_helpers import TOKEN_ENV

    monkeypatch.setenv(TOKEN_ENV, "sandbox-events-token")
    with Sandbox(
        as_of=dt.datetime.now(dt.UTC).date(), token="sandbox-events-token", media_per_account=12
    ) as sb:
        yield sb


@pytest.mark.slow
def test_ingest_announces_its_batches_and_a_pending_batch_is_processed_once(
    prefect_server: None, sandbox: Any, sqlite_url: str, tmp_path: Path, emitted: list[SocmedEvent]
) -> None:
    from flows.ingest import ingest
    from flows.process import process_raw
    from socmed import pipeline
    from socmed.config import ConfigError, load_settings
    from tests.e2e_helpers import dump, query, write_config

    config = write_config(tmp_path, sandbox.base_url, sqlite_url, sandbox.data)
    ingest(str(config))
    names = [(e.event, e.resource.get("socmed.processing")) for e in emitted]
    assert names == [("socmed.raw.landed", "inline"), ("socmed.load.completed", None)] * 2
    settings = load_settings(config)
    kota, now = settings.channels[0], dt.datetime.now(dt.UTC)
    run_id = pipeline.new_run_id(now)
    window, _ = pipeline.plan(settings, kota, pipeline.warehouse(sqlite_url), now)
    pipeline.fetch(settings, kota, run_id, window, now)  # landed by someone who does not process it
    emitted.clear()

    first = process_raw("instagram", kota.account_id, run_id, str(config))
    assert first.process is not None and first.process.loaded["content"] > 0
    before = dump(sqlite_url)
    second = process_raw("instagram", kota.account_id, run_id, str(config))  # the event came again
    assert second.process is None and second.status == "succeeded"
    assert dump(sqlite_url) == before
    assert query(sqlite_url, "SELECT count(*) FROM load_audit WHERE run_id = :r", r=run_id) == [(1,)]
    assert [e.event for e in emitted] == ["socmed.load.completed"]
    with pytest.raises(ConfigError, match="no channel"):
        process_raw("instagram", "999", run_id, str(config))
