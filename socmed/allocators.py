"""Memory allocators tuned to give a batch's memory back once the batch is done.

Three allocators serve a pipeline process, and each by default keeps what a batch freed:

- **Polars' jemalloc** turns freed pages "muzzy" (``MADV_FREE``) after 500 ms and purges them
  after another second (the settings Polars' ``__init__`` gives it). A muzzy page still counts
  in the resident set until the kernel is short of memory, and a batch's frames are freed about
  a second apart, so the pages of one batch are still resident while the next is built.
  ``_RJEM_MALLOC_CONF=muzzy_decay_ms:0`` purges them once they turn muzzy; Polars appends a
  value it finds to its own, and jemalloc takes the last.
- **Arrow's default pool** (mimalloc in pyarrow 26) caches freed segments. The pipeline uses Arrow
  for the Instagram pages' JSON reader and for handing frames to pandas, where the buffers are
  large and short-lived: ``ARROW_DEFAULT_MEMORY_POOL=system`` puts them on glibc's malloc.
- **glibc's malloc** raises its mmap threshold each time a large block is freed (up to 32 MiB),
  after which the next batch's large arrays come from the heap and stay there. A fixed threshold
  of 128 KiB (``mallopt(M_MMAP_THRESHOLD)``, as ``MALLOC_MMAP_THRESHOLD_`` would) keeps every
  large block on its own mapping, which ``free`` returns at once.

Measured on the benchmark's data (docs/performance.md): peak RSS of 200k snapshots in 64 MiB
batches 715 -> 638-650 MB and of the 2M reprocess flow in 24 MiB batches 536 -> 457-500 MB,
for no measurable time on that path (Instagram's pages go through Arrow's JSON reader). Polars'
own NDJSON reader, page by page, took 7.1-7.7 s against 6.4-6.5 s over the 200k zone. Not done:
``dirty_decay_ms:0`` saved 15 MB more for 1.5-3 CPU seconds at 200k; ``tcache:false`` (no
thread caches) saved little and made that NDJSON reading 1.7 times slower; one jemalloc arena
(``narenas:1``) saved nothing more on 2 cores.

:func:`configure` runs when the ``socmed`` package is imported; every first-party package
imports ``socmed`` first, before Polars or pyarrow. A variable the user already set wins, and
``SOCMED_TUNE_ALLOCATORS=0`` turns the whole tuning off. Polars' setting takes effect only
if Polars is not loaded yet (jemalloc reads it once); Arrow's and glibc's apply at any time.
"""

from __future__ import annotations

import ctypes
import os
import sys

POLARS_CONF = "muzzy_decay_ms:0"
ARROW_POOL = "system"
MMAP_THRESHOLD = 128 * 1024
M_MMAP_THRESHOLD = -3  # glibc's malloc.h

applied: dict[str, str] = {}
"""What :func:`configure` set in this process, by setting name (the benchmark prints it)."""


def configure() -> dict[str, str]:
    """Tune the three allocators, once per process; returns what was applied."""
    if applied or os.environ.get("SOCMED_TUNE_ALLOCATORS", "1") == "0":
        return applied
    if "polars" not in sys.modules and "_RJEM_MALLOC_CONF" not in os.environ:
        os.environ["_RJEM_MALLOC_CONF"] = POLARS_CONF
        applied["_RJEM_MALLOC_CONF"] = POLARS_CONF
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = ARROW_POOL  # read when the default pool is made
        if "pyarrow" in sys.modules:
            import pyarrow

            pyarrow.set_memory_pool(pyarrow.system_memory_pool())
        applied["ARROW_DEFAULT_MEMORY_POOL"] = ARROW_POOL
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ and _set_mmap_threshold(MMAP_THRESHOLD):
        applied["M_MMAP_THRESHOLD"] = str(MMAP_THRESHOLD)
    return applied


def _set_mmap_threshold(size: int) -> bool:
    """Fix glibc's mmap threshold (which also ends its raising); False on another C library."""
    try:  # a constant from the C library, where platform.libc_ver() would read the executable
        glibc = (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # no confstr, or a C library without the name
        glibc = False
    return glibc and ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, size) == 1  # 1 is success
