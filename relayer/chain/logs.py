"""The shape of the logs an indexer reads and hands on, shared by the daemon's
stages and the DvP watcher (which takes its timelock logs from the same indexer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

Log = Mapping[str, Any]
LogSink = Callable[[Sequence[Log], Mapping[int, int]], Awaitable[None]]
"""Receives the logs of a chunk (in chain order) and the timestamps of their blocks."""
