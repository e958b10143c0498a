"""Prefect objects kept in the repository, applied by `socmed automations apply`.

One command makes a Prefect server (or Cloud workspace) ready for the deployments in
``prefect.yaml``; it is idempotent, so run it after every change:

* per-platform global concurrency limits ``socmed-fetch-<platform>`` (``max_concurrent_fetches``
  under ``[platforms.<name>]``, default 2). The fetch task holds one slot while it talks to the
  API, so any number of workers on any number of hosts never fetch more than that at once;
* the notification block ``socmed-notify`` (``[notifications]``): a custom webhook posting
  ``{"subject", "body", "text"}`` JSON to the URL in ``$SOCMED_NOTIFY_URL`` (Slack-compatible),
  or, when that is not set, to the webhook receiver's ``/notifications`` route, which writes
  the notification as one log line;
* the automations in ``automations/*.yaml`` (Prefect's own automation schema), matched by
  name: created or updated, their ``send-notification`` actions pointed at the block.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import yaml

from socmed.config import Settings
from socmed.platforms import platform_names

AUTOMATIONS_DIR = Path(__file__).resolve().parents[1] / "automations"


def limit_name(platform: str) -> str:
    """The global concurrency limit that caps one platform's concurrent fetches."""
    return f"socmed-fetch-{platform}"


def fetch_limits(settings: Settings) -> dict[str, int]:
    """Limit name -> slots, for every platform the pipeline knows."""
    return {limit_name(p): settings.platform(p).max_concurrent_fetches for p in platform_names()}


@contextmanager
def fetch_slot(platform: str) -> Iterator[None]:
    """Hold one slot of the platform's limit while fetching (only against a Prefect server).

    Without a server (``socmed run``, the demo, tests on the ephemeral API) there is nothing
    to share, so no slot is taken; a missing limit is logged by Prefect and not enforced.
    """
    from prefect.concurrency.sync import concurrency
    from prefect.settings import get_current_settings

    shared = get_current_settings().api.url is not None
    with concurrency(limit_name(platform), occupy=1, strict=False) if shared else nullcontext():
        yield


def load_definitions(directory: Path = AUTOMATIONS_DIR) -> list[dict[str, Any]]:
    """The automation definitions kept in the repository, in file order."""
    found = []
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "name" not in data:
            raise ValueError(f"{path}: not an automation definition (a mapping with a name)")
        found.append(data)
    return found


def notification_url(settings: Settings) -> str:
    """Where notifications go: $SOCMED_NOTIFY_URL, else the receiver's log route."""
    hooks = settings.webhooks
    host = "127.0.0.1" if hooks.host in ("0.0.0.0", "::") else hooks.host
    return os.environ.get(settings.notifications.url_env) or f"http://{host}:{hooks.port}/notifications"


def with_block(definition: dict[str, Any], block_id: str) -> dict[str, Any]:
    """The definition with every send-notification action pointed at the block."""
    actions = [
        {**a, "block_document_id": block_id} if a.get("type") == "send-notification" else a
        for a in definition.get("actions", [])
    ]
    return {**definition, "actions": actions}


def _save_block(settings: Settings) -> str:
    """Create or update the notification block; its document id."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    block = CustomWebhookNotificationBlock(  # the URL is a secret value (Slack-style URLs are)
        name=settings.notifications.block_name,
        url="{{notify_url}}",
        json_data={"subject": "{{subject}}", "body": "{{body}}", "text": "{{subject}}\n{{body}}"},
        secrets={"notify_url": notification_url(settings)},
    )
    return str(block.save(settings.notifications.block_name, overwrite=True))


def _upsert_automation(client: Any, definition: dict[str, Any]) -> str:
    """Create the automation, or update the one of the same name; what was done."""
    from prefect.events.schemas.automations import AutomationCore

    automation = AutomationCore.model_validate(definition)
    existing = client.read_automations_by_name(automation.name)
    if existing:
        client.update_automation(existing[0].id, automation)
        for extra in existing[1:]:
            client.delete_automation(extra.id)
        return f"automation {automation.name}: updated"
    client.create_automation(automation)
    return f"automation {automation.name}: created"


def apply(settings: Settings, directory: Path = AUTOMATIONS_DIR) -> list[str]:
    """Apply limits, the notification block and the automations; one line per object."""
    from prefect.client.orchestration import get_client

    definitions = load_definitions(directory)
    done = []
    with get_client(sync_client=True) as client:
        for name, slots in fetch_limits(settings).items():
            client.upsert_global_concurrency_limit_by_name(name, slots)
            done.append(f"concurrency limit {name}: {slots}")
        block_id = _save_block(settings)
        target = (
            f"${settings.notifications.url_env}"
            if os.environ.get(settings.notifications.url_env)
            else notification_url(settings)
        )
        done.append(f"notification block {settings.notifications.block_name}: posts to {target}")
        for definition in definitions:
            done.append(_upsert_automation(client, with_block(definition, block_id)))
    return done
