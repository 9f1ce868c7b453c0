"""What the store holds: messages, transactions, checkpoints, cursors, events."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple


class Status(StrEnum):
    """Where a message is on its way. Written before each next step is taken."""

    PENDING = "pending"  # indexed on its origin, waiting for a checkpoint and a batch
    SUBMITTED = "submitted"  # in a transaction sent to the destination
    DELIVERED = "delivered"  # the destination's mailbox processed it
    FAILED = "failed"  # its handler or its batch reverted; retried at next_attempt_at
    # (none after relayer.max_attempts: next_attempt_at is NEVER and an operator decides)
    IGNORED = "ignored"  # outside the delivery policy: never submitted (last_error says why)
    REFUSED = "refused"  # a revert no retry can change (last_error); only `retry` tries again


NEVER = 1e18  # next_attempt_at of a message that waits for an operator


class TxStatus(StrEnum):
    PENDING = "pending"  # signed, stored, maybe broadcast, no receipt yet
    MINED = "mined"  # a receipt exists (success or revert)
    REPLACED = "replaced"  # another transaction with the same nonce was mined
    DROPPED = "dropped"  # never reached the chain and was given up


class NewMessage(NamedTuple):
    """A message as the indexer found it in a Dispatch log.

    A named tuple, not a dataclass: a backfill makes a million of them, and a tuple is
    built in a fifth of the time and becomes its store row by concatenation (its fields
    are the first columns of sql.py's insert, in order).
    """

    id: bytes
    origin: int
    nonce: int
    destination: int
    sender: bytes
    recipient: bytes
    raw: bytes
    kind: int | None
    ref: bytes | None  # for a Return: the id of the transfer it gives back
    dispatch_tx: str
    dispatch_block: int
    dispatched_at: float


@dataclass(slots=True)
class MessageRow:
    """A message and its delivery state."""

    id: bytes
    origin: int
    nonce: int
    destination: int
    sender: bytes
    recipient: bytes
    raw: bytes
    kind: int | None
    ref: bytes | None
    dispatch_tx: str
    dispatch_block: int
    dispatched_at: float
    status: Status
    attempts: int
    next_attempt_at: float
    last_error: str | None
    tx_hash: str | None
    deliver_tx: str | None
    delivered_block: int | None
    delivered_at: float | None
    indexed_at: float
    updated_at: float

    @property
    def id_hex(self) -> str:
        return "0x" + self.id.hex()


@dataclass(slots=True)
class TxRow:
    """A transaction the relayer signed. ``raw`` lets a restart re-broadcast it as is."""

    chain_id: int
    sender: str
    nonce: int
    hash: str
    raw: bytes
    max_fee: int
    priority_fee: int
    gas_limit: int
    purpose: str
    status: TxStatus = TxStatus.PENDING
    sent_at: float = 0.0
    mined_block: int | None = None
    replaces: str | None = None
    message_ids: list[bytes] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint with the validator signatures collected for it."""

    origin: int
    index: int
    root: bytes
    mailbox: bytes
    signatures: dict[str, bytes]  # validator address (checksummed) -> 65-byte signature


@dataclass(frozen=True, slots=True)
class ChainEvent:
    """An application event the relayer follows (bounces, timelocks...)."""

    chain_id: int
    block: int
    log_index: int
    tx_hash: str
    name: str
    key: bytes  # what the event is looked up by: a message id, a hashlock...
    data: dict[str, Any]


class LockState(StrEnum):
    """A hash-time lock as the DvP watcher follows it (HashedTimelock's Locked, Claimed,
    Refunded events)."""

    OPEN = "open"
    CLAIMED = "claimed"
    REFUNDED = "refunded"


@dataclass(slots=True)
class HtlcLock:
    """One lock on one chain, and what this relayer did about it.

    ``locked_at`` and ``settled_at`` are block timestamps. ``action`` is the last thing
    the relayer sent for the lock (``claim`` or ``refund``), ``attempts`` how often it
    tried, ``next_attempt_at`` when it may try again after a failure.
    """

    chain_id: int
    lock_id: bytes
    hashlock: bytes
    token: str
    sender: str
    receiver: str
    amount: int
    expiry: int
    locked_tx: str
    locked_block: int
    locked_at: float
    state: LockState = LockState.OPEN
    preimage: bytes | None = None
    settled_tx: str | None = None
    settled_block: int | None = None
    settled_at: float | None = None
    action: str | None = None
    action_tx: str | None = None
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class LockSettlement:
    """A Claimed (with its preimage) or Refunded event."""

    chain_id: int
    lock_id: bytes
    state: LockState
    tx_hash: str
    block: int
    at: float  # block timestamp
    preimage: bytes | None = None
