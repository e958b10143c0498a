"""Several runs in one transform: one numbering of their responses, each run's facts beside it.

A transform that reads many runs at once (a reprocessing batch) pays Polars' fixed cost per
operation once per batch instead of once per run. It must still treat every run exactly as if
alone: every key it deduplicates, groups or joins on is prefixed with ``SLICE`` (the run's
position), and each run keeps its own problems.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl

from socmed.rawzone import StoredResponse
from transforms.common import (
    ChannelRef,
    Numbered,
    TransformResult,
    as_utc,
    group_streams,
    problem,
    provenance,
)
from transforms.schemas import KEYS, SCHEMAS, conform

SLICE = "__slice"  # which run of a several-run transform a row came from (0, 1, ...)
RunInput = tuple[Iterable[StoredResponse], ChannelRef]  # one run's responses and its channel


@dataclass(frozen=True)
class RunsResult:
    """A several-run transform's frames (with ``SLICE``) and each run's own problems."""

    frames: dict[str, pl.DataFrame]
    problems: list[list[str]]


@dataclass(frozen=True)
class NumberedRuns:
    """Several runs' 2xx responses numbered in one sequence, by stream, with their run's facts."""

    streams: dict[str, list[Numbered]]
    per_run: list[dict[str, list[Numbered]]]
    channels: list[ChannelRef]
    slice_of: dict[int, int]  # response number -> run position
    prov: pl.DataFrame  # provenance, SLICE, channel_id, channel_handle, timezone, local_date
    run_of_file: dict[str, int]  # raw file of any response of the runs (2xx or not) -> run position

    def channel(self, number: int) -> ChannelRef:
        """The channel of the run a response belongs to."""
        return self.channels[self.slice_of[number]]

    def split(self, problems: Iterable[str]) -> list[list[str]]:
        """Problems by run, each run's in their order (a problem names its raw file first).

        A problem that names no raw file of these runs cannot be told apart by run: it is a
        transform's mistake, and raises ValueError rather than landing on some run's report.
        """
        out: list[list[str]] = [[] for _ in self.channels]
        for text in problems:
            position = self.run_of_file.get(text.split(": ", 1)[0])
            if position is None:
                raise ValueError(f"a transform's problem names no raw file of its runs: {text[:200]!r}")
            out[position].append(text)
        return out


def number_runs(runs: Sequence[RunInput]) -> NumberedRuns:
    """Number the 2xx responses of several runs in one sequence (run after run, arrival order)."""
    streams: dict[str, list[Numbered]] = {}
    per_run: list[dict[str, list[Numbered]]] = []
    slice_of: dict[int, int] = {}
    offset = 0
    listed = [(list(responses), channel) for responses, channel in runs]  # read twice below
    for position, (responses, _) in enumerate(listed):
        mine = group_streams(responses, start=offset)
        per_run.append(mine)
        for name, pages in mine.items():
            streams.setdefault(name, []).extend(pages)
            slice_of.update((number, position) for number, _ in pages)
        offset += sum(len(pages) for pages in mine.values())
    channels = [channel for _, channel in listed]
    pairs = sorted((pair for pages in streams.values() for pair in pages), key=lambda pair: pair[0])
    files = {r.raw_file: position for position, (responses, _) in enumerate(listed) for r in responses}
    prov = _run_provenance(pairs, slice_of, channels)
    return NumberedRuns(streams, per_run, channels, slice_of, prov, files)


def _run_provenance(
    pairs: list[Numbered], slice_of: dict[int, int], channels: list[ChannelRef]
) -> pl.DataFrame:
    """Provenance of each response plus its run's position, channel and local date of fetching."""
    zones = {zone: ZoneInfo(zone) for zone in {c.timezone for c in channels}}
    runs = [channels[slice_of[n]] for n, _ in pairs]
    local = zip(pairs, runs, strict=True)
    days = [as_utc(r.fetched_at).astimezone(zones[c.timezone]).date() for (_, r), c in local]
    return provenance(pairs).with_columns(
        pl.Series(SLICE, [slice_of[n] for n, _ in pairs], dtype=pl.UInt32()),
        pl.Series("channel_id", [c.channel_id for c in runs], dtype=pl.Utf8()),
        pl.Series("channel_handle", [c.handle for c in runs], dtype=pl.Utf8()),
        pl.Series("timezone", [c.timezone for c in runs], dtype=pl.Utf8()),
        pl.Series("local_date", days, dtype=pl.Date()),
    )


RunsTransform = Callable[[Sequence[RunInput]], RunsResult]


def one_run(
    transform: RunsTransform, responses: Iterable[StoredResponse], channel: ChannelRef
) -> TransformResult:
    """A several-run transform applied to one run: its frames without ``SLICE``, its problems."""
    result = transform([(responses, channel)])
    return TransformResult({t: f.drop(SLICE) for t, f in result.frames.items()}, result.problems[0])


def numbered_for(
    platform: str, runs: Sequence[RunInput]
) -> NumberedRuns:
    """The runs numbered in one sequence; ValueError for a channel of another platform."""
    for _, channel in runs:
        if channel.platform != platform:
            raise ValueError(f"transform_{platform} got a {channel.platform!r} channel")
    return number_runs(runs)


def begin(
    platform: str, runs: Sequence[RunInput], handled: Iterable[str]
) -> tuple[NumberedRuns, list[str]]:
    """A several-run transform's start: the runs numbered in one sequence (``numbered_for``),
    and one problem per stream of a run that the transform does not read."""
    numbered = numbered_for(platform, runs)
    read = tuple(handled)
    return numbered, [p for mine in numbered.per_run for p in unhandled_streams(mine, read)]


def unhandled_streams(streams: Mapping[str, list[Numbered]], handled: Iterable[str]) -> list[str]:
    """One problem per stream of a run that its transform does not read."""
    read = set(handled)
    return [
        problem(pages[0][1], f"{len(pages)} response(s) of stream {name!r} not transformed")
        for name, pages in streams.items()
        if name not in read
    ]


def finish(table: str, frame: pl.DataFrame, platform: str | None = None) -> pl.DataFrame:
    """The table's columns, cast to its schema, sorted by run and key; the run position last.

    With ``platform``, every row gets it (transforms whose frames do not carry it).
    """
    if platform is not None:
        frame = frame.with_columns(platform=pl.lit(platform))
    columns = [name for name in SCHEMAS[table] if name in frame.columns]
    return conform(table, frame.select(columns)).with_columns(frame[SLICE]).sort(SLICE, *KEYS[table])
