"""Reprocessing in bounded batches: the raw zone streamed as slices of runs, many runs a batch.

A *slice* is one run's responses, or, for a run larger than the byte budget, a part of it cut
before a response that starts a new group (a media page, never between a page and the
lookups that complete it). A *batch* gathers consecutive slices up to the budget (decompressed
body bytes). Each slice is transformed and written to Parquet on its own; the batch is
validated with one Great Expectations call per table (keys unique per run, see
``validate_batch(per_run=True)``) and loaded in one transaction, run by run in arrival order,
with one audit row per slice. Memory is bounded by the budget, not by a run or the raw zone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine

from socmed import paths
from socmed.config import ChannelSettings, Settings
from socmed.pipeline import ProcessOutcome, channel_ref, quarantine_reasons
from socmed.platforms import Platform, get_platform
from socmed.rawzone import StoredResponse, read_body
from transforms.parquet import QUARANTINE_COLUMN, write_slices
from transforms.runs import SLICE, RunInput, RunsResult
from validation.validate import (
    SEPARATOR,
    ValidationResult,
    ValidationThresholdExceeded,
    check_threshold,
    validate_batch,
)
from warehouse.load import AuditInfo, load_runs, record_failed_load

DEFAULT_BATCH_BYTES = 96 * 1024 * 1024
FIRST_SHARE = 4  # the first batch's budget is a quarter of the others' (``plan_batches``)
# Streams a run may be cut before; a platform not listed here is never cut inside a run.
CUT_BEFORE = {"instagram": frozenset({"account", "media", "account_insights"})}
_WRITERS = 8  # Parquet files written at once: their fsyncs share journal commits


@dataclass(frozen=True)
class Slice:
    """Consecutive responses of one run (``part`` 0: the whole run; 1, 2, ...: its parts)."""

    run_dir: Path
    metas: tuple[dict[str, Any], ...]
    part: int = 0

    @property
    def run_id(self) -> str:
        return str(self.metas[0]["run_id"])

    @property
    def body_bytes(self) -> int:
        return sum(int(m.get("body_bytes") or 0) for m in self.metas)

    @property
    def file_id(self) -> str:
        """The run id its Parquet files are named by (``<run>.partNNNN`` for a part)."""
        return self.run_id if self.part == 0 else f"{self.run_id}.part{self.part:04d}"


@dataclass(frozen=True)
class Batch:
    """Consecutive slices processed, validated and loaded together."""

    number: int
    slices: tuple[Slice, ...]


def plan_batches(
    runs: Iterable[Path], max_bytes: int = DEFAULT_BATCH_BYTES, first_bytes: int | None = None
) -> Iterator[Batch]:
    """Batches of slices in arrival order, each within its budget unless one slice is larger.

    The first batch's budget is ``first_bytes`` (default: ``max_bytes // FIRST_SHARE``). Nothing
    overlaps its preparation (batch n loads while batch n+1 is prepared), so a small first
    batch starts the loads sooner. Two slices of one run never share a batch.
    """
    budget = max_bytes // FIRST_SHARE if first_bytes is None else first_bytes
    pending: list[Slice] = []
    seen: set[Path] = set()
    size = number = 0
    for run_dir in runs:
        for piece in run_slices(run_dir, max_bytes):
            if pending and (size + piece.body_bytes > budget or piece.run_dir in seen):
                number += 1
                yield Batch(number, tuple(pending))
                pending, size, seen, budget = [], 0, set(), max_bytes
            pending.append(piece)
            size += piece.body_bytes
            seen.add(piece.run_dir)
    if pending:
        yield Batch(number + 1, tuple(pending))


def run_slices(run_dir: Path, max_bytes: int) -> Iterator[Slice]:
    """A run as one slice, or as parts cut before group-starting responses once over budget."""
    metas = [json.loads(p.read_text()) for p in sorted(run_dir.glob("*.meta.json"))]
    if not metas:
        return
    cuttable = CUT_BEFORE.get(str(metas[0].get("platform")), frozenset())
    if sum(int(m.get("body_bytes") or 0) for m in metas) <= max_bytes or not cuttable:
        yield Slice(run_dir, tuple(metas))
        return
    part, start, size = 1, 0, 0
    for index, meta in enumerate(metas):
        if size >= max_bytes and meta.get("stream") in cuttable:
            yield Slice(run_dir, tuple(metas[start:index]), part)
            part, start, size = part + 1, index, 0
        size += int(meta.get("body_bytes") or 0)
    yield Slice(run_dir, tuple(metas[start:]), part)


def read_slice(data_dir: Path, piece: Slice) -> list[StoredResponse]:
    """The slice's responses with their bodies, in arrival order."""
    out = []
    for meta in piece.metas:
        body_path = piece.run_dir / paths.raw_body_name(int(meta["seq"]), str(meta["stream"]))
        body = read_body(body_path)
        out.append(StoredResponse(meta=meta, body=body, raw_file=body_path.relative_to(data_dir).as_posix()))
    return out


