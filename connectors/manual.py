"""Channels with no API (print editions, offline events): CSV files dropped in a watched folder.

The "connector" reads files instead of HTTP. Each new ``*.csv`` file in the channel's
``watch_dir`` becomes one RawResponse whose body is the file's bytes, unchanged: ``stream`` is
the table the header row names (``channel_metrics_daily``, ``content``,
``content_metrics_daily``; see docs/manual-import.md), or ``unrecognized`` when it names none
(it still lands, and the transform says why), ``url`` the file's ``file://`` URL, ``context``
``{"file": <name>, "sha256": <hex>}``.

A file already imported (same sha256, under any name) is skipped. The ledger of imported files
is ``imported.tsv`` in the channel's state folder (outside the raw zone), appended once the sink
has landed the file. Files still being written (size or mtime changing while read), hidden
files and spreadsheet lock files (``~$…``) are left for the next run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from connectors.base import RawResponse
from connectors.http import Sink

PLATFORM = "manual"
LEDGER = "imported.tsv"
UNRECOGNIZED = "unrecognized"


def table_of(header: bytes) -> str:
    """The table a CSV header row names (by its key columns), or ``unrecognized``."""
    text = header.decode("utf-8-sig", errors="replace")
    delimiter = ";" if ";" in text and "," not in text else ","
    columns = {c.strip().strip('"').lower() for c in text.split(delimiter)}
    if "content_id" in columns:
        return "content_metrics_daily" if "snapshot_date" in columns else "content"
    return "channel_metrics_daily" if "snapshot_date" in columns else UNRECOGNIZED


def _first_line(data: bytes) -> bytes:
    """The header row of a file's bytes."""
    return data.split(b"\n", 1)[0].rstrip(b"\r")


class ManualConnector:
    """One channel's watch folder: lands each new CSV file once, as it is."""

    platform = PLATFORM

    def __init__(self, watch_dir: Path, state_dir: Path, account_id: str, sink: Sink | None) -> None:
        self.watch_dir = watch_dir
        self.ledger = state_dir / LEDGER
        self.account_id = account_id
        self.sink = sink
        self.problems: list[str] = []
        self.requests: Counter[str] = Counter()  # files read per table
        self.skipped: list[str] = []  # files left alone this run, and why

    @property
    def request_count(self) -> int:
        """Files read so far (the pipeline's request count)."""
        return sum(self.requests.values())

    def imported(self) -> set[str]:
        """The sha256 of every file imported before."""
        if not self.ledger.exists():
            return set()
        lines = self.ledger.read_text(encoding="utf-8").splitlines()
        return {line.split("\t", 1)[0] for line in lines if line.strip()}

    def pending(self) -> list[Path]:
        """CSV files in the folder whose content was never imported (cheap: no landing)."""
        seen = self.imported()
        return [path for path in self._candidates() if _sha256(path.read_bytes()) not in seen]

    def iter_files(self) -> Iterator[RawResponse]:
        """Each new file, landed unchanged (then recorded in the ledger), in name order."""
        seen = self.imported()
        for path in self._candidates():
            raw = self._read(path, seen)
            if raw is None:
                continue
            if self.sink is not None:
                self.sink(raw)
            self._record(raw, path)
            seen.add(raw.context["sha256"])
            yield raw

    def fetch_all(self, window: Any = None) -> Iterator[RawResponse]:
        """Every new file (files carry their own dates; the window does not apply)."""
        if not self.watch_dir.is_dir():
            self.problems.append(f"watch folder {self.watch_dir} does not exist; nothing imported")
            return
        yield from self.iter_files()

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> ManualConnector:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _candidates(self) -> list[Path]:
        """The folder's CSV files, by name; hidden and lock files are not candidates."""
        if not self.watch_dir.is_dir():
            return []
        return sorted(p for p in self.watch_dir.iterdir() if p.is_file() and p.suffix.lower() == ".csv"
                      and not p.name.startswith((".", "~$")))

    def _read(self, path: Path, seen: set[str]) -> RawResponse | None:
        """The file as a RawResponse, or None if imported before or still being written."""
        before = path.stat()
        data = path.read_bytes()
        after = path.stat()
        moved = (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns)
        if moved or len(data) != after.st_size:
            self.skipped.append(f"{path.name}: still being written; left for the next run")
            return None
        digest = _sha256(data)
        if digest in seen:
            self.skipped.append(f"{path.name}: imported before (sha256 {digest[:12]}…)")
            return None
        stream = table_of(_first_line(data))
        self.requests[stream] += 1
        return RawResponse(platform=PLATFORM, account=self.account_id, stream=stream, method="READ",
                           url=path.resolve().as_uri(), status=200, fetched_at=dt.datetime.now(dt.UTC),
                           body=data, context={"file": path.name, "sha256": digest})

    def _record(self, raw: RawResponse, path: Path) -> None:
        """Append a landed file to the ledger."""
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        line = f"{raw.context['sha256']}\t{path.name}\t{len(raw.body)}\t{raw.fetched_at.isoformat()}\n"
        with self.ledger.open("a", encoding="utf-8") as ledger:
            ledger.write(line)


def _sha256(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def open_manual(*, watch_dir: Path | None, state_dir: Path | None, account_id: str,
                sink: Sink | None) -> ManualConnector:
    """The connector over a channel's watch folder; the state folder keeps the ledger."""
    if watch_dir is None:
        raise ValueError(f"manual channel {account_id}: set watch_dir to the folder CSV files are dropped in")
    if state_dir is None:
        raise ValueError(f"manual channel {account_id}: no state folder for the ledger of imported files")
    return ManualConnector(Path(watch_dir).expanduser(), state_dir, account_id, sink)
