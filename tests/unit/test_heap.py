"""What the relayer built to start is frozen out of later collections, garbage first."""

from __future__ import annotations

import gc
import weakref

from relayer.daemon.heap import freeze_startup_heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_start_leftovers_are_collected_and_the_rest_frozen() -> None:
    kept = Node()
    left = Node()
    left.other = Node()
    left.other.other = left  # a cycle only a collection frees
    gone = weakref.ref(left)
    del left
    try:
        frozen = freeze_startup_heap()
        assert gone() is None  # collected before the freeze, not kept for good
        assert frozen == gc.get_freeze_count() > 0
        assert not any(o is kept for o in gc.get_objects())  # out of every generation
    finally:
        gc.unfreeze()
    assert any(o is kept for o in gc.get_objects())
