"""The store's interface: every piece of relayer state that must survive a restart.

A message's state is written before its next step is taken (a transaction is stored,
signed and raw, together with the messages it carries, before it is broadcast), so
a restart, also after ``kill -9``, resumes from the rows and not from memory.
Several relayers may share one store (PostgreSQL): they split the work with row
leases, and a lease that is not renewed passes to another relayer.
"""

from __future__ import annotations

import os
import socket
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from relayer.errors import LeaseLost
from relayer.store.models import (
    ChainEvent,
    HtlcLock,
    LockSettlement,
    LockState,
    MessageRow,
    NewMessage,
    Status,
    StoredCheckpoint,
    TxRow,
    TxStatus,
)
from relayer.store.reads import StoreReads
from relayer.store.writer import WriterGuard


def message_listing(
    mark: str,
    *,
    status: Status | None,
    origin: int | None,
    destination: int | None,
    limit: int,
    newest_first: bool,
) -> tuple[str, tuple[Any, ...]]:
    """The WHERE, ORDER BY and LIMIT of ``Store.messages`` and their parameters, for a
    driver whose placeholder is ``mark`` (``?`` for SQLite, ``%s`` for psycopg)."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("status", status), ("origin", origin), ("destination", destination)):
        if value is not None:
            where.append(f"{column} = {mark}")
            params.append(str(value) if column == "status" else value)
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    order = "DESC" if newest_first else "ASC"
    tail = f"{clause}ORDER BY dispatched_at {order}, origin, nonce {order} LIMIT {mark}"
    return tail, (*params, limit)


def instance_name() -> str:
    """A name for this relayer process, unique enough to own leases."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def lease_lost(tx_hash: str, taken: int, total: int, holder: str) -> LeaseLost:
    """The error ``submit`` raises when another relayer holds some of a batch's messages."""
    return LeaseLost(
        f"{taken} of the {total} messages of transaction {tx_hash[:12]}… are leased by "
        f"{holder} (this relayer's lease expired and was taken over): not sending it"
    )


