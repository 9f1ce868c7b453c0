"""Why a lane's messages wait: one reason per lane, kept in the store's state table.

The lane worker (or the daemon, for a lane it cannot start yet) writes the reason when
it changes (``relayer key underfunded on b: …``, ``chain b unreachable``, ``lane
halted: …``, ``fee above cap on b: …``) and clears it after a round that got through;
``stbridge messages list|show|retry`` read it for a lane's pending and failed messages.
A message newer than the lane's best checkpoint waits for a checkpoint whatever the
lane says; :func:`explain` puts the two together.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from relayer.store import MessageRow, Status, Store
from relayer.store.models import NEVER


def state_key(origin: int, destination: int) -> str:
    """The state-table key of a lane's reason: ``waiting:65001->65002``."""
    return f"waiting:{origin}->{destination}"


@dataclass(frozen=True, slots=True)
class LaneReason:
    """Why a lane waits, and since when (unix time)."""

    reason: str
    since: float


async def read_reason(store: Store, origin: int, destination: int) -> LaneReason | None:
    """The lane's current reason, or None when it does not wait for anything."""
    raw = await store.get_state(state_key(origin, destination))
    if not raw:
        return None
    try:
        value = json.loads(raw)
        return LaneReason(str(value["reason"]), float(value["since"]))
    except (ValueError, KeyError, TypeError):
        return LaneReason(raw, 0.0)


class LaneReasons:
    """Writes one lane's reason to the store, only when it changes."""

    def __init__(self, store: Store, origin: int, destination: int) -> None:
        self.store = store
        self.key = state_key(origin, destination)
        self.current: str | None = None
        self._loaded = False

    async def set(self, reason: str | None) -> bool:
        """Record ``reason`` (None clears it); True when it changed."""
        if not self._loaded:  # a restart: the store may hold an earlier run's reason
            stored = await self.store.get_state(self.key)
            self.current = _reason_of(stored)
            self._loaded = True
        if reason == self.current:
            return False
        self.current = reason
        value = "" if reason is None else json.dumps({"reason": reason, "since": time.time()})
        await self.store.set_state(self.key, value)
        return True


def _reason_of(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return str(json.loads(raw)["reason"])
    except (ValueError, KeyError, TypeError):
        return raw


async def explain(
    store: Store,
    message: MessageRow,
    *,
    validators: Sequence[str],
    threshold: int,
    chain_names: dict[int, str],
) -> str:
    """What a message waits for, in one line (empty for a delivered one)."""
    if message.status == Status.SUBMITTED:
        return f"in transaction {message.tx_hash}, waiting for it to be final"
    if message.status not in (Status.PENDING, Status.FAILED):  # delivered, or not to send
        return "" if message.status == Status.DELIVERED else (message.last_error or "")
    lane = await read_reason(store, message.origin, message.destination)
    if lane is not None:
        return lane.reason
    checkpoint = await store.best_checkpoint(message.origin, validators, threshold)
    if checkpoint is None or checkpoint.index < message.nonce:
        signed = "none signed yet" if checkpoint is None else f"latest {checkpoint.index}"
        return f"waiting for a checkpoint of nonce {message.nonce} ({signed})"
    if message.status == Status.FAILED and message.next_attempt_at >= NEVER:
        return (
            f"an operator: gave up after {message.attempts} attempts "
            f"({message.last_error or 'failed'}); `stbridge messages retry` tries again"
        )
    if message.status == Status.FAILED:
        when = time.strftime("%H:%M:%S", time.gmtime(message.next_attempt_at))
        return f"retried at {when} UTC after: {message.last_error or 'a failed attempt'}"
    origin = chain_names.get(message.origin, str(message.origin))
    destination = chain_names.get(message.destination, str(message.destination))
    return f"due: the relayer of lane {origin}->{destination} sends it in its next batch"
