"""The cyclic garbage collector during a long replay: the objects alive at its start are left out.

A replay process holds several hundred thousand long-lived objects before its first batch
(the imported modules, the Great Expectations context and suites, Prefect's clients). Each
full collection, triggered by the objects a batch allocates, traverses every one of them: at
200k post-snapshots one such collection took 0.27 s of the reprocess flow's run. Frozen, they
are skipped; what the replay itself creates is collected as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def long_lived_frozen() -> Iterator[None]:
    """Move the objects alive on entry to the collector's permanent generation for the block.

    On exit they go back to the oldest generation (``gc.unfreeze``), so a garbage cycle that
    already existed on entry is freed by a later full collection, never lost. Inside a block
    already frozen (or a process that froze its heap itself) this does nothing.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
