"""The Prefect events the pipeline emits: stable names, resource ids, and the emit helpers.

Names and resources are a contract (automations, deployment triggers and dashboards match
them), so they are built here and nowhere else::

    socmed.raw.landed         socmed.raw.<platform>.<account>.<run_id>
                              labels: socmed.raw.location, socmed.processing (inline | pending)
    socmed.validation.failed  socmed.validation.<platform>.<account>.<run_id>.<table>
                              labels: socmed.suite, socmed.failure-share, socmed.blocking
    socmed.load.completed     socmed.load.<platform>.<account>.<run_id>
    socmed.token.expiring     socmed.token.<platform>.<account>   (labels: expires-at, days-left)
    socmed.token.expired      socmed.token.<platform>.<account>
    socmed.webhook.received   socmed.channel.<platform>.<account> (labels: socmed.channel)

Every resource also carries ``socmed.platform``, ``socmed.account`` and ``socmed.channel``
labels and names the channel as a related resource. Event ids are derived from the event
name and resource (uuid5) where the same fact may be re-announced: Prefect's triggers skip
an event id they have already seen, so a re-emitted raw-landed event starts nothing new.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from socmed.config import ChannelSettings, Settings
    from socmed.pipeline import FetchOutcome
    from validation.validate import ValidationResult
    from warehouse.load import LoadResult

RAW_LANDED = "socmed.raw.landed"
VALIDATION_FAILED = "socmed.validation.failed"
LOAD_COMPLETED = "socmed.load.completed"
TOKEN_EXPIRING = "socmed.token.expiring"
TOKEN_EXPIRED = "socmed.token.expired"
WEBHOOK_RECEIVED = "socmed.webhook.received"

INLINE = "inline"  # the flow that landed the batch processes it itself
PENDING = "pending"  # the processing deployment picks the batch up (its trigger matches this)

NAMESPACE = uuid.UUID("6f0c9b4e-1d7a-5c39-9a43-2b8f5e0d7c11")


@dataclass(frozen=True)
class ChannelRef:
    """The channel an event concerns."""

    platform: str
    account: str
    handle: str | None = None

    @property
    def key(self) -> str:
        """instagram/@tangerangkota, or platform/account when the handle is unknown."""
        return f"{self.platform}/@{self.handle}" if self.handle else f"{self.platform}/{self.account}"

    @property
    def resource_id(self) -> str:
        """The channel's Prefect resource id."""
        return f"socmed.channel.{self.platform}.{self.account}"

    def labels(self) -> dict[str, str]:
        """Labels every socmed resource carries."""
        return {"socmed.platform": self.platform, "socmed.account": self.account, "socmed.channel": self.key}

    def related(self) -> dict[str, str]:
        """The channel as a related resource."""
        return {
            "prefect.resource.id": self.resource_id,
            "prefect.resource.role": "channel",
            "prefect.resource.name": self.key,
        }


@dataclass(frozen=True)
class SocmedEvent:
    """One event, ready to emit."""

    event: str
    resource: dict[str, str]
    payload: dict[str, Any] = field(default_factory=dict)
    related: list[dict[str, str]] = field(default_factory=list)
    id: uuid.UUID | None = None
    occurred: dt.datetime | None = None


Emitter = Callable[[SocmedEvent], None]


def stable_id(event: str, resource_id: str) -> uuid.UUID:
    """The same id every time this event is announced for this resource."""
    return uuid.uuid5(NAMESPACE, f"{event}:{resource_id}")


def raw_landed(
    channel: ChannelRef, run_id: str, location: str, processing: str, payload: Mapping[str, Any]
) -> SocmedEvent:
    """Raw data landed: ``location`` is the run folder relative to the data directory."""
    rid = f"socmed.raw.{channel.platform}.{channel.account}.{run_id}"
    resource = {
        "prefect.resource.id": rid,
        "prefect.resource.name": f"{channel.key} raw run {run_id}",
        **channel.labels(),
        "socmed.run-id": run_id,
        "socmed.raw.location": location,
        "socmed.processing": processing,
    }
    # the same batch announced again for the same processing gets the same id
    event_id = stable_id(RAW_LANDED, f"{rid}:{processing}")
    return SocmedEvent(RAW_LANDED, resource, dict(payload), [channel.related()], event_id)


def validation_failed(
    channel: ChannelRef,
    run_id: str,
    table: str,
    suite: str,
    failed: int,
    rows_in: int,
    blocking: bool,
    expectations: Mapping[str, int],
) -> SocmedEvent:
    """A table's suite failed on some rows; ``blocking`` when the run's threshold was exceeded."""
    share = failed / rows_in if rows_in else 0.0
    rid = f"socmed.validation.{channel.platform}.{channel.account}.{run_id}.{table}"
    resource = {
        "prefect.resource.id": rid,
        "prefect.resource.name": f"{channel.key} {suite} run {run_id}",
        **channel.labels(),
        "socmed.run-id": run_id,
        "socmed.suite": suite,
        "socmed.failure-share": f"{share:.4f}",
        "socmed.blocking": str(blocking).lower(),
    }
    payload = {
        "table": table,
        "suite": suite,
        "rows_in": rows_in,
        "rows_failed": failed,
        "failure_share": round(share, 6),
        "blocking": blocking,
        "expectations": dict(expectations),
    }
    return SocmedEvent(
        VALIDATION_FAILED, resource, payload, [channel.related()], stable_id(VALIDATION_FAILED, rid)
    )


