"""The replay's frozen heap: objects alive on entry leave the collector's view, and come back."""

from __future__ import annotations

import gc
import weakref

from socmed.heap import long_lived_frozen


class Node:
    """A weak-referenceable object that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


def _tracked(obj: object) -> bool:
    return any(o is obj for o in gc.get_objects())


def test_objects_alive_on_entry_are_frozen_for_the_block_only() -> None:
    before = Node()
    with long_lived_frozen():
        assert gc.get_freeze_count() > 0
        assert not _tracked(before)  # a full collection would not traverse it
        inside = Node()
        assert _tracked(inside)
    assert gc.get_freeze_count() == 0
    assert _tracked(before)


def test_cycles_made_inside_are_collected_and_old_ones_after_the_block() -> None:
    gc.disable()  # no automatic collection between the cycle's making and the freeze
    try:
        _cycles_inside_and_before()
    finally:
        gc.enable()


def _cycles_inside_and_before() -> None:
    old_a, old_b = Node(), Node()
    old_a.other, old_b.other = old_b, old_a
    old_ref = weakref.ref(old_a)
    del old_a, old_b  # garbage cycle that exists on entry
    with long_lived_frozen():
        a, b = Node(), Node()
        a.other, b.other = b, a
        ref = weakref.ref(a)
        del a, b
        gc.collect()
        assert ref() is None
        assert old_ref() is not None  # frozen: kept for the block, not lost
    gc.collect()
    assert old_ref() is None


def test_a_nested_block_leaves_the_outer_freeze_alone() -> None:
    # Not the frozen count: it drops whenever a frozen object is freed, by any thread.
    before = Node()
    with long_lived_frozen():
        with long_lived_frozen():
            pass
        assert gc.get_freeze_count() > 0
        assert not _tracked(before)  # still frozen: the inner block did not unfreeze it
    assert gc.get_freeze_count() == 0
    assert _tracked(before)