def channel_for(settings: Settings, platform: str, account: str) -> ChannelSettings:
    """The configured channel of raw data, or default settings for a channel no longer configured."""
    for channel in settings.channels:
        if channel.platform == platform and channel.account_id == account:
            return channel
    return ChannelSettings(platform=platform, handle=account, account_id=account)


@dataclass
class PreparedBatch:
    """A batch transformed, written to Parquet and validated, ready to load."""

    batch: Batch
    outcomes: list[ProcessOutcome]
    audits: list[AuditInfo]
    errors: list[str | None]  # why a slice will not load (its quarantine threshold), or None
    good: dict[str, pl.DataFrame] = field(default_factory=dict)
    loaded: bool = False  # set once loaded; ``good`` is then emptied


def prepare_batch(settings: Settings, batch: Batch, flow_run_id: str | None) -> PreparedBatch:
    """Read and transform the batch's slices, write Parquet per slice; validate the whole batch."""
    data_dir, clock = settings.pipeline.data_dir, _Clock()
    result, audits = _read_and_transform(settings, batch, flow_run_id, clock)
    outcomes = [
        ProcessOutcome(p.run_id, problems=found)
        for p, found in zip(batch.slices, result.problems, strict=True)
    ]
    joined = result.frames
    del result  # the frames are let go once validated (``results`` holds what is kept of them)
    clock.time("parquet", functools.partial(_write_zone, data_dir, batch, joined, outcomes, "parquet"))
    now = max(_fetched_at(m) for piece in batch.slices for m in piece.metas)
    results = clock.time("validate", functools.partial(validate_batch, joined, now, per_run=True))
    del joined
    mine = _slice_results(results, len(outcomes))
    quarantine = {t: r.quarantined for t, r in results.items() if r.quarantined.height}
    clock.time("parquet", lambda: _write_zone(data_dir, batch, quarantine, outcomes, "quarantine"))
    prepared = _account_for(settings, batch, mine, outcomes, audits)
    clock.share(outcomes, [piece.body_bytes for piece in batch.slices])
    return prepared


def _read_and_transform(
    settings: Settings, batch: Batch, flow_run_id: str | None, clock: _Clock
) -> tuple[RunsResult, list[AuditInfo]]:
    """The batch's frames and each slice's audit facts (the bodies are let go on return)."""
    channels = [
        channel_for(settings, str(p.metas[0]["platform"]), str(p.metas[0]["account"])) for p in batch.slices
    ]
    data_dir = settings.pipeline.data_dir
    responses = clock.time("read", lambda: [read_slice(data_dir, p) for p in batch.slices])
    result = clock.time("transform", lambda: transform_slices(list(zip(responses, channels, strict=True))))
    audits = [_audit(*args, flow_run_id) for args in zip(batch.slices, channels, responses, strict=True)]
    return result, audits


def transform_slices(slices: list[tuple[list[StoredResponse], ChannelSettings]]) -> RunsResult:
    """Every slice transformed as if alone: frames with ``SLICE`` (the slice's position), problems per slice.

    A platform with a several-run transform gets all its slices in one call; others run slice by slice.
    """
    frames: list[dict[str, pl.DataFrame]] = []
    problems: list[list[str]] = [[] for _ in slices]
    for name, positions in _by_platform(slices).items():
        platform = get_platform(name)
        runs = [(slices[i][0], channel_ref(slices[i][1])) for i in positions]
        found = platform.transform_runs(runs) if platform.transform_runs else _one_by_one(platform, runs)
        where = pl.Series(positions, dtype=pl.UInt32)
        frames.append(
            {t: f.with_columns(where.gather(f[SLICE]).alias(SLICE)) for t, f in found.frames.items()}
        )
        for position, mine in zip(positions, found.problems, strict=True):
            problems[position] = mine
    tables = dict.fromkeys(t for found in frames for t in found)
    joined = {t: _in_slice_order(pl.concat([f[t] for f in frames if t in f])) for t in tables}
    return RunsResult(joined, problems)