def load_completed(
    channel: ChannelRef, run_id: str, load_id: str, counts: Mapping[str, Mapping[str, int]]
) -> SocmedEvent:
    """A batch was loaded: per-table rows in, loaded, changed and quarantined."""
    rid = f"socmed.load.{channel.platform}.{channel.account}.{run_id}"
    totals = {
        k: sum(int(c.get(k, 0)) for c in counts.values())
        for k in ("rows_in", "loaded", "changed", "quarantined")
    }
    resource = {
        "prefect.resource.id": rid,
        "prefect.resource.name": f"{channel.key} load of run {run_id}",
        **channel.labels(),
        "socmed.run-id": run_id,
        "socmed.load-id": load_id,
    }
    payload = {"load_id": load_id, "totals": totals, "tables": {t: dict(c) for t, c in counts.items()}}
    return SocmedEvent(LOAD_COMPLETED, resource, payload, [channel.related()], stable_id(LOAD_COMPLETED, rid))


def token_health(
    channel: ChannelRef, expires_at: dt.datetime | None, now: dt.datetime, source: str, detail: str = ""
) -> SocmedEvent:
    """A token expires soon (``token.expiring``) or already has / is invalid (``token.expired``)."""
    expired = expires_at is None or expires_at <= now
    name = TOKEN_EXPIRED if expired else TOKEN_EXPIRING
    days = None if expires_at is None else max((expires_at - now).total_seconds(), 0) / 86400
    resource = {
        "prefect.resource.id": f"socmed.token.{channel.platform}.{channel.account}",
        "prefect.resource.name": f"{channel.key} access token",
        **channel.labels(),
        "socmed.token.source": source,
        "socmed.token.expires-at": expires_at.isoformat() if expires_at else "",
        "socmed.token.days-left": "" if days is None else f"{days:.1f}",
    }
    payload = {"expires_at": resource["socmed.token.expires-at"] or None, "days_left": days, "detail": detail}
    return SocmedEvent(name, resource, payload, [channel.related()], occurred=now)


def webhook_received(channel: ChannelRef, source: str, fields: list[str], entries: int) -> SocmedEvent:
    """A platform webhook said the channel changed: triggers a (debounced) ingestion."""
    resource = {
        "prefect.resource.id": channel.resource_id,
        "prefect.resource.name": channel.key,
        **channel.labels(),
    }
    payload = {"source": source, "fields": sorted(set(fields)), "entries": entries}
    return SocmedEvent(WEBHOOK_RECEIVED, resource, payload)


def channel_of(channel: ChannelSettings) -> ChannelRef:
    """The event view of a configured channel."""
    return ChannelRef(channel.platform, channel.account_id, channel.handle)


def announce_landing(
    settings: Settings, channel: ChannelSettings, fetched: FetchOutcome, processing: str
) -> None:
    """Emit ``socmed.raw.landed`` for a fetch that landed responses."""
    if not fetched.responses:
        return
    location = fetched.run_dir.relative_to(settings.pipeline.data_dir).as_posix()
    payload = {
        "responses": fetched.responses,
        "requests": fetched.requests,
        "error": fetched.error,
        "problems": len(fetched.problems),
        "raw_dir": str(fetched.run_dir),
    }
    emit(
        raw_landed(
            channel_of(channel), fetched.run_dir.name.removeprefix("run="), location, processing, payload
        )
    )


def announce_validation(
    channel: ChannelSettings, run_id: str, results: Mapping[str, ValidationResult], max_share: float
) -> None:
    """Emit ``socmed.validation.failed`` for every suite that quarantined rows."""
    from validation.suites import suite_name

    rows_in = sum(r.rows_in for r in results.values())
    failed_total = sum(r.quarantined.height for r in results.values())
    blocking = rows_in > 0 and failed_total / rows_in > max_share  # as validation.check_threshold
    for table, result in results.items():
        if result.quarantined.height:
            emit(
                validation_failed(
                    channel_of(channel),
                    run_id,
                    table,
                    suite_name(table),
                    result.quarantined.height,
                    result.rows_in,
                    blocking,
                    result.failures,
                )
            )


def announce_load(channel: ChannelSettings, run_id: str, loaded: LoadResult) -> None:
    """Emit ``socmed.load.completed`` with the per-table row counts."""
    counts = {
        t: {
            "rows_in": c.get("in", 0),
            "loaded": c.get("loaded", 0),
            "changed": c.get("inserted", 0) + c.get("updated", 0),
            "quarantined": c.get("quarantined", 0),
        }
        for t, c in loaded.table_counts.items()
    }
    emit(load_completed(channel_of(channel), run_id, loaded.load_id, counts))


def emit(event: SocmedEvent) -> None:
    """Send an event to the configured Prefect API (a no-op where events are disabled)."""
    from prefect.events import emit_event

    kwargs: dict[str, Any] = {"payload": event.payload, "related": event.related}
    if event.id is not None:
        kwargs["id"] = event.id
    if event.occurred is not None:
        kwargs["occurred"] = event.occurred
    emit_event(event.event, resource=event.resource, **kwargs)
