"""When to try a failed delivery again: 5 s, 10 s, 30 s, 60 s, then minutes, with jitter."""

from __future__ import annotations

import random
import time

SCHEDULE = (5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0)


def retry_delay(attempts: int, *, jitter: float = 0.2) -> float:
    """The wait after the ``attempts``-th failure (0-based), +/- ``jitter`` of it."""
    base = SCHEDULE[min(max(attempts, 0), len(SCHEDULE) - 1)]
    return base * random.uniform(1 - jitter, 1 + jitter)  # noqa: S311 - jitter, not crypto


def next_attempt(attempts: int, now: float | None = None) -> float:
    """The time (epoch seconds) of the next try after ``attempts`` earlier failures."""
    return (time.time() if now is None else now) + retry_delay(attempts)
