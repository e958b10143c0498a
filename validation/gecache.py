"""A per-validation cache of GE's ``Expectation.configuration``: the same configurations, built once.

GE 1.x rebuilds an expectation's configuration from its pydantic fields every time it reads
it (``self.dict(exclude_defaults=True)``, then ``camel_to_snake`` of the class name by regular
expressions), and while it plans and evaluates one expectation it reads it about 85 times: at
38 expectations a batch, about 3,200 builds and half of a batch's validation time, whatever
the batch's size.

Inside ``cached_configurations()`` (``validation.engine.failing_rows`` runs each suite in
one), the first read of an expectation's configuration keeps what the build computed from
its fields; every later read returns a new ``ExpectationConfiguration`` made from a copy of
those values (new dicts and lists all the way down), so a caller that changes the one it got
changes nothing else, as before. The kept values are used only while every field of the
expectation is still the very object it was at the first read (a field assigned since means
a rebuild). Outside the block, and in every other thread, the property is GE's own. On a
64 MiB batch this takes about a fifth off validation's CPU time. ``tests/test_validation.py``
checks that a frame with every kind of failing row gets the same results with and without.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

from great_expectations.expectations.expectation import Expectation
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

_ORIGINAL = Expectation.__dict__["configuration"]  # GE's property
_LOCAL = threading.local()
_INSTALL_LOCK = threading.Lock()
# What GE's property passes to ExpectationConfiguration besides type and kwargs (its pops).
_POPPED = ("meta", "notes", "description", "severity", "id", "rendered_content")


@contextmanager
def cached_configurations() -> Iterator[None]:
    """Within the block, this thread's reads of an expectation's configuration build it once."""
    install()
    outer = getattr(_LOCAL, "entries", None)
    _LOCAL.entries = {} if outer is None else outer
    try:
        yield
    finally:
        _LOCAL.entries = outer


def install() -> None:
    """Put the caching property on ``Expectation`` (once; GE's own behaviour outside a block)."""
    with _INSTALL_LOCK:
        if Expectation.__dict__["configuration"] is _ORIGINAL:
            Expectation.configuration = property(_configuration)  # type: ignore[method-assign,assignment]


def _configuration(expectation: Expectation) -> ExpectationConfiguration:
    """GE's configuration of the expectation, its values computed once per cache block."""
    entries: dict[int, tuple[Expectation, tuple[Any, ...], dict[str, Any]]] | None = getattr(
        _LOCAL, "entries", None
    )
    if entries is None:
        return _ORIGINAL.fget(expectation)  # type: ignore[no-any-return]
    fields = tuple(expectation.__dict__.values())
    entry = entries.get(id(expectation))
    if entry is None or entry[0] is not expectation or not _same(entry[1], fields):
        built = _ORIGINAL.fget(expectation)
        values = {"type": built.type, "kwargs": built.kwargs, **{k: getattr(built, k) for k in _POPPED}}
        # The entry holds the expectation and its field values, so no id is reused meanwhile.
        entries[id(expectation)] = (expectation, fields, _fresh(values))
        return built  # type: ignore[no-any-return]
    return ExpectationConfiguration(**_fresh(entry[2]))


def _same(kept: tuple[Any, ...], now: tuple[Any, ...]) -> bool:
    """Whether every field is still the object it was."""
    return len(kept) == len(now) and all(a is b for a, b in zip(kept, now, strict=True))


def _fresh(value: Any) -> Any:
    """The value with new dicts, lists and tuples all the way down: ``copy.deepcopy`` of the
    JSON-like values a configuration holds, at a fraction of its cost (it keeps a memo per call)."""
    kind = type(value)
    if kind in _ATOMIC or isinstance(value, Enum):
        return value
    if kind is dict:
        return {key: _fresh(item) for key, item in value.items()}
    if kind is list:
        return [_fresh(item) for item in value]
    if kind is tuple:
        return tuple(_fresh(item) for item in value)
    return copy.deepcopy(value)


# Immutable values, shared rather than copied.
_ATOMIC = frozenset({str, int, float, bool, type(None), dt.datetime, dt.date, dt.timedelta})