class Store(StoreReads, ABC):
    """Durable relayer state. All methods are coroutines; each is one transaction."""

    owner: str

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def take_writer(self, relayer_address: str, *, lease_seconds: float) -> WriterGuard:
        """Become this store's one writer for ``relayer_address``, or raise WriterBusy.

        Only the daemon takes it, once at start (``store/writer.py``): SQLite locks a
        file beside the database, PostgreSQL leases a row per relayer key.
        """

    # --- messages ---------------------------------------------------------------

    @abstractmethod
    async def add_messages(
        self, messages: Sequence[NewMessage], ignored: Mapping[bytes, str] | None = None
    ) -> int:
        """Insert messages not yet known (idempotent); returns how many were new.

        A message whose id is in ``ignored`` is stored ``ignored`` with that reason (the
        delivery policy does not carry it), the others ``pending``.
        """

    @abstractmethod
    async def message(self, message_id: bytes) -> MessageRow | None: ...

    @abstractmethod
    async def messages_by_id(self, ids: Sequence[bytes]) -> list[MessageRow]:
        """The stored messages among ``ids`` (unknown ids are left out), in one read."""

    @abstractmethod
    async def find_message(self, prefix: str) -> list[MessageRow]:
        """Messages whose hex id starts with ``prefix`` (``0x`` optional)."""

    @abstractmethod
    async def messages(
        self,
        *,
        status: Status | None = None,
        origin: int | None = None,
        destination: int | None = None,
        limit: int = 100,
        newest_first: bool = True,
    ) -> list[MessageRow]: ...

    @abstractmethod
    async def return_of(self, transfer_id: bytes) -> MessageRow | None:
        """The Return message that gives back the transfer ``transfer_id``, if any."""

    @abstractmethod
    async def leaves(self, origin: int, start: int = 0, limit: int | None = None) -> list[bytes]:
        """The ids of ``origin``'s messages from nonce ``start`` on, in nonce order (at
        most ``limit`` of them)."""

    @abstractmethod
    async def claim(
        self,
        origin: int,
        destination: int,
        *,
        max_nonce: int,
        now: float,
        limit: int,
        lease_seconds: float,
    ) -> list[MessageRow]:
        """Lease up to ``limit`` deliverable messages of a lane, lowest nonce first.

        Deliverable: pending or failed, due (``next_attempt_at <= now``), nonce at most
        ``max_nonce``, and not leased by another live relayer.
        """

    @abstractmethod
    async def release(self, ids: Sequence[bytes]) -> None:
        """Give up the leases on messages this relayer did not submit."""

    @abstractmethod
    async def submit(self, tx: TxRow) -> None:
        """Record a signed transaction and mark its messages submitted, atomically.

        Raises LeaseLost, recording nothing, if another relayer holds or took over the
        lease of one of its messages: then this relayer must not broadcast it, and no
        message is ever submitted by two relayers.
        """

    @abstractmethod
    async def submit_many(self, txs: Sequence[TxRow]) -> None:
        """``submit`` for several transactions (a round's, consecutive nonces) in one
        transaction: all are recorded, or none and LeaseLost when another relayer holds
        a lease of a message of any of them (the caller then submits them one by one)."""

    @abstractmethod
    async def mark_delivered(self, deliveries: Sequence[tuple[bytes, str, int, float]]) -> None:
        """``(id, tx hash, block, time)`` for messages the destination processed."""

    @abstractmethod
    async def mark_failed(self, ids: Sequence[bytes], error: str, next_attempt_at: float) -> None:
        """Record a failed attempt: attempts + 1, the reason, and when to try again."""

    @abstractmethod
    async def mark_ignored(self, reasons: Sequence[tuple[bytes, str]]) -> None:
        """``(id, reason)``: pending or failed messages the delivery policy no longer carries."""

    @abstractmethod
    async def unignore(self, ids: Sequence[bytes]) -> None:
        """Ignored messages the policy now carries: pending again, due now."""

    @abstractmethod
    async def postpone(self, ids: Sequence[bytes], until: float, reason: str) -> None:
        """Pending or failed messages that may not go before ``until`` (no attempt counted)."""

    @abstractmethod
    async def mark_refused(self, ids: Sequence[bytes], error: str) -> None:
        """A revert no retry can change: refused with the reason (attempts + 1), never due."""

    @abstractmethod
    async def requeue(self, ids: Sequence[bytes]) -> None:
        """Back to pending without counting an attempt (a dropped transaction)."""

    @abstractmethod
    async def retry_now(self, message_id: bytes) -> bool:
        """Make a failed, refused or pending message due now (a refused one is failed
        again, for one more try); False if it is not retryable."""

    @abstractmethod
    async def backlog(self, origin: int, destination: int) -> tuple[int, float | None]:
        """How many messages of a lane are not delivered, and the oldest's dispatch time."""

    @abstractmethod
    async def status_counts(self) -> dict[tuple[int, int, str], int]:
        """Message counts by (origin, destination, status)."""

    @abstractmethod
    async def forget_from(self, origin: int, nonce: int) -> int:
        """Drop undelivered messages of ``origin`` at or past ``nonce`` (a reorg)."""

    # --- chain cursors ---------------------------------------------------------------

    @abstractmethod
    async def cursor(self, chain_id: int) -> tuple[int, str] | None:
        """The last indexed block of a chain and its hash."""

    @abstractmethod
    async def set_cursor(
        self, chain_id: int, block: int, block_hash: str, recent: Sequence[tuple[int, str]]
    ) -> None:
        """Move the cursor forward and remember recent block hashes for reorg checks.

        Several indexers may share a chain's cursor: a call that would not move it
        forward (a slower indexer's) changes nothing, hashes included, so the cursor
        never goes back and the hash history is the one of the indexer that moved it.
        Only ``rewind_cursor`` moves a cursor back.
        """

    @abstractmethod
    async def recent_hashes(self, chain_id: int) -> dict[int, str]: ...

    @abstractmethod
    async def rewind_cursor(self, chain_id: int, block: int, block_hash: str) -> None:
        """Move a cursor back (after a reorg); forgets recent hashes above ``block``."""

    # --- transactions ---------------------------------------------------------------------

    @abstractmethod
    async def add_tx(self, tx: TxRow) -> None:
        """Record a signed transaction that carries no messages (or a replacement)."""

    @abstractmethod
    async def pending_txs(self, chain_id: int, sender: str | None = None) -> list[TxRow]: ...

    @abstractmethod
    async def set_tx_status(
        self, tx_hash: str, status: TxStatus, mined_block: int | None = None
    ) -> None: ...

    @abstractmethod
    async def tx_messages(self, tx_hash: str) -> list[bytes]:
        """The ids of the messages a transaction carries."""

    @abstractmethod
    async def max_tx_nonce(self, chain_id: int, sender: str) -> int | None:
        """The highest nonce this store ever signed for ``sender`` on a chain."""

    # --- checkpoints ------------------------------------------------------------------------

    @abstractmethod
    async def add_signature(
        self, origin: int, index: int, root: bytes, mailbox: bytes, validator: str, signature: bytes
    ) -> None: ...

    @abstractmethod
    async def best_checkpoint(
        self,
        origin: int,
        validators: Sequence[str],
        threshold: int,
        *,
        max_index: int | None = None,
    ) -> StoredCheckpoint | None:
        """The highest checkpoint signed by at least ``threshold`` of ``validators``.

        ``max_index`` bounds it (a relayer can prove only against a checkpoint its own
        tree reaches; another relayer sharing the store may be ahead).
        """

    @abstractmethod
    async def latest_signed_index(self, origin: int, validator: str) -> int | None: ...

    # --- application events -------------------------------------------------------------

    @abstractmethod
    async def add_events(self, events: Sequence[ChainEvent]) -> None: ...

    @abstractmethod
    async def events(
        self, *, name: str | None = None, key: bytes | None = None
    ) -> list[ChainEvent]: ...

    # --- small key-value state (watchers) ---------------------------------------------------

    @abstractmethod
    async def get_state(self, key: str) -> str | None: ...

    @abstractmethod
    async def set_state(self, key: str, value: str) -> None: ...

    # --- hash-time locks (the DvP watcher) ----------------------------------------------------

    @abstractmethod
    async def add_locks(self, locks: Sequence[HtlcLock]) -> int:
        """Insert locks not yet known (idempotent); returns how many were new."""

    @abstractmethod
    async def settle_locks(self, settlements: Sequence[LockSettlement]) -> list[HtlcLock]:
        """Mark open locks claimed or refunded; returns the locks this changed, as changed.

        A settlement of a lock that is unknown or already settled changes nothing.
        """

    @abstractmethod
    async def htlc_lock(self, chain_id: int, lock_id: bytes) -> HtlcLock | None: ...

    @abstractmethod
    async def htlc_locks(
        self,
        *,
        state: LockState | None = None,
        hashlock: bytes | None = None,
        limit: int = 1000,
    ) -> list[HtlcLock]:
        """Locks by state and/or hashlock, soonest expiry first."""

    @abstractmethod
    async def revealed(self, hashlocks: Sequence[bytes]) -> dict[bytes, bytes]:
        """The preimages claims revealed, for those of ``hashlocks`` that have one."""

    @abstractmethod
    async def reserve_lock_action(
        self, chain_id: int, lock_id: bytes, *, now: float, until: float
    ) -> bool:
        """Take the right to act on a lock until ``until``; False when it is not due (an
        action of this or another relayer sharing the store is in its wait).

        Whoever gets True sends the claim or refund; two relayers never both do.
        """

    @abstractmethod
    async def note_lock_action(
        self,
        chain_id: int,
        lock_id: bytes,
        action: str,
        *,
        tx_hash: str | None,
        error: str | None,
        next_attempt_at: float,
    ) -> None:
        """Record that the relayer sent (``tx_hash``) or failed to send (``error``) an action."""
