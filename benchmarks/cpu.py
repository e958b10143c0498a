"""CPU seconds of a timed section: this process's (every thread), and the local PostgreSQL server's.

Wall time on a shared 2-core machine moves 10 to 20% from run to run; the CPU a contender
and the database spend on the same work moves much less, so the benchmark prints both. The
server's share is read from ``/proc``: the CPU of every ``postgres`` process alive at the end,
plus what the postmaster has collected from the backends that exited meanwhile (a process's
``cutime`` and ``cstime``), less the same figures at the start. Anything else using the server
at the time is counted too, and a server on another machine (or a ``/proc`` without its
processes) gives None.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass
class CpuSeconds:
    """CPU seconds spent within a ``measure()`` block (filled in when it ends)."""

    process: float = 0.0
    postgres: float | None = None

    @property
    def total(self) -> float | None:
        return None if self.postgres is None else self.process + self.postgres


@contextmanager
def measure() -> Iterator[CpuSeconds]:
    """Measure the block's CPU seconds: ``process`` (all threads) and ``postgres`` (or None)."""
    found = CpuSeconds()
    process, server = time.process_time(), postgres_cpu_seconds()
    try:
        yield found
    finally:
        found.process = time.process_time() - process
        after = postgres_cpu_seconds()
        found.postgres = None if server is None or after is None else max(after - server, 0.0)


def postgres_cpu_seconds() -> float | None:
    """CPU seconds so far of the local PostgreSQL server's processes, exited backends included."""
    tick = os.sysconf("SC_CLK_TCK")
    ticks, parents, found = 0, {}, {}
    try:
        entries = [p for p in _PROC.iterdir() if p.name.isdigit()]
    except OSError:
        return None
    for entry in entries:
        try:
            name = (entry / "comm").read_text().strip()
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if name != "postgres":
            continue
        fields = stat.rpartition(")")[2].split()  # after "pid (comm)": state is fields[0]
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        found[pid] = (int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]))
    if not found:
        return None
    for pid, (own, reaped) in found.items():
        ticks += own
        if parents[pid] not in found:  # the postmaster: it waits for (and so collects) its backends
            ticks += reaped
    return ticks / tick
