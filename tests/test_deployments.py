"""prefect.yaml loads, and every entrypoint it names imports as a Prefect flow."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml
from prefect import Flow

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_entrypoint_is_a_flow(deployment: dict[str, object]) -> None:
    path, _, name = str(deployment["entrypoint"]).partition(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    flow = getattr(module, name)
    assert isinstance(flow, Flow)
    params = set(flow.parameters.properties)
    assert set(deployment.get("parameters", {})) <= params  # type: ignore[arg-type]
    assert deployment["work_pool"]["name"] == "socmed"  # type: ignore[index]


def test_schedules_are_in_jakarta_time() -> None:
    schedules = [s for d in DEPLOYMENTS for s in d.get("schedules", [])]
    assert schedules and all(s["timezone"] == "Asia/Jakarta" for s in schedules)


def test_no_secret_values_in_prefect_yaml() -> None:
    text = (ROOT / "prefect.yaml").read_text().lower()
    assert "access_token" not in text and "secret:" not in text


def test_event_triggers_are_valid_deployment_triggers() -> None:
    from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger

    triggered = {d["name"]: d["triggers"] for d in DEPLOYMENTS if d.get("triggers")}
    assert sorted(triggered) == ["ingest-channel", "process-raw"]
    for triggers in triggered.values():
        for trigger in triggers:
            DeploymentEventTrigger.model_validate(trigger)
