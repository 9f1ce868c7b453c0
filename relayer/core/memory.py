"""Hand the heap's freed pages back to the system (glibc's ``malloc_trim``).

A backfill parses eth_getLogs answers of megabytes and frees them a moment later; glibc
keeps freed heap pages mapped (its mmap threshold grows with the largest block it freed,
so later answers come from the heap too), and the process's RSS stays at its high-water
mark. ``trim`` after each write of a backfill gives those pages back (a few milliseconds;
docs/architecture.md, "Indexing a backlog"). Without glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

_trim: Callable[[int], int] | None
try:
    _trim = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):  # not glibc: nothing to trim
    _trim = None


def trim() -> bool:
    """Return the heap's free pages to the system; False where there is no glibc."""
    if _trim is None:
        return False
    _trim(0)
    return True
