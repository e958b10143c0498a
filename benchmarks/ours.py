"""Our pipeline as the benchmark runs it: the reprocess flow, and the same stages without Prefect."""

from __future__ import annotations

import asyncio
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import cpu
from benchmarks.generate import account_id, load_truth
from socmed import pipeline
from socmed.batches import PreparedBatch, load_prepared, plan_batches, prepare_batch
from socmed.config import load_settings
from socmed.heap import long_lived_frozen
from socmed.rawzone import list_runs
from warehouse.campaigns import refresh_campaigns

MIB = 1024 * 1024


def write_config(work_dir: Path, data_dir: Path, url: str) -> Path:
    """A socmed.toml over the generated raw zone, with every benchmark account as a channel."""
    channels = "".join(
        f'\n[[channels]]\nplatform = "instagram"\nhandle = "kota_bench_{i:04d}"\n'
        f'account_id = "{account_id(i)}"\n'
        for i in range(load_truth(data_dir).channel)
    )
    path = work_dir / f"socmed-{abs(hash(url)) % 10**8}.toml"
    path.write_text(
        f'[pipeline]\ndata_dir = "{data_dir}"\n\n[warehouse]\nurl = "{url}"\n\n'
        f'[platforms.instagram]\ntoken_env = "SOCMED_BENCH_TOKEN"\n{channels}',
        encoding="utf-8",
    )
    return path


def clear_outputs(data_dir: Path) -> None:
    """Remove the Parquet and quarantine zones a previous contender wrote (the raw zone stays)."""
    for zone in ("parquet", "quarantine"):
        shutil.rmtree(data_dir / zone, ignore_errors=True)


def warm_up(prefect: bool) -> None:
    """Process start-up costs, paid before any clock starts: the GE context, the Prefect client
    and the imports of its first flow call with parameters (FastAPI's encoder, 0.13 s here).
    """
    from prefect import flow

    from validation.validate import _runtime

    @flow(name="bench-warm-up")
    def nothing(config_path: str = "") -> None:
        """Start the Prefect client; a parameter, as Prefect imports FastAPI to serialise the first."""

    _runtime()  # the in-memory GE context and suites, built once per process
    if prefect:
        nothing("warm-up")


def run_flow(config: Path, batch_mb: int) -> dict[str, Any]:
    """The reprocess flow end to end (Prefect included); per-stage seconds from its reports."""
    from flows.reprocess import reprocess, stage_seconds

    warm_up(prefect=True)
    settings = load_settings(config)
    clear_outputs(settings.pipeline.data_dir)
    pipeline.warehouse(settings.warehouse_url())  # migrate before the clock starts
    start = time.perf_counter()
    with cpu.measure() as used:
        reports = asyncio.run(reprocess(str(config), platform="instagram", batch_mb=batch_mb))
    seconds = time.perf_counter() - start
    failed = [r.errors for r in reports if r.status != "succeeded"]
    return {
        "seconds": seconds,
        "cpu": vars(used),
        "stages": stage_seconds(reports),
        "runs": len(reports),
        "failed": failed[:3],
    }


def run_plain(config: Path, batch_mb: int) -> dict[str, Any]:
    """The same batches, overlap and closing campaign refresh as the flow, as plain calls (no Prefect)."""
    warm_up(prefect=False)
    settings = load_settings(config)
    clear_outputs(settings.pipeline.data_dir)
    engine = pipeline.warehouse(settings.warehouse_url())
    start = time.perf_counter()
    runs = list_runs(settings.pipeline.data_dir, "instagram")
    outcomes = []
    with cpu.measure() as used, long_lived_frozen(), ThreadPoolExecutor(1) as pool:
        loading: Future[None] | None = None
        for batch in plan_batches(runs, batch_mb * MIB):
            prepared: PreparedBatch = prepare_batch(settings, batch, None)
            if loading is not None:
                loading.result()
            loading = pool.submit(load_prepared, engine, prepared)
            outcomes += prepared.outcomes
        if loading is not None:
            loading.result()
        refresh_campaigns(engine, list(settings.campaigns))  # the flow's last step too
    seconds = time.perf_counter() - start
    stages: dict[str, float] = {}
    for outcome in outcomes:
        for stage, value in outcome.seconds.items():
            stages[stage] = stages.get(stage, 0.0) + value
    return {
        "seconds": seconds,
        "cpu": vars(used),
        "stages": {k: round(v, 2) for k, v in stages.items()},
        "runs": len(outcomes),
    }