def _in_slice_order(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame's rows by ``SLICE``, in order within a slice (as is, without a copy, if already so)."""
    return frame if frame[SLICE].is_sorted() else frame.sort(SLICE, maintain_order=True)


def _one_by_one(platform: Platform, runs: Sequence[RunInput]) -> RunsResult:
    """A platform without a several-run transform: each run alone, its frames tagged with its position."""
    alone = [platform.transform(*run) for run in runs]
    tables = dict.fromkeys(t for result in alone for t in result.frames)
    tagged = {
        t: pl.concat(
            [
                r.frames[t].with_columns(pl.lit(k, pl.UInt32).alias(SLICE))
                for k, r in enumerate(alone)
                if t in r.frames
            ]
        )
        for t in tables
    }
    return RunsResult(tagged, [r.problems for r in alone])


def _by_platform(slices: list[tuple[list[StoredResponse], ChannelSettings]]) -> dict[str, list[int]]:
    """Slice positions by platform, in order."""
    found: dict[str, list[int]] = {}
    for index, (_, channel) in enumerate(slices):
        found.setdefault(channel.platform, []).append(index)
    return found


def _audit(
    piece: Slice, channel: ChannelSettings, responses: list[StoredResponse], flow_run_id: str | None
) -> AuditInfo:
    """The audit facts of a slice (quarantine counts come after validation)."""
    return AuditInfo(
        run_id=piece.run_id,
        flow_run_id=flow_run_id,
        platform=channel.platform,
        channel_id=channel.account_id,
        raw_files=[r.raw_file for r in responses],
        started_at=_fetched_at(piece.metas[0]),
    )


def _fetched_at(meta: dict[str, Any]) -> dt.datetime:
    """A response's fetch time."""
    return dt.datetime.fromisoformat(str(meta["fetched_at"]))


def _slice_results(results: dict[str, ValidationResult], count: int) -> list[dict[str, ValidationResult]]:
    """Each slice's share of the batch's validation results, failures counted from its reasons."""
    out: list[dict[str, ValidationResult]] = [{} for _ in range(count)]
    for table, result in results.items():
        good, bad = _by_slice(result.good, count), _by_slice(result.quarantined, count)
        labels: list[Counter[str]] = [Counter() for _ in range(count)]
        if result.quarantined.height:
            reasons = result.quarantined.select(SLICE, pl.col(QUARANTINE_COLUMN).str.split(SEPARATOR))
            exploded = reasons.explode(QUARANTINE_COLUMN)
            counted = exploded.group_by(SLICE, QUARANTINE_COLUMN, maintain_order=True).len()
            for index, label, number in counted.iter_rows():
                labels[index][label] = number
        for index in range(count):
            mine, rejected = good[index], bad[index]
            rows_in = mine.height + rejected.height
            out[index][table] = ValidationResult(table, mine, rejected, dict(labels[index]), rows_in)
    return out


def _by_slice(frame: pl.DataFrame, count: int) -> list[pl.DataFrame]:
    """The frame's rows of each slice, in order and without ``SLICE`` (empty for a slice without rows).

    A frame in slice order (as the batch's frames are) is cut into ranges, which share the
    frame's memory; any other is partitioned (copied).
    """
    slices = frame[SLICE]
    if slices.is_sorted():
        bounds = slices.search_sorted(pl.Series(range(count + 1), dtype=slices.dtype), side="left").to_list()
        rest = frame.drop(SLICE)
        return [rest.slice(start, end - start) for start, end in itertools.pairwise(bounds)]
    parts = {int(key[0]): part.drop(SLICE) for key, part in frame.partition_by(SLICE, as_dict=True).items()}  # type: ignore[call-overload]
    empty = frame.clear().drop(SLICE)
    return [parts.get(index, empty) for index in range(count)]


def _account_for(
    settings: Settings,
    batch: Batch,
    mine: list[dict[str, ValidationResult]],
    outcomes: list[ProcessOutcome],
    audits: list[AuditInfo],
) -> PreparedBatch:
    """Counts, reasons and the quarantine threshold per slice; the good rows of passing slices."""
    prepared = PreparedBatch(batch, outcomes, [], [])
    for results, outcome, audit in zip(mine, outcomes, audits, strict=True):
        outcome.rows_in = {t: r.rows_in for t, r in results.items()}
        outcome.quarantined = {t: r.quarantined.height for t, r in results.items()}
        outcome.reasons = quarantine_reasons(results)
        prepared.audits.append(_with_quarantine(audit, outcome))
        try:
            check_threshold(results, settings.pipeline.max_failure_share)
            prepared.errors.append(None)
        except ValidationThresholdExceeded as exc:
            prepared.errors.append(str(exc))
    passing = [m for m, error in zip(mine, prepared.errors, strict=True) if error is None]
    if passing:
        prepared.good = {t: pl.concat([m[t].good for m in passing]) for t in passing[0]}
    return prepared


def _with_quarantine(audit: AuditInfo, outcome: ProcessOutcome) -> AuditInfo:
    """The audit facts completed with the slice's quarantine counts."""
    return dataclasses.replace(
        audit,
        rows_quarantined=sum(outcome.quarantined.values()),
        quarantine_reasons=outcome.reasons,
        quarantined_by_table=outcome.quarantined,
    )


def _write_zone(
    data_dir: Path,
    batch: Batch,
    frames: dict[str, pl.DataFrame],
    outcomes: list[ProcessOutcome],
    zone: str,
) -> None:
    """The batch's frames (rows tagged with ``SLICE``) as each slice's Parquet (or quarantine) files."""
    for piece in batch.slices:
        if piece.part == 1:  # a run's first slice replaces all of its files
            _remove_run_files(data_dir, piece.run_id, zone)
    file_ids = [piece.file_id for piece in batch.slices]
    written = write_slices(data_dir, frames, file_ids, zone=zone, writers=_WRITERS)
    for outcome, files in zip(outcomes, written, strict=True):
        (outcome.parquet_files if zone == "parquet" else outcome.quarantine_files).extend(files)


def _remove_run_files(data_dir: Path, run_id: str, zone: str) -> None:
    """Delete a run's files in a zone before its first part is written (a re-run may cut differently)."""
    name = paths.table_file(data_dir, zone, "any", "any", dt.date.min, run_id).stem  # run=<id>
    for pattern in (f"{name}.parquet", f"{name}.part*.parquet"):
        for path in (data_dir / zone).glob(f"*/platform=*/snapshot_date=*/{pattern}"):
            path.unlink()


def load_prepared(engine: Engine, prepared: PreparedBatch) -> None:
    """Load the passing slices in one transaction; record a failed load for each slice over its threshold.

    Once loaded, the batch's frames are let go (``prepared.good`` emptied): Prefect keeps a task's
    result in reference cycles until the collector's next full collection, which in a long
    replay would hold every loaded batch's rows. A load that raises keeps them for its retry;
    a batch already loaded is not loaded again.
    """
    if prepared.loaded:
        return
    start = time.perf_counter()
    for outcome, audit, error in zip(prepared.outcomes, prepared.audits, prepared.errors, strict=True):
        if error is not None and outcome.load_id is None:  # once, even when the load task retries
            outcome.load_id = record_failed_load(engine, audit, error)
    passing = [i for i, error in enumerate(prepared.errors) if error is None]
    results = load_runs(engine, prepared.good, [prepared.audits[i] for i in passing]) if passing else []
    prepared.good, prepared.loaded = {}, True
    for index, loaded in zip(passing, results, strict=True):
        outcome = prepared.outcomes[index]
        outcome.load_id = loaded.load_id
        outcome.loaded = {t: c["loaded"] for t, c in loaded.table_counts.items()}
        outcome.changed = {t: c["inserted"] + c["updated"] for t, c in loaded.table_counts.items()}
    clock = _Clock({"load": time.perf_counter() - start})
    clock.share(prepared.outcomes, [piece.body_bytes for piece in prepared.batch.slices])


@dataclass
class _Clock:
    """Seconds per stage of a batch, shared out to its slices by weight."""

    seconds: dict[str, float] = field(default_factory=dict)

    def time(self, stage: str, work: Any) -> Any:
        """Run ``work()`` and add its wall time to the stage."""
        start = time.perf_counter()
        try:
            return work()
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start

    def share(self, outcomes: list[ProcessOutcome], weights: list[int]) -> None:
        """Add each stage's seconds to the outcomes in proportion to their weights."""
        total = sum(weights) or len(weights)
        for outcome, weight in zip(outcomes, weights, strict=True):
            for stage, seconds in self.seconds.items():
                outcome.seconds[stage] = outcome.seconds.get(stage, 0.0) + seconds * (weight or 1) / total
