"""Whether a chain answers: what /readyz, the logs, the metrics and the workers go by.

Every answer a chain's node gives (any JSON-RPC result or error) counts as a success;
a failed *round* (a request whose retries ran out, or a failed probe of the chain's
watcher) marks the chain unreachable. The first failed round logs one warning and the
first answer after it one info line, so an outage shows up seconds after it starts and
is not repeated by every worker that waits on the chain.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from relayer.telemetry.logging import get_logger


class HealthMetrics(Protocol):
    """What chain health reports (implemented by relayer.telemetry.metrics)."""

    def chain_answered(self, chain: str, when: float) -> None: ...
    def chain_up(self, chain: str, up: bool) -> None: ...


class ChainHealth:
    """One chain's reachability, shared by its RPC client and everything that uses it."""

    def __init__(
        self,
        name: str,
        grace: float,
        *,
        metrics: HealthMetrics | None = None,
        announce: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.grace = grace
        self.metrics = metrics
        self.announce = announce  # the daemon logs outages; a CLI command raises instead
        self.watched = False  # set by the daemon's watcher, which probes the chain
        self.clock = clock
        self.created = clock()
        self.last_success: float | None = None
        self.down_since: float | None = None  # the first failed round since the last answer
        self.last_error: str | None = None
        self._answering = asyncio.Event()
        self._answering.set()
        self.log = get_logger("chain", chain=name)
        if metrics is not None:
            metrics.chain_up(name, True)

    def answering(self) -> bool:
        """False from a failed round until the next answer."""
        return self.down_since is None

    def succeeded(self) -> None:
        """The node answered."""
        now = self.clock()
        self.last_success = now
        if self.metrics is not None:
            self.metrics.chain_answered(self.name, now)
        if self.down_since is not None:
            outage = now - self.down_since
            self.down_since = None
            self._answering.set()
            if self.metrics is not None:
                self.metrics.chain_up(self.name, True)
            if self.announce:
                self.log.info(
                    f"chain {self.name} answers again; its lanes resume",
                    unreachable_seconds=round(outage, 1),
                )

    def failed(self, reason: str) -> None:
        """A round failed (retries ran out, or a probe found no endpoint answering)."""
        self.last_error = reason
        if self.down_since is not None:
            return
        self.down_since = self.clock()
        self._answering.clear()
        if self.metrics is not None:
            self.metrics.chain_up(self.name, False)
        if self.announce:
            self.log.warning(
                f"chain {self.name} unreachable: {reason}; lanes to and from {self.name} wait"
            )

    async def wait_answering(self, at_most: float = 60.0) -> bool:
        """While a watcher probes the chain and finds it unreachable, wait until it
        answers again (``at_most`` seconds; then the caller tries anyway). Returns at
        once when the chain answers or nobody probes it (then only the caller's own
        requests can find it back). True when the chain answers."""
        if self._answering.is_set() or not self.watched:
            return self._answering.is_set()
        try:
            async with asyncio.timeout(at_most):
                await self._answering.wait()
        except TimeoutError:
            return False
        return True

    def silent_for(self) -> float:
        """Seconds since the last answer (since this object was made, if none yet)."""
        return self.clock() - (self.last_success if self.last_success is not None else self.created)

    def readiness_problem(self) -> str | None:
        """Why /readyz names this chain, or None: no answer for longer than the grace."""
        silent = self.silent_for()
        if silent <= self.grace:
            return None
        since = "since start" if self.last_success is None else f"for {silent:.0f}s"
        error = f" ({self.last_error})" if self.last_error else ""
        return f"chain {self.name}: unreachable, no RPC answer {since}{error}"
