"""Modules Great Expectations imports at start-up but our suites never call, imported on first use.

GE imports ``altair`` (charts for one expectation's rendering) and ``scipy.stats`` (two
distribution tests and the KL divergence expectation) when it is itself imported, and uses
them only inside those expectations' functions. Our suites use none of them, yet every process
that validates paid for both: 84 MB of resident memory of about 350 MB of imports (scipy.stats
61, altair 23) and about 0.8 s of start-up.

Importing this module (``validation/__init__.py`` does, before GE is imported) puts a
stand-in for each in ``sys.modules``. GE binds the stand-in where it imported the module; the
first attribute anyone reads from it imports the real module, which from then on answers
through the stand-in and is the one ``sys.modules`` holds. Where the real module is already
imported, or is not installed, nothing is done.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

DEFERRED = ("altair", "scipy.stats")
_LOCK = threading.RLock()


class DeferredModule(types.ModuleType):
    """Stands in for a module until an attribute of it is read, then imports it and forwards."""

    def __init__(self, name: str) -> None:
        super().__init__(name, f"{name}, imported on first use (validation.deferred)")
        self.__spec__ = None  # read by the import system: a plain attribute, so no import yet

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.real(), attribute)

    def __dir__(self) -> list[str]:
        return dir(self.real())

    def real(self) -> types.ModuleType:
        """The real module, imported now if it was not yet."""
        name = self.__name__
        with _LOCK:
            if sys.modules.get(name) is self:
                del sys.modules[name]
                parent, _, child = name.rpartition(".")
                if parent and getattr(sys.modules.get(parent), child, None) is self:
                    delattr(sys.modules[parent], child)
            return importlib.import_module(name)


def defer(names: tuple[str, ...] = DEFERRED) -> None:
    """Put a stand-in in ``sys.modules`` for each module installed but not imported yet.

    A module that is not installed gets none: importing it must still fail where it is imported.
    """
    with _LOCK:
        for name in names:
            if name not in sys.modules and importlib.util.find_spec(name) is not None:
                sys.modules[name] = DeferredModule(name)


defer()
