"""The PostgreSQL store: several relayers sharing one database split the work.

The semantics are SqliteStore's, call for call. What differs is concurrency: the
relayers' transactions really run at once, so

- ``claim`` picks a lane's due rows with ``FOR UPDATE SKIP LOCKED`` and writes the
  lease (``lease_owner``, ``lease_until``) in the same transaction: two relayers
  claiming at once get disjoint rows, and neither waits for the other;
- ``submit`` locks its messages and refuses (``LeaseLost``, nothing written) when
  another relayer holds or took over one of them, so no message is ever submitted
  by two relayers, whatever the clocks or a stalled process did;
- every write that touches several message rows locks them in id order, so two
  relayers never deadlock on each other (PostgreSQL would break one, and the
  connection runs it again: see pg_connection);
- inserts are idempotent (``ON CONFLICT``): both relayers index every chain;
- a chain's cursor only moves forward (``set_cursor``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any

from relayer.errors import StoreError
from relayer.store.base import Store, instance_name, lease_lost, message_listing
from relayer.store.models import (
    NEVER,
    MessageRow,
    NewMessage,
    Status,
    TxRow,
    TxStatus,
)
from relayer.store.pg_chain_state import PgChainState
from relayer.store.pg_connection import Cursor, PgConnection, PgTarget
from relayer.store.pg_locks import PgLockMethods
from relayer.store.pg_writer import PgWriterLease
from relayer.store.writer import WriterGuard

_MESSAGE_COLUMNS = ", ".join(f.name for f in fields(MessageRow))
_TX_COLUMNS = ", ".join(f.name for f in fields(TxRow) if f.name != "message_ids")
_INSERT_CHUNK = 500  # rows per multi-row INSERT (PostgreSQL binds at most 65535 values)


def _message(row: Sequence[Any]) -> MessageRow:
    values = list(row)
    values[12] = Status(values[12])
    return MessageRow(*values)


def _tx(row: Sequence[Any]) -> TxRow:
    values = list(row)
    values[5], values[6] = int(values[5]), int(values[6])
    values[9] = TxStatus(values[9])
    return TxRow(*values)


def _rows_sql(count: int, width: int) -> str:
    """``(%s, ...), (%s, ...)``: the VALUES of a multi-row INSERT."""
    row = "(" + ", ".join(["%s"] * width) + ")"
    return ", ".join([row] * count)


async def _lock_messages(cur: Cursor, ids: Sequence[bytes]) -> list[tuple[Any, ...]]:
    """Lock message rows in id order (every writer does, so none deadlocks); their owners."""
    await cur.execute(
        "SELECT id, lease_owner, status FROM messages WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
        (sorted(set(ids)),),
    )
    return await cur.fetchall()


class PostgresStore(PgChainState, PgLockMethods, Store):
    """A Store in a PostgreSQL database, shareable by several relayers."""

    _mark = "%s"
    _floor = "FLOOR({})"

    def __init__(
        self, db: PgConnection, *, owner: str | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.owner = owner or instance_name()
        self._clock = clock

    @classmethod
    async def connect(
        cls, url: str, *, owner: str | None = None, clock: Callable[[], float] = time.time
    ) -> PostgresStore:
        """Open ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB``, creating the tables once."""
        owner = owner or instance_name()
        db = PgConnection(PgTarget(url), application_name=f"stbridge {owner}")
        await db.open()
        return cls(db, owner=owner, clock=clock)

    async def _select(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self._fetch(sql, params)

    @property
    def where(self) -> str:
        """The server and database, without a password."""
        return self.db.target.where

    async def close(self) -> None:
        await self.db.close()

    async def take_writer(self, relayer_address: str, *, lease_seconds: float) -> WriterGuard:
        lease = PgWriterLease(self.db, relayer_address, lease_seconds, clock=self._clock)
        await lease.take()
        return lease

    # --- messages -----------------------------------------------------------------

    async def add_messages(
        self, messages: Sequence[NewMessage], ignored: Mapping[bytes, str] | None = None
    ) -> int:
        if not messages:
            return 0
        now = self._clock()
        skip = ignored or {}
        ordered = sorted(messages, key=lambda m: (m.origin, m.nonce))

        async def insert(cur: Cursor) -> int:
            added = 0
            for start in range(0, len(ordered), _INSERT_CHUNK):
                chunk = ordered[start : start + _INSERT_CHUNK]
                params = [
                    value
                    for m in chunk
                    for value in (
                        m.id, m.origin, m.nonce, m.destination, m.sender, m.recipient, m.raw,
                        m.kind, m.ref, m.dispatch_tx, m.dispatch_block, m.dispatched_at,
                        "ignored" if m.id in skip else "pending", 0, 0.0, skip.get(m.id),
                        now, now,
                    )
                ]  # fmt: skip
                await cur.execute(
                    "INSERT INTO messages (id, origin, nonce, destination, sender, recipient, "
                    "raw, kind, ref, dispatch_tx, dispatch_block, dispatched_at, status, "
                    "attempts, next_attempt_at, last_error, indexed_at, updated_at) "
                    f"VALUES {_rows_sql(len(chunk), 18)} ON CONFLICT DO NOTHING",
                    params,
                )
                added += max(cur.rowcount, 0)
            return added

        return await self.db.run(insert)

    async def message(self, message_id: bytes) -> MessageRow | None:
        rows = await self._fetch(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = %s", (message_id,)
        )
        return _message(rows[0]) if rows else None

    async def find_message(self, prefix: str) -> list[MessageRow]:
        text = prefix.lower().removeprefix("0x")
        if not text or any(c not in "0123456789abcdef" for c in text):
            return []
        rows = await self._fetch(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE encode(id, 'hex') LIKE %s LIMIT 5",
            (text + "%",),
        )
        return [_message(r) for r in rows]

    async def messages(
        self,
        *,
        status: Status | None = None,
        origin: int | None = None,
        destination: int | None = None,
        limit: int = 100,
        newest_first: bool = True,
    ) -> list[MessageRow]:
        tail, params = message_listing(
            "%s", status=status, origin=origin, destination=destination, limit=limit,
            newest_first=newest_first,
        )  # fmt: skip
        rows = await self._fetch(f"SELECT {_MESSAGE_COLUMNS} FROM messages {tail}", params)
        return [_message(r) for r in rows]

    async def return_of(self, transfer_id: bytes) -> MessageRow | None:
        rows = await self._fetch(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE ref = %s AND kind = 2 LIMIT 1",
            (transfer_id,),
        )
        return _message(rows[0]) if rows else None

    async def leaves(self, origin: int, start: int = 0, limit: int | None = None) -> list[bytes]:
        rows = await self._fetch(
            "SELECT id FROM messages WHERE origin = %s AND nonce >= %s ORDER BY nonce LIMIT %s",
            (origin, start, limit),
        )
        return [bytes(r[0]) for r in rows]

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
        rows = await self._fetch(
            "WITH due AS ("
            "  SELECT id FROM messages"
            "  WHERE origin = %s AND destination = %s AND status IN ('pending', 'failed')"
            "  AND nonce <= %s AND next_attempt_at <= %s"
            "  AND (lease_owner IS NULL OR lease_owner = %s OR lease_until < %s)"
            "  ORDER BY nonce LIMIT %s FOR UPDATE SKIP LOCKED"
            ") "
            "UPDATE messages m SET lease_owner = %s, lease_until = %s FROM due WHERE m.id = due.id "
            f"RETURNING {', '.join('m.' + c.strip() for c in _MESSAGE_COLUMNS.split(','))}",
            (origin, destination, max_nonce, now, self.owner, now, limit, self.owner,
             now + lease_seconds),
        )  # fmt: skip
        return sorted((_message(r) for r in rows), key=lambda m: m.nonce)

    async def release(self, ids: Sequence[bytes]) -> None:
        if not ids:
            return

        async def release(cur: Cursor) -> None:
            await _lock_messages(cur, ids)
            await cur.execute(
                "UPDATE messages SET lease_owner = NULL, lease_until = NULL "
                "WHERE id = ANY(%s) AND lease_owner = %s",
                (list(ids), self.owner),
            )

        await self.db.run(release)

    async def submit(self, tx: TxRow) -> None:
        now = self._clock()

        async def submit(cur: Cursor) -> None:
            rows = await _lock_messages(cur, tx.message_ids)
            taken = [
                owner
                for _id, owner, status in rows
                if owner is not None and owner != self.owner and status != "delivered"
            ]
            if taken:
                raise lease_lost(tx.hash, len(taken), len(tx.message_ids), taken[0])
            await self._insert_tx(cur, tx)
            await cur.execute(
                "UPDATE messages SET status = 'submitted', tx_hash = %s, updated_at = %s, "
                "lease_owner = %s, lease_until = NULL WHERE id = ANY(%s) AND status <> 'delivered'",
                (tx.hash, now, self.owner, list(tx.message_ids)),
            )

        await self.db.run(submit)

    @staticmethod
    async def _insert_tx(cur: Cursor, tx: TxRow) -> None:
        # The same signed bytes again (a transaction the node refused, signed anew with
        # the same nonce and fees) are the same transaction: the row comes back to life.
        await cur.execute(
            f"INSERT INTO txs ({_TX_COLUMNS}) VALUES ({_rows_sql(1, 13)[1:-1]}) "
            "ON CONFLICT (hash) DO UPDATE SET status = excluded.status, "
            "sent_at = excluded.sent_at, mined_block = NULL",
            (
                tx.chain_id, tx.sender, tx.nonce, tx.hash, tx.raw, str(tx.max_fee),
                str(tx.priority_fee), tx.gas_limit, tx.purpose, str(tx.status), tx.sent_at,
                tx.mined_block, tx.replaces,
            ),
        )  # fmt: skip
        if tx.message_ids:
            ids = sorted(set(tx.message_ids))
            await cur.execute(
                f"INSERT INTO tx_messages (tx_hash, message_id) VALUES {_rows_sql(len(ids), 2)} "
                "ON CONFLICT DO NOTHING",
                [value for i in ids for value in (tx.hash, i)],
            )

    async def mark_delivered(self, deliveries: Sequence[tuple[bytes, str, int, float]]) -> None:
        if not deliveries:
            return
        now = self._clock()
        ordered = sorted(deliveries, key=lambda d: d[0])

        async def mark(cur: Cursor) -> None:
            await cur.executemany(
                "UPDATE messages SET status = 'delivered', deliver_tx = %s, "
                "delivered_block = %s, delivered_at = %s, updated_at = %s, lease_owner = NULL, "
                "lease_until = NULL, last_error = NULL "
                "WHERE id = %s AND (status <> 'delivered' OR deliver_tx = '')",
                [(tx, block, at, now, i) for i, tx, block, at in ordered],
            )

        await self.db.run(mark)

    async def mark_failed(self, ids: Sequence[bytes], error: str, next_attempt_at: float) -> None:
        if not ids:
            return
        now = self._clock()

        async def mark(cur: Cursor) -> None:
            await _lock_messages(cur, ids)
            await cur.execute(
                "UPDATE messages SET status = 'failed', attempts = attempts + 1, "
                "last_error = %s, next_attempt_at = %s, updated_at = %s, lease_owner = NULL, "
                "lease_until = NULL, tx_hash = NULL WHERE id = ANY(%s) AND status <> 'delivered'",
                (error[:1000], next_attempt_at, now, sorted(set(ids))),
            )

        await self.db.run(mark)

    async def mark_ignored(self, reasons: Sequence[tuple[bytes, str]]) -> None:
        if not reasons:
            return
        now = self._clock()
        ordered = sorted(reasons)

        async def mark(cur: Cursor) -> None:
            await _lock_messages(cur, [i for i, _r in ordered])
            await cur.executemany(
                "UPDATE messages SET status = 'ignored', last_error = %s, updated_at = %s, "
                "lease_owner = NULL, lease_until = NULL WHERE id = %s "
                "AND status IN ('pending', 'failed')",
                [(reason[:1000], now, i) for i, reason in ordered],
            )

        await self.db.run(mark)

    async def unignore(self, ids: Sequence[bytes]) -> None:
        if not ids:
            return
        now = self._clock()

        async def mark(cur: Cursor) -> None:
            await _lock_messages(cur, ids)
            await cur.execute(
                "UPDATE messages SET status = 'pending', last_error = NULL, "
                "next_attempt_at = 0, updated_at = %s WHERE id = ANY(%s) AND status = 'ignored'",
                (now, sorted(set(ids))),
            )

        await self.db.run(mark)

    async def postpone(self, ids: Sequence[bytes], until: float, reason: str) -> None:
        if not ids:
            return
        now = self._clock()

        async def mark(cur: Cursor) -> None:
            await _lock_messages(cur, ids)
            await cur.execute(
                "UPDATE messages SET next_attempt_at = %s, last_error = %s, updated_at = %s, "
                "lease_owner = NULL, lease_until = NULL WHERE id = ANY(%s) "
                "AND status IN ('pending', 'failed')",
                (until, reason[:1000], now, sorted(set(ids))),
            )

        await self.db.run(mark)

    async def mark_refused(self, ids: Sequence[bytes], error: str) -> None:
        if not ids:
            return
        now = self._clock()

        async def mark(cur: Cursor) -> None:
            await _lock_messages(cur, ids)
            await cur.execute(
                "UPDATE messages SET status = 'refused', attempts = attempts + 1, "
                "last_error = %s, next_attempt_at = %s, updated_at = %s, lease_owner = NULL, "
                "lease_until = NULL, tx_hash = NULL WHERE id = ANY(%s) AND status <> 'delivered'",
                (error[:1000], NEVER, now, sorted(set(ids))),
            )

        await self.db.run(mark)

    async def requeue(self, ids: Sequence[bytes]) -> None:
        if not ids:
            return
        now = self._clock()

        async def requeue(cur: Cursor) -> None:
            await _lock_messages(cur, ids)
            await cur.execute(
                "UPDATE messages SET status = 'pending', tx_hash = NULL, updated_at = %s, "
                "lease_owner = NULL, lease_until = NULL "
                "WHERE id = ANY(%s) AND status = 'submitted'",
                (now, list(ids)),
            )

        await self.db.run(requeue)

    async def retry_now(self, message_id: bytes) -> bool:
        now = self._clock()
        changed = await self._execute(
            "UPDATE messages SET next_attempt_at = 0, updated_at = %s, "
            "status = CASE status WHEN 'refused' THEN 'failed' ELSE status END "
            "WHERE id = %s AND status IN ('pending', 'failed', 'refused')",
            (now, message_id),
        )
        return changed > 0

    async def backlog(self, origin: int, destination: int) -> tuple[int, float | None]:
        rows = await self._fetch(
            "SELECT count(*), min(dispatched_at) FROM messages WHERE origin = %s "
            "AND destination = %s AND status IN ('pending', 'submitted', 'failed')",
            (origin, destination),
        )
        count, oldest = rows[0]
        return int(count), oldest

    async def status_counts(self) -> dict[tuple[int, int, str], int]:
        rows = await self._fetch(
            "SELECT origin, destination, status, count(*) FROM messages "
            "GROUP BY origin, destination, status"
        )
        return {(int(o), int(d), str(s)): int(n) for o, d, s, n in rows}

    async def forget_from(self, origin: int, nonce: int) -> int:
        async def forget(cur: Cursor) -> int:
            await cur.execute(
                "SELECT count(*) FROM messages WHERE origin = %s AND nonce >= %s "
                "AND status IN ('delivered', 'submitted')",
                (origin, nonce),
            )
            row = await cur.fetchone()
            done = int(row[0]) if row else 0
            if done:
                raise StoreError(
                    f"cannot forget messages of {origin} from nonce {nonce}: "
                    f"{done} of them were already submitted or delivered"
                )
            await cur.execute(
                "DELETE FROM messages WHERE origin = %s AND nonce >= %s", (origin, nonce)
            )
            return max(cur.rowcount, 0)

        return await self.db.run(forget)

    # --- transactions ------------------------------------------------------------------

    async def add_tx(self, tx: TxRow) -> None:
        await self.db.run(lambda cur: self._insert_tx(cur, tx))

    async def pending_txs(self, chain_id: int, sender: str | None = None) -> list[TxRow]:
        sql = (
            f"SELECT {_TX_COLUMNS}, array(SELECT message_id FROM tx_messages "
            "WHERE tx_hash = txs.hash ORDER BY message_id) FROM txs "
            "WHERE chain_id = %s AND status = 'pending'"
        )
        params: list[Any] = [chain_id]
        if sender is not None:
            sql += " AND sender = %s"
            params.append(sender)
        txs: list[TxRow] = []
        for row in await self._fetch(sql + " ORDER BY nonce, sent_at", params):
            tx = _tx(row[:-1])
            tx.message_ids = [bytes(i) for i in row[-1]]
            txs.append(tx)
        return txs

    async def set_tx_status(
        self, tx_hash: str, status: TxStatus, mined_block: int | None = None
    ) -> None:
        await self._execute(
            "UPDATE txs SET status = %s, mined_block = coalesce(%s, mined_block) WHERE hash = %s",
            (str(status), mined_block, tx_hash),
        )

    async def tx_messages(self, tx_hash: str) -> list[bytes]:
        rows = await self._fetch(
            "SELECT message_id FROM tx_messages WHERE tx_hash = %s ORDER BY message_id",
            (tx_hash,),
        )
        return [bytes(r[0]) for r in rows]

    async def max_tx_nonce(self, chain_id: int, sender: str) -> int | None:
        rows = await self._fetch(
            "SELECT max(nonce) FROM txs WHERE chain_id = %s AND sender = %s", (chain_id, sender)
        )
        return None if rows[0][0] is None else int(rows[0][0])
