"""One contender in its own process: ``python -m benchmarks.child <name> '<json arguments>'``.

It prints one line ``BENCH-RESULT {json}`` with the contender's result and its own peak RSS
(the process alone: a Prefect server or a database it talks to is not counted).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import cpu

MARK = "BENCH-RESULT "


def _run(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Dispatch to the contender."""
    if name in ("ours", "ours_plain"):
        from benchmarks import ours

        runner = ours.run_flow if name == "ours" else ours.run_plain
        return {**runner(Path(args["config"]), int(args["batch_mb"])), "allocators": _allocators()}
    if name == "dlt":
        import dlt  # noqa: F401  imported before the clock, like our modules are

        from benchmarks import dlt_load

        start = time.perf_counter()
        with cpu.measure() as used:
            extra = dlt_load.load(Path(args["data_dir"]), Path(args["work_dir"]), args["dsn"], args["mode"])
        return {"seconds": time.perf_counter() - start, "cpu": vars(used), **extra}
    if name == "parse":
        from benchmarks import floors

        return {
            "orjson": floors.parse_orjson(Path(args["data_dir"])),
            "msgspec": floors.parse_msgspec(Path(args["data_dir"])),
            "polars": floors.parse_polars(Path(args["data_dir"])),
        }
    if name == "copy":
        from benchmarks import floors

        return floors.copy_final_rows(args["source_dsn"], args["target_dsn"])
    if name == "other":
        from benchmarks import other_platforms

        return {p: other_platforms.measure(Path(args["data_dir"]), p) for p in ("tiktok", "youtube")}
    if name == "http":
        from benchmarks import http_run

        return http_run.run(Path(args["work_dir"]), args["url"], int(args["accounts"]), int(args["media"]))
    raise SystemExit(f"unknown contender {name!r}")


def _allocators() -> dict[str, str]:
    """The allocator settings in effect (socmed/allocators.py), whether set here or inherited."""
    import pyarrow

    from socmed import allocators

    threshold = os.environ.get("MALLOC_MMAP_THRESHOLD_") or allocators.applied.get("M_MMAP_THRESHOLD")
    jemalloc = dict(o.split(":", 1) for o in os.environ.get("_RJEM_MALLOC_CONF", "").split(",") if ":" in o)
    return {  # jemalloc takes the last of each option; Polars puts its own first, in each process
        "Polars' jemalloc": ",".join(f"{k}:{v}" for k, v in jemalloc.items()) or "-",
        "Arrow pool": pyarrow.default_memory_pool().backend_name,
        "mmap threshold": threshold or "glibc's default",
    }


def main() -> None:
    """Run the contender named on the command line and print its result line."""
    name, args = sys.argv[1], json.loads(sys.argv[2])
    result = _run(name, args)
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(MARK + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
