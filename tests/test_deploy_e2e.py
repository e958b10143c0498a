"""End to end on a real Prefect server: prefect.yaml deployed, a process worker, events and a webhook.

The server runs on loopback in a subprocess with its own PREFECT_HOME; `prefect work-pool
create`, `socmed automations apply` and `prefect deploy --all` run exactly as the README says.
Then: a raw batch lands and its ``socmed.raw.landed`` event starts the processing deployment
(re-announcing it changes nothing), a signed Meta webhook starts a debounced ingestion of its
channel, a failed run notifies through the repository's automation, and headless Chromium
opens the processing run in the Prefect UI and finds its summary artifact. Latencies go to
``test-artifacts/deploy-e2e.json``, screenshots beside it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.events import PENDING, SocmedEvent, channel_of, raw_landed
from sandbox.server import Sandbox
from socmed import pipeline
from socmed.config import Settings, load_settings
from socmed.webhooks import sign
from tests.e2e_helpers import TOKEN_ENV, dump, query, write_config
from tests.prefect_stack import (
    BIN,
    ROOT,
    STACK_GROUP,
    VERIFY_TOKEN_ENV,
    WEBHOOK_SECRET_ENV,
    Browser,
    PrefectStack,
    assert_loaded_exactly_once,
    deployed_stack,
    free_port,
    project_dir,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.xdist_group(STACK_GROUP)]
TOKEN = "sandbox-deploy-e2e-token"
APP_SECRET = "meta-app-secret-for-e2e"
VERIFY_TOKEN = "verify-token-for-e2e"
ARTIFACTS = ROOT / "test-artifacts"


@dataclass
class World:
    """Everything the test drives."""

    stack: PrefectStack
    deployments: dict[str, str]
    sandbox: Sandbox
    settings: Settings
    config: Path
    warehouse: str
    receiver: str
    receiver_proc: Any
    timings: dict[str, float]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("deploy-e2e")
    project = project_dir(root / "project")
    sandbox = Sandbox(as_of=dt.datetime.now(dt.UTC).date(), token=TOKEN, media_per_account=12)
    with pytest.MonkeyPatch.context() as patch, sandbox:
        patch.setenv(TOKEN_ENV, TOKEN)  # this process lands a batch too
        port = free_port()
        warehouse = f"sqlite:///{project / 'data' / 'warehouse.db'}"
        config = write_config(project, sandbox.base_url, warehouse, sandbox.data)
        config.write_text(
            config.read_text() + f'\n[webhooks]\napp_secret_env = "{WEBHOOK_SECRET_ENV}"\n'
            f'verify_token_env = "{VERIFY_TOKEN_ENV}"\nport = {port}\n'
        )
        deployed = deployed_stack(root, config)
        stack = deployed.stack
        secrets = {WEBHOOK_SECRET_ENV: APP_SECRET, VERIFY_TOKEN_ENV: VERIFY_TOKEN}
        receiver = stack.spawn(
            "webhooks",
            [str(BIN / "socmed"), "webhooks", "serve", "--config", str(config), "--port", str(port)],
            stack.env(**secrets),
        )
        worker = stack.start_worker("e2e", project, {TOKEN_ENV: TOKEN})
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _up(f"{url}/healthz"), 60, "the webhook receiver")
        timings = {"stack_setup_seconds": round(deployed.setup_seconds, 1)}
        yield World(
            stack,
            deployed.deployments,
            sandbox,
            load_settings(config),
            config,
            warehouse,
            url,
            receiver,
            timings,
        )
        stack.stop_process(worker)
        stack.stop_process(receiver)


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def runs_of(world: World, deployment: str) -> list[dict[str, Any]]:
    """The flow runs of a deployment, oldest first."""
    body = {
        "deployments": {"id": {"any_": [world.deployments[deployment]]}},
        "sort": "EXPECTED_START_TIME_ASC",
    }
    return list(world.stack.api("POST", "/flow_runs/filter", body))


def finished(world: World, deployment: str, count: int, timeout: float) -> list[dict[str, Any]]:
    """Wait until ``count`` runs of the deployment are final; all its runs."""

    def done() -> list[dict[str, Any]] | None:
        world.stack.check_alive()
        runs = runs_of(world, deployment)
        final = [r for r in runs if r["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")]
        return runs if len(final) >= count else None

    return list(wait_for(done, timeout, f"{count} finished run(s) of {deployment}", every=1.0))


def post_event(
    world: World, event: SocmedEvent, occurred: dt.datetime, event_id: uuid.UUID | None = None
) -> None:
    """Send an event the way any emitter does: POST /api/events."""
    body = {
        "id": str(event_id or event.id or uuid.uuid4()),
        "occurred": occurred.isoformat(),
        "event": event.event,
        "resource": event.resource,
        "related": event.related,
        "payload": event.payload,
    }
    world.stack.api("POST", "/events", [body])


def land_batch(world: World, index: int) -> tuple[SocmedEvent, str]:
    """Fetch one channel into the raw zone without processing it; its pending raw-landed event."""
    settings, channel = world.settings, world.settings.channels[index]
    now = dt.datetime.now(dt.UTC)
    run_id = pipeline.new_run_id(now)
    window, _ = pipeline.plan(settings, channel, pipeline.warehouse(world.warehouse), now)
    fetched = pipeline.fetch(settings, channel, run_id, window, now)
    location = fetched.run_dir.relative_to(settings.pipeline.data_dir).as_posix()
    return raw_landed(
        channel_of(channel), run_id, location, PENDING, {"responses": fetched.responses}
    ), run_id


def seconds(later: str, earlier: dt.datetime | str) -> float:
    start = dt.datetime.fromisoformat(earlier) if isinstance(earlier, str) else earlier
    return round((dt.datetime.fromisoformat(later) - start).total_seconds(), 2)


def test_events_and_a_signed_webhook_run_the_deployments_and_the_ui_shows_the_summary(world: World) -> None:
    tv_id = world.sandbox.data.accounts[1].id
    body = json.dumps(
        {
            "object": "instagram",
            "entry": [
                {"id": tv_id, "time": 1764230400, "changes": [{"field": "comments", "value": {"id": "1"}}]}
            ],
        }
    ).encode()
    hook_sent = dt.datetime.now(dt.UTC)
    for signature in (None, sign(body, "not-the-app-secret")):  # refused before anything happens
        headers = {
            "Content-Type": "application/json",
            **({"X-Hub-Signature-256": signature} if signature else {}),
        }
        assert httpx.post(f"{world.receiver}/webhooks/meta", content=body, headers=headers).status_code in (
            401,
            403,
        )
    signed = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, APP_SECRET)}
    for _ in range(3):  # a burst of callbacks: one debounced ingestion
        assert httpx.post(f"{world.receiver}/webhooks/meta", content=body, headers=signed).status_code == 200

    event, run_id = land_batch(world, 0)
    occurred = dt.datetime.now(dt.UTC)
    post_event(world, event, occurred)
    (first,) = finished(world, "process-raw", 1, 240)
    assert (first["state_type"], first["parameters"]["run_id"]) == ("COMPLETED", run_id), first
    assert first["created_by"]["display_value"] == "socmed-raw-landed-processes-batch"
    world.timings["raw_landed_to_run_created_seconds"] = seconds(first["created"], occurred)
    world.timings["raw_landed_to_run_started_seconds"] = seconds(first["start_time"], occurred)
    world.timings["raw_landed_to_run_completed_seconds"] = seconds(first["end_time"], occurred)
    before = dump(world.warehouse)

    post_event(world, event, dt.datetime.now(dt.UTC))  # the same event again: Prefect skips its id
    post_event(world, event, dt.datetime.now(dt.UTC), uuid.uuid4())  # re-announced by someone else
    runs = finished(world, "process-raw", 2, 240)
    assert [r["state_type"] for r in runs] == ["COMPLETED", "COMPLETED"]
    assert dump(world.warehouse) == before  # the second processing changed nothing
    assert query(world.warehouse, "SELECT count(*) FROM load_audit WHERE run_id = :r", r=run_id) == [(1,)]

    failing = world.stack.api(
        "POST",
        f"/deployments/{world.deployments['ingest-channel']}/create_flow_run",
        {"parameters": {"channel": "instagram/@nobody"}},
    )
    (hooked, *rest) = [r for r in finished(world, "ingest-channel", 2, 300) if r["id"] != failing["id"]]
    assert rest == [] and hooked["parameters"]["channel"] == "instagram/@tangerangtv"
    assert hooked["state_type"] == "COMPLETED" and hooked["created_by"]["display_value"] == (
        "socmed-webhook-ingests-channel"
    )
    world.timings["webhook_to_run_created_seconds"] = seconds(hooked["created"], hook_sent)
    world.timings["webhook_to_run_started_seconds"] = seconds(hooked["start_time"], hook_sent)
    world.timings["webhook_to_run_completed_seconds"] = seconds(hooked["end_time"], hook_sent)
    jakarta_today = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Jakarta")).date()
    assert_loaded_exactly_once(world.warehouse, world.sandbox.data, jakarta_today)

    def notified() -> list[str]:
        lines = world.stack.log(world.receiver_proc).splitlines()
        return [line for line in lines if "prefect notification" in line and "nobody" in line]

    note = wait_for(notified, 120, "the failed-run notification")
    assert "Failed" in note[0], note

    shown = ui_shows_the_artifact(world, first["id"], run_id)
    world.timings["ui_seconds"] = shown
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "deploy-e2e.json").write_text(json.dumps(world.timings, indent=1))
    print(f"deploy e2e timings: {world.timings}")


def ui_shows_the_artifact(world: World, flow_run_id: str, run_id: str) -> float:
    """Open the flow run in the Prefect UI, its Artifacts tab, then the summary; screenshots of both."""
    started = time.monotonic()
    browser = Browser(world.stack.home / "chromium")
    try:
        browser.goto(f"{world.stack.ui_url}/runs/flow-run/{flow_run_id}")
        wait_for(lambda: browser.evaluate("!!document.querySelector('#artifacts')"), 90, "the run page")
        browser.evaluate("document.querySelector('#artifacts').click()")
        wait_for(
            lambda: "socmed-process-raw" in browser.text().split("Job Variables", 1)[-1],
            60,
            "the artifact card",
        )
        browser.screenshot(ARTIFACTS / "deploy-e2e-flow-run-artifacts.png")
        browser.evaluate(
            "Array.from(document.querySelectorAll('a'))"
            ".find(a => a.href.includes('/artifacts/artifact/')).click()"
        )
        text = wait_for(lambda: "Processed after" in browser.text() and browser.text(), 60, "the summary")
        browser.screenshot(ARTIFACTS / "deploy-e2e-summary-artifact.png")
    finally:
        browser.close()
    assert "instagram/@tangerangkota: succeeded" in text and run_id in text
    assert "content_metrics_daily" in text and "rows in" in text
    return round(time.monotonic() - started, 1)
