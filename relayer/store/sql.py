"""The store's statements and logic, written once for SQLite and PostgreSQL.

``SqlStore`` implements every ``Store`` method over a ``Connection`` (sqlite.py,
postgres.py) and its ``Dialect``: what differs between the two databases is a handful
of words (the placeholder, the row-locking clause, a list parameter, the hex of a
blob, the column types), not the statements. Rows are mapped to the dataclasses of
models.py by column name (``row_mapper``).

Concurrency, for relayers sharing a PostgreSQL store (SQLite's ``BEGIN IMMEDIATE``
serializes whole transactions, so there the locking clauses are empty):

- ``claim`` picks a lane's due rows with ``FOR UPDATE SKIP LOCKED`` and writes the
  lease (``lease_owner``, ``lease_until``) in the same transaction: two relayers
  claiming at once get disjoint rows, and neither waits for the other;
- ``submit`` locks its messages and refuses (``LeaseLost``, nothing written) when
  another relayer holds or took over one of them, so no message is ever submitted by
  two relayers, whatever the clocks or a stalled process did;
- every write that touches several rows locks or writes them in key order, so two
  relayers never deadlock on each other (PostgreSQL would break one, and the
  connection runs it again);
- inserts are idempotent (``ON CONFLICT``): every relayer indexes every chain;
- a chain's cursor only moves forward (``set_cursor``), and the block hashes of a write
  that did not move it are not recorded either.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from enum import Enum
from functools import lru_cache
from operator import attrgetter
from types import NoneType
from typing import Any, Generic, TypeVar, get_args, get_type_hints

from relayer.errors import StoreError
from relayer.store.base import Store, lease_lost, message_listing
from relayer.store.models import (
    NEVER,
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
from relayer.store.schema import ID_KEY, ID_KEY_BYTES

T = TypeVar("T")
R = TypeVar("R")
Params = Sequence[Any]
CHUNK = 500  # rows per multi-row INSERT, values per IN list (both databases bind far more)


@dataclass(frozen=True)
class Dialect:
    """What one database spells its own way. Statements are written with ``?``."""

    name: str
    placeholder: str  # "?" (sqlite3) or "%s" (psycopg)
    types: Mapping[str, str]  # schema.py's column types to this database's
    lock_rows: str  # appended to a SELECT that locks the rows it reads
    skip_locked: str  # appended to a SELECT that takes only rows nobody else locked
    hex_id: str  # the message id as lower-case hex
    no_limit: int | None  # the LIMIT that means all rows
    array_params: bool  # a list binds as one array (``= ANY(?)``), else ``IN (?, ?, ...)``
    floor: str  # the integer part of a non-negative number, ``{}`` the expression

    def sql(self, text: str) -> str:
        """``text`` with this database's placeholder."""
        return _placeheld(text, self.placeholder)

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` is one of ``values`` (not empty): the condition and its parameters."""
        if self.array_params:
            return f"{column} = ANY(?)", [list(values)]
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    def among_ids(self, ids: Sequence[bytes]) -> tuple[str, list[Any]]:
        """The messages of ``ids`` (not empty), found through their index (``BY_ID``)."""
        keys, key_params = self.among(ID_KEY, [i[:ID_KEY_BYTES] for i in ids])
        where, params = self.among("id", ids)
        return f"{keys} AND {where}", key_params + params


# A message by its id: through messages_id, which holds the id's first bytes (schema.py);
# its parameters are ``by_id(message_id)``. A bare ``id = ?`` would read the whole table.
BY_ID = f"{ID_KEY} = ? AND id = ?"


def by_id(message_id: bytes) -> tuple[bytes, bytes]:
    return message_id[:ID_KEY_BYTES], message_id


@lru_cache(maxsize=512)
def _placeheld(text: str, placeholder: str) -> str:
    return text if placeholder == "?" else text.replace("?", placeholder)


class Tx(ABC):
    """One transaction: statements with ``?`` placeholders."""

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; how many rows it changed."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Sequence[Params]) -> None: ...

    @abstractmethod
    async def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]: ...

    async def insert_rows(self, into: str, rows: Sequence[Params], *, tail: str = "") -> int:
        """``INSERT INTO {into} VALUES (...) {tail}`` for every row; how many rows it added.

        Multi-row VALUES, CHUNK rows a statement (SQLite's are larger: sqlite.py).
        """
        added = 0
        for chunk in _chunks(rows):
            params = [value for row in chunk for value in row]
            added += await self.execute(
                f"INSERT INTO {into} VALUES {value_rows(len(chunk), len(chunk[0]))} {tail}", params
            )
        return added


class Connection(ABC):
    """A store's database: one transaction at a time, each a call of ``run``."""

    dialect: Dialect

    @abstractmethod
    async def run(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """``work`` in one writing transaction, committed when it returns."""

    @abstractmethod
    async def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """One read on its own (SQLite takes no write lock for it)."""

    @abstractmethod
    async def close(self) -> None: ...


# --- rows <-> dataclasses -------------------------------------------------------------

_TEXT_INTS = frozenset({"max_fee", "priority_fee", "amount"})  # beyond 64 bits: TEXT columns


def _converter(hint: Any) -> Callable[[Any], Any]:
    args = [a for a in get_args(hint) if a is not NoneType]
    base = args[0] if args else hint
    convert: Callable[[Any], Any] = base if base in (bytes, int, float, str) else _same
    if isinstance(base, type) and issubclass(base, Enum):
        convert = base
    if NoneType in get_args(hint):
        return lambda value: None if value is None else convert(value)
    return convert


def _same(value: Any) -> Any:
    return value


class RowMapper(Generic[R]):
    """A dataclass's columns (by field name) and the mapping of a row back to it."""

    def __init__(self, cls: type[R], *, skip: Sequence[str] = ()) -> None:
        hints = get_type_hints(cls)
        self.cls = cls
        self.names = [f.name for f in fields(cls) if f.name not in skip]  # type: ignore[arg-type]
        self.columns = ", ".join(self.names)
        self._convert = [(name, _converter(hints[name])) for name in self.names]

    def __call__(self, row: Sequence[Any]) -> R:
        pairs = zip(self._convert, row, strict=True)
        return self.cls(**{name: convert(value) for (name, convert), value in pairs})

    def values(self, item: Any, names: Sequence[str] | None = None) -> tuple[Any, ...]:
        """``item``'s fields as parameters: enums as their text, big integers as text."""
        return tuple(_param(n, getattr(item, n)) for n in (names or self.names))


def _param(name: str, value: Any) -> Any:
    if isinstance(value, Enum):
        return str(value)
    return str(value) if name in _TEXT_INTS else value


MESSAGE = RowMapper(MessageRow)
TX = RowMapper(TxRow, skip=("message_ids",))
LOCK = RowMapper(HtlcLock)
_NEW_LOCK = LOCK.names[: LOCK.names.index("state") + 1]  # what a Locked event tells

_BY_NONCE = attrgetter("origin", "nonce")
MESSAGE_COLUMNS = (
    "id, origin, nonce, destination, sender, recipient, raw, kind, ref, dispatch_tx, "
    "dispatch_block, dispatched_at, status, attempts, next_attempt_at, last_error, indexed_at, "
    "updated_at"
)
# A lane's due rows in nonce order, through the partial index messages_due (schema.py):
# the delivered history of a lane, however long, is never walked.
CLAIM_SQL = (
    f"SELECT {MESSAGE.columns} FROM messages "
    "WHERE origin = ? AND destination = ? AND status IN ('pending', 'failed') "
    "AND nonce <= ? AND next_attempt_at <= ? "
    "AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?) "
    "ORDER BY nonce LIMIT ?"
)


def value_rows(count: int, width: int) -> str:
    """``(?, ...), (?, ...)``: the VALUES of a multi-row INSERT (sqlite.py's too)."""
    return ", ".join(["(" + ", ".join("?" * width) + ")"] * count)


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


class SqlStore(Store):
    """Every Store method, once; sqlite.py and postgres.py give it a connection."""

    def __init__(
        self, conn: Connection, *, owner: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        self.owner = owner
        self._clock = clock

    async def close(self) -> None:
        await self.conn.close()

    async def _read(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return await self.conn.fetch(sql, params)

    async def _select(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """A read of relayer/store/reads.py (the console's), with ``?`` placeholders."""
        return await self._read(sql, tuple(params))

    @property
    def _floor(self) -> str:
        return self.dialect.floor

    async def _write(self, sql: str, params: Params = ()) -> int:
        return await self.conn.run(lambda tx: tx.execute(sql, params))

    async def _by_ids(self, tx: Tx, sql: str, params: Params, ids: Sequence[Any]) -> int:
        """``sql`` (ending in ``{ids}``) for the rows of ``ids``, in id order; rows changed."""
        changed = 0
        for chunk in _chunks(sorted(set(ids))):
            where, values = self.dialect.among_ids(chunk)
            changed += await tx.execute(sql.replace("{ids}", where), (*params, *values))
        return changed

    async def _lock_messages(self, tx: Tx, ids: Sequence[bytes]) -> list[tuple[Any, ...]]:
        """Lock message rows in id order (every writer does, so none deadlocks)."""
        rows: list[tuple[Any, ...]] = []
        for chunk in _chunks(sorted(set(ids))):
            where, values = self.dialect.among_ids(chunk)
            rows += await tx.fetch(
                f"SELECT id, lease_owner, status FROM messages WHERE {where} ORDER BY id"
                + self.dialect.lock_rows,
                values,
            )
        return rows

    async def _update_messages(self, ids: Sequence[bytes], sql: str, params: Params) -> None:
        """Lock the rows of ``ids``, then ``sql`` (ending in ``{ids}``) on them."""
        if not ids:
            return

        async def update(tx: Tx) -> None:
            await self._lock_messages(tx, ids)
            await self._by_ids(tx, sql, params, ids)

        await self.conn.run(update)

    # --- messages -----------------------------------------------------------------

    async def add_messages(
        self, messages: Sequence[NewMessage], ignored: Mapping[bytes, str] | None = None
    ) -> int:
        if not messages:
            return 0
        now = self._clock()
        skip = ignored or {}
        ordered = sorted(messages, key=_BY_NONCE)
        # a NewMessage is the row's first columns, in MESSAGE_COLUMNS's order: the row is it
        # and its state (a backfill builds a million of these)
        pending = ("pending", 0, 0.0, None, now, now)
        rows = [
            m + (("ignored", 0, 0.0, skip[m.id], now, now) if m.id in skip else pending)
            for m in ordered
        ]

        async def insert(tx: Tx) -> int:
            return await tx.insert_rows(
                f"messages ({MESSAGE_COLUMNS})", rows, tail="ON CONFLICT DO NOTHING"
            )

        return await self.conn.run(insert)

    async def _messages(self, where: str, params: Params = ()) -> list[MessageRow]:
        rows = await self._read(f"SELECT {MESSAGE.columns} FROM messages {where}", params)
        return [MESSAGE(r) for r in rows]

    async def message(self, message_id: bytes) -> MessageRow | None:
        rows = await self._messages(f"WHERE {BY_ID}", by_id(message_id))
        return rows[0] if rows else None

    async def messages_by_id(self, ids: Sequence[bytes]) -> list[MessageRow]:
        rows: list[MessageRow] = []
        for chunk in _chunks(sorted(set(ids))):
            where, values = self.dialect.among_ids(chunk)
            rows += await self._messages(f"WHERE {where}", tuple(values))
        return rows

    async def find_message(self, prefix: str) -> list[MessageRow]:
        text = prefix.lower().removeprefix("0x")
        if not text or any(c not in "0123456789abcdef" for c in text):
            return []
        return await self._messages(f"WHERE {self.dialect.hex_id} LIKE ? LIMIT 5", (text + "%",))

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
            "?", status=status, origin=origin, destination=destination, limit=limit,
            newest_first=newest_first,
        )  # fmt: skip
        return await self._messages(tail, params)

    async def return_of(self, transfer_id: bytes) -> MessageRow | None:
        rows = await self._messages("WHERE ref = ? AND kind = 2 LIMIT 1", (transfer_id,))
        return rows[0] if rows else None

    async def leaves(self, origin: int, start: int = 0, limit: int | None = None) -> list[bytes]:
        rows = await self._read(
            "SELECT id FROM messages WHERE origin = ? AND nonce >= ? ORDER BY nonce LIMIT ?",
            (origin, start, self.dialect.no_limit if limit is None else limit),
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
        async def claim(tx: Tx) -> list[MessageRow]:
            rows = await tx.fetch(
                CLAIM_SQL + self.dialect.skip_locked,
                (origin, destination, max_nonce, now, self.owner, now, limit),
            )
            due = [MESSAGE(r) for r in rows]
            if due:
                await self._by_ids(
                    tx,
                    "UPDATE messages SET lease_owner = ?, lease_until = ? WHERE {ids}",
                    (self.owner, now + lease_seconds),
                    [m.id for m in due],
                )
            return due

        return await self.conn.run(claim)

    async def release(self, ids: Sequence[bytes]) -> None:
        await self._update_messages(
            ids,
            "UPDATE messages SET lease_owner = NULL, lease_until = NULL "
            "WHERE lease_owner = ? AND {ids}",
            (self.owner,),
        )

    async def submit(self, tx: TxRow) -> None:
        now = self._clock()

        async def submit(db: Tx) -> None:
            rows = await self._lock_messages(db, tx.message_ids)
            taken = [
                owner
                for _id, owner, status in rows
                if owner is not None and owner != self.owner and status != "delivered"
            ]
            if taken:
                raise lease_lost(tx.hash, len(taken), len(tx.message_ids), taken[0])
            await self._insert_tx(db, tx)
            await self._by_ids(
                db,
                "UPDATE messages SET status = 'submitted', tx_hash = ?, updated_at = ?, "
                "lease_owner = ?, lease_until = NULL WHERE status <> 'delivered' AND {ids}",
                (tx.hash, now, self.owner),
                tx.message_ids,
            )

        await self.conn.run(submit)

    async def submit_many(self, txs: Sequence[TxRow]) -> None:
        if not txs:
            return
        now = self._clock()

        async def submit(db: Tx) -> None:
            # every message of the round locked at once, in id order (no deadlock)
            rows = await self._lock_messages(db, [i for tx in txs for i in tx.message_ids])
            state = {bytes(r[0]): (r[1], r[2]) for r in rows}
            for tx in txs:
                taken = [
                    owner
                    for owner, status in (state[i] for i in tx.message_ids if i in state)
                    if owner is not None and owner != self.owner and status != "delivered"
                ]
                if taken:  # raised inside the transaction: nothing of the round is kept
                    raise lease_lost(tx.hash, len(taken), len(tx.message_ids), taken[0])
            # three statements for the round (prepared once, run over its rows), not
            # three per transaction: each is a trip to the store's thread
            await db.executemany(
                f"INSERT INTO txs ({TX.columns}) VALUES {value_rows(1, len(TX.names))} "
                "ON CONFLICT (hash) DO UPDATE SET status = excluded.status, "
                "sent_at = excluded.sent_at, mined_block = NULL",
                [TX.values(tx) for tx in txs],
            )
            carried = sorted({(tx.hash, i) for tx in txs for i in tx.message_ids})
            await db.executemany(
                "INSERT INTO tx_messages (tx_hash, message_id) VALUES (?, ?) "
                "ON CONFLICT DO NOTHING",
                carried,
            )
            await db.executemany(
                "UPDATE messages SET status = 'submitted', tx_hash = ?, updated_at = ?, "
                f"lease_owner = ?, lease_until = NULL WHERE {BY_ID} AND status <> 'delivered'",
                sorted(
                    (
                        (tx.hash, now, self.owner, *by_id(i))
                        for tx in txs
                        for i in set(tx.message_ids)
                    ),
                    key=lambda row: row[4],  # id order, as every writer
                ),
            )

        await self.conn.run(submit)

    @staticmethod
    async def _insert_tx(db: Tx, tx: TxRow) -> None:
        # The same signed bytes again (a transaction the node refused, signed anew with
        # the same nonce and fees) are the same transaction: the row comes back to life.
        await db.execute(
            f"INSERT INTO txs ({TX.columns}) VALUES {value_rows(1, len(TX.names))} "
            "ON CONFLICT (hash) DO UPDATE SET status = excluded.status, "
            "sent_at = excluded.sent_at, mined_block = NULL",
            TX.values(tx),
        )
        for chunk in _chunks(sorted(set(tx.message_ids))):
            await db.execute(
                f"INSERT INTO tx_messages (tx_hash, message_id) VALUES {value_rows(len(chunk), 2)} "
                "ON CONFLICT DO NOTHING",
                [value for i in chunk for value in (tx.hash, i)],
            )

    async def mark_delivered(self, deliveries: Sequence[tuple[bytes, str, int, float]]) -> None:
        if not deliveries:
            return
        now = self._clock()
        ordered = sorted(deliveries, key=lambda d: d[0])
        await self.conn.run(
            lambda tx: tx.executemany(
                "UPDATE messages SET status = 'delivered', deliver_tx = ?, delivered_block = ?, "
                "delivered_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL, "
                f"last_error = NULL WHERE {BY_ID} AND (status <> 'delivered' OR deliver_tx = '')",
                [(tx_hash, block, at, now, *by_id(i)) for i, tx_hash, block, at in ordered],
            )
        )

    async def mark_failed(self, ids: Sequence[bytes], error: str, next_attempt_at: float) -> None:
        await self._update_messages(
            ids,
            "UPDATE messages SET status = 'failed', attempts = attempts + 1, last_error = ?, "
            "next_attempt_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL, "
            "tx_hash = NULL WHERE status <> 'delivered' AND {ids}",
            (error[:1000], next_attempt_at, self._clock()),
        )

    async def mark_ignored(self, reasons: Sequence[tuple[bytes, str]]) -> None:
        if not reasons:
            return
        now = self._clock()
        ordered = sorted(reasons)

        async def mark(tx: Tx) -> None:
            await self._lock_messages(tx, [i for i, _reason in ordered])
            await tx.executemany(
                "UPDATE messages SET status = 'ignored', last_error = ?, updated_at = ?, "
                f"lease_owner = NULL, lease_until = NULL WHERE {BY_ID} "
                "AND status IN ('pending', 'failed')",
                [(reason[:1000], now, *by_id(i)) for i, reason in ordered],
            )

        await self.conn.run(mark)

    async def unignore(self, ids: Sequence[bytes]) -> None:
        await self._update_messages(
            ids,
            "UPDATE messages SET status = 'pending', last_error = NULL, next_attempt_at = 0, "
            "updated_at = ? WHERE status = 'ignored' AND {ids}",
            (self._clock(),),
        )

    async def postpone(self, ids: Sequence[bytes], until: float, reason: str) -> None:
        await self._update_messages(
            ids,
            "UPDATE messages SET next_attempt_at = ?, last_error = ?, updated_at = ?, "
            "lease_owner = NULL, lease_until = NULL "
            "WHERE status IN ('pending', 'failed') AND {ids}",
            (until, reason[:1000], self._clock()),
        )

    async def mark_refused(self, ids: Sequence[bytes], error: str) -> None:
        await self._update_messages(
            ids,
            "UPDATE messages SET status = 'refused', attempts = attempts + 1, last_error = ?, "
            "next_attempt_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL, "
            "tx_hash = NULL WHERE status <> 'delivered' AND {ids}",
            (error[:1000], NEVER, self._clock()),
        )

    async def requeue(self, ids: Sequence[bytes]) -> None:
        await self._update_messages(
            ids,
            "UPDATE messages SET status = 'pending', tx_hash = NULL, updated_at = ?, "
            "lease_owner = NULL, lease_until = NULL WHERE status = 'submitted' AND {ids}",
            (self._clock(),),
        )

    async def retry_now(self, message_id: bytes) -> bool:
        changed = await self._write(
            "UPDATE messages SET next_attempt_at = 0, updated_at = ?, "
            "status = CASE status WHEN 'refused' THEN 'failed' ELSE status END "
            f"WHERE {BY_ID} AND status IN ('pending', 'failed', 'refused')",
            (self._clock(), *by_id(message_id)),
        )
        return changed > 0

    async def backlog(self, origin: int, destination: int) -> tuple[int, float | None]:
        rows = await self._read(
            "SELECT count(*), min(dispatched_at) FROM messages WHERE origin = ? "
            "AND destination = ? AND status IN ('pending', 'submitted', 'failed')",
            (origin, destination),
        )
        count, oldest = rows[0]
        return int(count), oldest

    async def status_counts(self) -> dict[tuple[int, int, str], int]:
        rows = await self._read(
            "SELECT origin, destination, status, count(*) FROM messages "
            "GROUP BY origin, destination, status"
        )
        return {(int(o), int(d), str(s)): int(n) for o, d, s, n in rows}

    async def forget_from(self, origin: int, nonce: int) -> int:
        async def forget(tx: Tx) -> int:
            rows = await tx.fetch(
                "SELECT count(*) FROM messages WHERE origin = ? AND nonce >= ? "
                "AND status IN ('delivered', 'submitted')",
                (origin, nonce),
            )
            if rows[0][0]:
                raise StoreError(
                    f"cannot forget messages of {origin} from nonce {nonce}: "
                    f"{rows[0][0]} of them were already submitted or delivered"
                )
            return await tx.execute(
                "DELETE FROM messages WHERE origin = ? AND nonce >= ?", (origin, nonce)
            )

        return await self.conn.run(forget)

    # --- cursors ---------------------------------------------------------------------

    async def cursor(self, chain_id: int) -> tuple[int, str] | None:
        rows = await self._read("SELECT block, hash FROM cursors WHERE chain_id = ?", (chain_id,))
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    async def set_cursor(
        self, chain_id: int, block: int, block_hash: str, recent: Sequence[tuple[int, str]]
    ) -> None:
        now = self._clock()

        async def move(tx: Tx) -> None:
            moved = await tx.execute(
                "INSERT INTO cursors (chain_id, block, hash, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (chain_id) DO UPDATE SET block = excluded.block, "
                "hash = excluded.hash, updated_at = excluded.updated_at "
                "WHERE excluded.block > cursors.block",
                (chain_id, block, block_hash, now),
            )
            if not moved:  # another indexer is ahead: its position and hashes stand
                return
            if recent:
                await tx.executemany(
                    "INSERT INTO block_hashes (chain_id, number, hash) VALUES (?, ?, ?) "
                    "ON CONFLICT (chain_id, number) DO UPDATE SET hash = excluded.hash",
                    [(chain_id, n, h) for n, h in sorted(recent)],
                )
            await tx.execute(
                "DELETE FROM block_hashes WHERE chain_id = ? AND number < ?",
                (chain_id, block - 256),
            )

        await self.conn.run(move)

    async def recent_hashes(self, chain_id: int) -> dict[int, str]:
        rows = await self._read(
            "SELECT number, hash FROM block_hashes WHERE chain_id = ?", (chain_id,)
        )
        return {int(n): str(h) for n, h in rows}

    async def rewind_cursor(self, chain_id: int, block: int, block_hash: str) -> None:
        now = self._clock()

        async def rewind(tx: Tx) -> None:
            await tx.execute(
                "UPDATE cursors SET block = ?, hash = ?, updated_at = ? WHERE chain_id = ?",
                (block, block_hash, now, chain_id),
            )
            await tx.execute(
                "DELETE FROM block_hashes WHERE chain_id = ? AND number > ?", (chain_id, block)
            )

        await self.conn.run(rewind)

    # --- transactions ------------------------------------------------------------------

    async def add_tx(self, tx: TxRow) -> None:
        await self.conn.run(lambda db: self._insert_tx(db, tx))

    async def pending_txs(self, chain_id: int, sender: str | None = None) -> list[TxRow]:
        sql = f"SELECT {TX.columns} FROM txs WHERE chain_id = ? AND status = 'pending'"
        params: list[Any] = [chain_id]
        if sender is not None:
            sql += " AND sender = ?"
            params.append(sender)
        txs = [TX(r) for r in await self._read(sql + " ORDER BY nonce, sent_at", params)]
        carried: dict[str, list[bytes]] = {}
        for chunk in _chunks([tx.hash for tx in txs]):
            where, values = self.dialect.among("tx_hash", chunk)
            for tx_hash, message_id in await self._read(
                f"SELECT tx_hash, message_id FROM tx_messages WHERE {where} ORDER BY message_id",
                values,
            ):
                carried.setdefault(str(tx_hash), []).append(bytes(message_id))
        for tx in txs:
            tx.message_ids = carried.get(tx.hash, [])
        return txs

    async def set_tx_status(
        self, tx_hash: str, status: TxStatus, mined_block: int | None = None
    ) -> None:
        await self._write(
            "UPDATE txs SET status = ?, mined_block = coalesce(?, mined_block) WHERE hash = ?",
            (str(status), mined_block, tx_hash),
        )

    async def tx_messages(self, tx_hash: str) -> list[bytes]:
        rows = await self._read(
            "SELECT message_id FROM tx_messages WHERE tx_hash = ? ORDER BY message_id", (tx_hash,)
        )
        return [bytes(r[0]) for r in rows]

    async def max_tx_nonce(self, chain_id: int, sender: str) -> int | None:
        rows = await self._read(
            "SELECT max(nonce) FROM txs WHERE chain_id = ? AND sender = ?", (chain_id, sender)
        )
        return None if rows[0][0] is None else int(rows[0][0])

    # --- checkpoints ---------------------------------------------------------------------

    async def add_signature(
        self, origin: int, index: int, root: bytes, mailbox: bytes, validator: str, signature: bytes
    ) -> None:
        async def add(tx: Tx) -> None:
            await tx.execute(
                "INSERT INTO checkpoints (origin, idx, root, mailbox) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (origin, index, root, mailbox),
            )
            await tx.execute(
                "INSERT INTO checkpoint_signatures (origin, idx, root, validator, signature) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin, idx, root, validator) "
                "DO UPDATE SET signature = excluded.signature",
                (origin, index, root, validator, signature),
            )

        await self.conn.run(add)

    async def best_checkpoint(
        self,
        origin: int,
        validators: Sequence[str],
        threshold: int,
        *,
        max_index: int | None = None,
    ) -> StoredCheckpoint | None:
        if not validators:
            return None
        signers, names = self.dialect.among("s.validator", validators)
        rows = await self._read(
            "SELECT c.idx, c.root, c.mailbox FROM checkpoints c "
            "JOIN checkpoint_signatures s ON s.origin = c.origin AND s.idx = c.idx "
            f"AND s.root = c.root WHERE c.origin = ? AND {signers} AND c.idx <= ? "
            "GROUP BY c.origin, c.idx, c.root HAVING count(*) >= ? "
            "ORDER BY c.idx DESC LIMIT 1",
            (origin, *names, 2**32 if max_index is None else max_index, threshold),
        )
        if not rows:
            return None
        index, root, mailbox = rows[0]
        signatures = await self._read(
            "SELECT s.validator, s.signature FROM checkpoint_signatures s "
            f"WHERE s.origin = ? AND s.idx = ? AND s.root = ? AND {signers}",
            (origin, index, root, *names),
        )
        return StoredCheckpoint(
            origin, int(index), bytes(root), bytes(mailbox), {v: bytes(s) for v, s in signatures}
        )

    async def latest_signed_index(self, origin: int, validator: str) -> int | None:
        rows = await self._read(
            "SELECT max(idx) FROM checkpoint_signatures WHERE origin = ? AND validator = ?",
            (origin, validator),
        )
        return None if rows[0][0] is None else int(rows[0][0])

    # --- events and state ------------------------------------------------------------------

    async def add_events(self, events: Sequence[ChainEvent]) -> None:
        if not events:
            return
        ordered = sorted(events, key=lambda e: (e.chain_id, e.tx_hash, e.log_index))
        await self.conn.run(
            lambda tx: tx.executemany(
                "INSERT INTO events (chain_id, block, log_index, tx_hash, name, key, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (e.chain_id, e.block, e.log_index, e.tx_hash, e.name, e.key, json.dumps(e.data))
                    for e in ordered
                ],
            )
        )

    async def events(
        self, *, name: str | None = None, key: bytes | None = None
    ) -> list[ChainEvent]:
        where, params = _matching(name=name, key=key)
        rows = await self._read(
            "SELECT chain_id, block, log_index, tx_hash, name, key, data FROM events "
            f"{where} ORDER BY block, log_index",
            params,
        )
        return [
            ChainEvent(int(c), int(b), int(li), str(t), str(n), bytes(k), json.loads(d))
            for c, b, li, t, n, k, d in rows
        ]

    async def get_state(self, key: str) -> str | None:
        rows = await self._read("SELECT value FROM kv WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    async def set_state(self, key: str, value: str) -> None:
        await self._write(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # --- hash-time locks --------------------------------------------------------------------

    async def add_locks(self, locks: Sequence[HtlcLock]) -> int:
        if not locks:
            return 0
        ordered = sorted(locks, key=lambda k: (k.chain_id, k.lock_id))

        async def insert(tx: Tx) -> int:
            added = 0
            for chunk in _chunks(ordered):
                added += await tx.execute(
                    f"INSERT INTO htlc_locks ({', '.join(_NEW_LOCK)}) "
                    f"VALUES {value_rows(len(chunk), len(_NEW_LOCK))} ON CONFLICT DO NOTHING",
                    [value for k in chunk for value in LOCK.values(k, _NEW_LOCK)],
                )
            return added

        return await self.conn.run(insert)

    async def settle_locks(self, settlements: Sequence[LockSettlement]) -> list[HtlcLock]:
        if not settlements:
            return []
        ordered = sorted(settlements, key=lambda s: (s.chain_id, s.lock_id))

        async def settle(tx: Tx) -> list[HtlcLock]:
            changed: list[HtlcLock] = []
            for s in ordered:
                rows = await tx.fetch(
                    f"SELECT {LOCK.columns} FROM htlc_locks "
                    "WHERE chain_id = ? AND lock_id = ? AND state = 'open'"
                    + self.dialect.lock_rows,
                    (s.chain_id, s.lock_id),
                )
                if not rows:
                    continue
                await tx.execute(
                    "UPDATE htlc_locks SET state = ?, preimage = ?, settled_tx = ?, "
                    "settled_block = ?, settled_at = ? WHERE chain_id = ? AND lock_id = ?",
                    (str(s.state), s.preimage, s.tx_hash, s.block, s.at, s.chain_id, s.lock_id),
                )
                lock = LOCK(rows[0])
                lock.state, lock.preimage, lock.settled_tx = s.state, s.preimage, s.tx_hash
                lock.settled_block, lock.settled_at = s.block, s.at
                changed.append(lock)
            return changed

        return await self.conn.run(settle)

    async def htlc_lock(self, chain_id: int, lock_id: bytes) -> HtlcLock | None:
        rows = await self._read(
            f"SELECT {LOCK.columns} FROM htlc_locks WHERE chain_id = ? AND lock_id = ?",
            (chain_id, lock_id),
        )
        return LOCK(rows[0]) if rows else None

    async def htlc_locks(
        self,
        *,
        state: LockState | None = None,
        hashlock: bytes | None = None,
        limit: int = 1000,
    ) -> list[HtlcLock]:
        where, params = _matching(state=None if state is None else str(state), hashlock=hashlock)
        rows = await self._read(
            f"SELECT {LOCK.columns} FROM htlc_locks {where} "
            "ORDER BY expiry, chain_id, lock_id LIMIT ?",
            (*params, limit),
        )
        return [LOCK(r) for r in rows]

    async def revealed(self, hashlocks: Sequence[bytes]) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        for chunk in _chunks(list(dict.fromkeys(hashlocks))):
            where, values = self.dialect.among("hashlock", chunk)
            rows = await self._read(
                "SELECT hashlock, preimage FROM htlc_locks WHERE state = 'claimed' "
                f"AND preimage IS NOT NULL AND {where}",
                values,
            )
            found.update({bytes(h): bytes(p) for h, p in rows})
        return found

    async def reserve_lock_action(
        self, chain_id: int, lock_id: bytes, *, now: float, until: float
    ) -> bool:
        changed = await self._write(
            "UPDATE htlc_locks SET next_attempt_at = ? "
            "WHERE chain_id = ? AND lock_id = ? AND next_attempt_at <= ?",
            (until, chain_id, lock_id, now),
        )
        return changed == 1

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
        await self._write(
            "UPDATE htlc_locks SET action = ?, action_tx = coalesce(?, action_tx), "
            "attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
            "WHERE chain_id = ? AND lock_id = ?",
            (action, tx_hash, None if error is None else error[:1000], next_attempt_at,
             chain_id, lock_id),
        )  # fmt: skip


def _matching(**columns: Any) -> tuple[str, list[Any]]:
    """``WHERE a = ? AND b = ?`` for the columns given a value (not None)."""
    given = {column: value for column, value in columns.items() if value is not None}
    if not given:
        return "", []
    return "WHERE " + " AND ".join(f"{c} = ?" for c in given), list(given.values())
