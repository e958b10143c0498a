"""Scale-out: two process workers share one pool, one per-platform limit and one PostgreSQL warehouse.

Twenty Instagram channels are ingested by two runs of the ``ingest-instagram`` deployment
(ten channels each) while two ``ingest-channel`` runs of the first channel start at the same
moment, so that channel is ingested three times at once. Two workers (two runs each at most)
pick the runs from the ``socmed`` pool. Checked: every run completed, both workers ran
some, every row arrived exactly once (the sandbox's own totals), no more fetches talked to the
API at once than the ``socmed-fetch-instagram`` limit allows (measured from the raw zone's
request times, not from Prefect's bookkeeping), and every fetch took a slot.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import zoneinfo
from pathlib import Path
from typing import Any

import pytest

from sandbox.server import Fault, Sandbox
from socmed import paths
from tests.e2e_helpers import TOKEN_ENV, query, write_config
from tests.prefect_stack import (
    ROOT,
    STACK_GROUP,
    assert_loaded_exactly_once,
    deployed_stack,
    project_dir,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.xdist_group(STACK_GROUP)]
TOKEN = "sandbox-scale-out-token"
LIMIT = 2  # max_concurrent_fetches default


def fetch_intervals(data_dir: Path) -> list[tuple[float, float]]:
    """(first request sent, last response received) of every raw run, from the request records."""
    spans = []
    for run_dir in paths.raw_root(data_dir).glob("platform=*/account=*/date=*/run=*"):
        metas = [json.loads(p.read_text()) for p in run_dir.glob("*.meta.json")]
        received = [dt.datetime.fromisoformat(m["fetched_at"]).timestamp() for m in metas]
        sent = [r - m["elapsed_ms"] / 1000 for r, m in zip(received, metas, strict=True)]
        spans.append((min(sent), max(received)))
    return spans


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at the same instant."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in edges:  # at equal times an end (-1) sorts before a start
        running += step
        peak = max(peak, running)
    return peak


def test_twenty_channels_on_two_workers_arrive_exactly_once_within_the_limit(
    tmp_path_factory: pytest.TempPathFactory, pg_url: str
) -> None:
    root = tmp_path_factory.mktemp("scale-out")
    project = project_dir(root / "project")
    with (
        pytest.MonkeyPatch.context() as patch,
        Sandbox(
            as_of=dt.datetime.now(dt.UTC).date(), token=TOKEN, extra_accounts=18, media_per_account=8
        ) as sandbox,
    ):
        patch.setenv(TOKEN_ENV, TOKEN)
        # slow media pages (1 s each) make fetches long enough to overlap and meet the limit
        sandbox.inject(Fault(kind="timeout", path_contains="/media", times=10_000, delay=1.0))
        config = write_config(project, sandbox.base_url, pg_url, sandbox.data)
        deployed = deployed_stack(root, config)  # shared with the deployment e2e test when both run
        stack, ids = deployed.stack, deployed.deployments
        keys = [f"instagram/@{a.username}" for a in sandbox.data.accounts]
        assert len(keys) == 20
        workers = [
            stack.start_worker(name, project, {TOKEN_ENV: TOKEN}, limit=2) for name in ("scale-a", "scale-b")
        ]
        since = dt.datetime.now(dt.UTC).isoformat()
        try:
            started = time.monotonic()
            created = [
                stack.api(
                    "POST",
                    f"/deployments/{ids['ingest-instagram']}/create_flow_run",
                    {"parameters": {"channels": keys[i : i + 10]}},
                )
                for i in range(0, 20, 10)
            ] + [
                stack.api(
                    "POST",
                    f"/deployments/{ids['ingest-channel']}/create_flow_run",
                    {"parameters": {"channel": keys[0]}},
                )
                for _ in range(2)
            ]
            wanted = {run["id"] for run in created}

            def final() -> list[dict[str, Any]] | None:
                stack.check_alive()
                runs = stack.api("POST", "/flow_runs/filter", {"flow_runs": {"id": {"any_": sorted(wanted)}}})
                done = [r for r in runs if r["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")]
                return runs if len(done) == len(wanted) else None

            runs = wait_for(final, 420, "the four runs to finish", every=2.0)
            wall = time.monotonic() - started
            logs = {name: stack.log(w) for name, w in zip(("scale-a", "scale-b"), workers, strict=True)}
        finally:
            for worker in workers:
                stack.stop_process(worker)

        assert sorted(r["state_type"] for r in runs) == ["COMPLETED"] * 4, [
            (r["name"], r["state_name"]) for r in runs
        ]
        by_worker: dict[str, int] = {}
        for run in runs:  # the worker that won the run labels it
            name = run["labels"]["prefect.worker.name"]
            by_worker[name] = by_worker.get(name, 0) + 1
        assert sorted(by_worker) == ["scale-a", "scale-b"], (by_worker, logs)
        pair = [r for r in runs if r["parameters"].get("channel") == keys[0]]
        overlap = min(r["end_time"] for r in pair) > max(r["start_time"] for r in pair)

        assert_loaded_exactly_once(
            pg_url, sandbox.data, dt.datetime.now(zoneinfo.ZoneInfo("Asia/Jakarta")).date()
        )
        media = sum(sandbox.data.expected(a.id)["media_count"] for a in sandbox.data.accounts)
        assert query(pg_url, "SELECT count(*), count(DISTINCT (platform, content_id)) FROM content") == [
            (media, media)
        ]
        audits = query(pg_url, "SELECT channel_id, status FROM load_audit")
        assert sorted(a[1] for a in audits) == ["succeeded"] * 22
        first = sandbox.data.accounts[0].id
        assert sum(1 for a in audits if a[0] == first) == 3  # the doubly-run channel loaded thrice ...
        assert query(
            pg_url, "SELECT count(*) FROM sync_state WHERE channel_id = :c AND stream = 'media'", c=first
        ) == [(1,)]

        spans = fetch_intervals(project / "data")
        assert len(spans) == 22
        peak = most_at_once(spans)
        assert 1 <= peak <= LIMIT, spans
        acquired = stack.api(
            "POST",
            "/events/filter",
            {
                "filter": {
                    "event": {"name": ["prefect.concurrency-limit.acquired"]},
                    "resource": {"labels": {"prefect.resource.name": ["socmed-fetch-instagram"]}},
                    "occurred": {"since": since},
                },
                "limit": 50,
            },
        )
        result = {
            "runs": 4,
            "channel_ingestions": 22,
            "wall_seconds": round(wall, 1),
            "runs_per_worker": by_worker,
            "max_concurrent_fetches": peak,
            "limit": LIMIT,
            "slot_acquisitions": acquired["total"],
            "same_channel_runs_overlapped": overlap,
            "content_rows": media,
        }
        assert acquired["total"] == 22, result  # every fetch took a slot of the shared limit
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        (ROOT / "test-artifacts" / "scale-out.json").write_text(json.dumps(result, indent=1))
        print(f"scale-out: {result}")
