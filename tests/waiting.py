"""Waiting in tests: poll a condition until it holds, with a deadline generous enough
for a busy machine (a deadline costs time only when the test fails).

Never sleep for a fixed time and then assert: on a loaded two-core machine "a few
seconds" can be no time at all for the relayer or a chain.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

DEADLINE = 120.0


async def eventually(
    check: Callable[[], Awaitable[T]],
    what: str,
    *,
    timeout: float = DEADLINE,
    every: float = 0.1,
) -> T:
    """The first truthy result of ``check()``; AssertionError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g}s (last: {result!r})")
        await asyncio.sleep(every)


def eventually_sync(
    check: Callable[[], T],
    what: str,
    *,
    timeout: float = DEADLINE,
    every: float = 0.1,
) -> T:
    """:func:`eventually` for plain functions, outside an event loop."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g}s (last: {result!r})")
        time.sleep(every)
