"""The default store: one SQLite file in WAL mode.

WAL with ``synchronous=NORMAL`` keeps every committed transaction across a crash of
the process (``kill -9``); only a power loss can take the last few back. Calls are
short and made from the event loop's thread; writers take ``BEGIN IMMEDIATE`` so
two processes on one file serialize instead of failing halfway.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from relayer.errors import StoreError
from relayer.store.base import Store, instance_name, lease_lost, message_listing
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
from relayer.store.schema import SCHEMA_SQLITE, SCHEMA_VERSION
from relayer.store.writer import FileWriterLock, WriterGuard

_MESSAGE_COLUMNS = (
    "id, origin, nonce, destination, sender, recipient, raw, kind, ref, dispatch_tx, "
    "dispatch_block, dispatched_at, status, attempts, next_attempt_at, last_error, tx_hash, "
    "deliver_tx, delivered_block, delivered_at, indexed_at, updated_at"
)
# A lane's due rows in nonce order, through the partial index messages_due (schema.py):
# the delivered history of a lane, however long, is never walked.
CLAIM_SQL = (
    f"SELECT {_MESSAGE_COLUMNS} FROM messages "
    "WHERE origin = ? AND destination = ? AND status IN ('pending', 'failed') "
    "AND nonce <= ? AND next_attempt_at <= ? "
    "AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?) "
    "ORDER BY nonce LIMIT ?"
)
_LOCK_COLUMNS = (
    "chain_id, lock_id, hashlock, token, sender, receiver, amount, expiry, locked_tx, "
    "locked_block, locked_at, state, preimage, settled_tx, settled_block, settled_at, action, "
    "action_tx, attempts, next_attempt_at, last_error"
)
_TX_COLUMNS = (
    "chain_id, sender, nonce, hash, raw, max_fee, priority_fee, gas_limit, purpose, status, "
    "sent_at, mined_block, replaces"
)


def _message(row: Sequence[Any]) -> MessageRow:
    values = list(row)
    values[12] = Status(values[12])
    return MessageRow(*values)


def _lock(row: Sequence[Any]) -> HtlcLock:
    values = list(row)
    values[1], values[2] = bytes(values[1]), bytes(values[2])
    values[6] = int(values[6])
    values[11] = LockState(values[11])
    values[12] = None if values[12] is None else bytes(values[12])
    return HtlcLock(*values)


def _tx(row: Sequence[Any]) -> TxRow:
    values = list(row)
    values[5] = int(values[5])
    values[6] = int(values[6])
    values[9] = TxStatus(values[9])
    return TxRow(*values)


class SqliteStore(Store):
    """A Store in one SQLite file."""

    def __init__(
        self, path: str | Path, *, owner: str | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.owner = owner or instance_name()
        self._clock = clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}") from None

    async def take_writer(self, relayer_address: str, *, lease_seconds: float) -> WriterGuard:
        # one process per file, whatever its key; the kernel drops the lock with the process
        return FileWriterLock.acquire(self.path)

    def _migrate(self) -> None:
        """Create the tables once; opening an existing store takes no write lock."""
        exists = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if exists:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is not None and int(row[0]) == SCHEMA_VERSION:
                return
        with self._write() as db:
            for statement in SCHEMA_SQLITE.split(";"):
                if statement.strip():
                    db.execute(statement)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            elif int(row[0]) > SCHEMA_VERSION:
                raise StoreError(
                    f"the store at {self.path} was written by a newer stbridge "
                    f"(schema {row[0]}, this one knows {SCHEMA_VERSION}): upgrade stbridge"
                )
            elif int(row[0]) < SCHEMA_VERSION:  # the new tables were just created
                db.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema_version'",
                    (str(SCHEMA_VERSION),),
                )

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: {exc}") from None

    async def _select(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._read(sql, params)

    async def close(self) -> None:
        with suppress(sqlite3.Error):
            self._db.close()

    # --- messages -----------------------------------------------------------------

    async def add_messages(
        self, messages: Sequence[NewMessage], ignored: Mapping[bytes, str] | None = None
    ) -> int:
        if not messages:
            return 0
        now = self._clock()
        ignored = ignored or {}
        with self._write() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO messages (id, origin, nonce, destination, sender, "
                "recipient, raw, kind, ref, dispatch_tx, dispatch_block, dispatched_at, status, "
                "attempts, next_attempt_at, last_error, indexed_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,0,0,?,?,?)",
                [
                    (
                        m.id, m.origin, m.nonce, m.destination, m.sender, m.recipient, m.raw,
                        m.kind, m.ref, m.dispatch_tx, m.dispatch_block, m.dispatched_at,
                        "ignored" if m.id in ignored else "pending", ignored.get(m.id), now, now,
                    )
                    for m in messages
                ],
            )  # fmt: skip
            return db.total_changes - before

    async def message(self, message_id: bytes) -> MessageRow | None:
        rows = self._read(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,))
        return _message(rows[0]) if rows else None

    async def find_message(self, prefix: str) -> list[MessageRow]:
        text = prefix.lower().removeprefix("0x")
        if not text or any(c not in "0123456789abcdef" for c in text):
            return []
        rows = self._read(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE lower(hex(id)) LIKE ? LIMIT 5",
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
            "?", status=status, origin=origin, destination=destination, limit=limit,
            newest_first=newest_first,
        )  # fmt: skip
        rows = self._read(f"SELECT {_MESSAGE_COLUMNS} FROM messages {tail}", params)
        return [_message(r) for r in rows]

    async def return_of(self, transfer_id: bytes) -> MessageRow | None:
        rows = self._read(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE ref = ? AND kind = 2 LIMIT 1",
            (transfer_id,),
        )
        return _message(rows[0]) if rows else None

    async def leaves(self, origin: int, start: int = 0, limit: int | None = None) -> list[bytes]:
        rows = self._read(
            "SELECT id FROM messages WHERE origin = ? AND nonce >= ? ORDER BY nonce LIMIT ?",
            (origin, start, -1 if limit is None else limit),
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
        with self._write() as db:
            rows = db.execute(
                CLAIM_SQL, (origin, destination, max_nonce, now, self.owner, now, limit)
            ).fetchall()
            db.executemany(
                "UPDATE messages SET lease_owner = ?, lease_until = ? WHERE id = ?",
                [(self.owner, now + lease_seconds, r[0]) for r in rows],
            )
        return [_message(r) for r in rows]

    async def release(self, ids: Sequence[bytes]) -> None:
        with self._write() as db:
            db.executemany(
                "UPDATE messages SET lease_owner = NULL, lease_until = NULL "
                "WHERE id = ? AND lease_owner = ?",
                [(i, self.owner) for i in ids],
            )

    async def submit(self, tx: TxRow) -> None:
        now = self._clock()
        with self._write() as db:
            owners = [
                row[0]
                for i in tx.message_ids
                for row in db.execute(
                    "SELECT lease_owner FROM messages WHERE id = ? AND status != 'delivered'", (i,)
                )
            ]
            taken = [o for o in owners if o is not None and o != self.owner]
            if taken:
                raise lease_lost(tx.hash, len(taken), len(tx.message_ids), taken[0])
            self._insert_tx(db, tx)
            db.executemany(
                "UPDATE messages SET status = 'submitted', tx_hash = ?, updated_at = ?, "
                "lease_owner = ?, lease_until = NULL WHERE id = ? AND status != 'delivered'",
                [(tx.hash, now, self.owner, i) for i in tx.message_ids],
            )

    @staticmethod
    def _insert_tx(db: sqlite3.Connection, tx: TxRow) -> None:
        # The same signed bytes again (a transaction the node refused, signed anew with
        # the same nonce and fees) are the same transaction: the row comes back to life.
        db.execute(
            f"INSERT INTO txs ({_TX_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(hash) DO UPDATE SET status = excluded.status, "
            "sent_at = excluded.sent_at, mined_block = NULL",
            (
                tx.chain_id, tx.sender, tx.nonce, tx.hash, tx.raw, str(tx.max_fee),
                str(tx.priority_fee), tx.gas_limit, tx.purpose, str(tx.status), tx.sent_at,
                tx.mined_block, tx.replaces,
            ),
        )  # fmt: skip
        db.executemany(
            "INSERT OR IGNORE INTO tx_messages (tx_hash, message_id) VALUES (?, ?)",
            [(tx.hash, i) for i in tx.message_ids],
        )

    async def mark_delivered(self, deliveries: Sequence[tuple[bytes, str, int, float]]) -> None:
        if not deliveries:
            return
        now = self._clock()
        with self._write() as db:
            db.executemany(
                "UPDATE messages SET status = 'delivered', deliver_tx = ?, delivered_block = ?, "
                "delivered_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL, "
                "last_error = NULL WHERE id = ? AND (status != 'delivered' OR deliver_tx = '')",
                [(tx, block, at, now, i) for i, tx, block, at in deliveries],
            )

    async def mark_failed(self, ids: Sequence[bytes], error: str, next_attempt_at: float) -> None:
        now = self._clock()
        with self._write() as db:
            db.executemany(
                "UPDATE messages SET status = 'failed', attempts = attempts + 1, last_error = ?, "
                "next_attempt_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL, "
                "tx_hash = NULL WHERE id = ? AND status != 'delivered'",
                [(error[:1000], next_attempt_at, now, i) for i in ids],
            )

    async def mark_ignored(self, reasons: Sequence[tuple[bytes, str]]) -> None:
        now = self._clock()
        with self._write() as db:
            db.executemany(
                "UPDATE messages SET status = 'ignored', last_error = ?, updated_at = ?, "
                "lease_owner = NULL, lease_until = NULL WHERE id = ? "
                "AND status IN ('pending', 'failed')",
                [(reason[:1000], now, i) for i, reason in reasons],
            )

    async def unignore(self, ids: Sequence[bytes]) -> None:
        now = self._clock()
        with self._write() as db:
            db.executemany(
                "UPDATE messages SET status = 'pending', last_error = NULL, next_attempt_at = 0, "
                "updated_at = ? WHERE id = ? AND status = 'ignored'",
                [(now, i) for i in ids],
            )

    async def postpone(self, ids: Sequence[bytes], until: float, reason: str) -> None:
        now = self._clock()
        with self._write() as db:
            db.executemany(
                "UPDATE messages SET next_attempt_at = ?, last_error = ?, updated_at = ?, "
                "lease_owner = NULL, lease_until = NULL WHERE id = ? "
                "AND status IN ('pending', 'failed')",
                [(until, reason[:1000], now, i) for i in ids],
            )

    async def mark_refused(self, ids: Sequence[bytes], error: str) -> None:
        now = self._clock()
        with self._write() as db:
            db.executemany(
                "UPDATE messages SET status = 'refused', attempts = attempts + 1, "
                "last_error = ?, next_attempt_at = ?, updated_at = ?, lease_owner = NULL, "
                "lease_until = NULL, tx_hash = NULL WHERE id = ? AND status != 'delivered'",
                [(error[:1000], NEVER, now, i) for i in ids],
            )

    async def requeue(self, ids: Sequence[bytes]) -> None:
        now = self._clock()
        with self._write() as db:
            db.executemany(
                "UPDATE messages SET status = 'pending', tx_hash = NULL, updated_at = ?, "
                "lease_owner = NULL, lease_until = NULL WHERE id = ? AND status = 'submitted'",
                [(now, i) for i in ids],
            )

    async def retry_now(self, message_id: bytes) -> bool:
        now = self._clock()
        with self._write() as db:
            cursor = db.execute(
                "UPDATE messages SET next_attempt_at = 0, updated_at = ?, "
                "status = CASE status WHEN 'refused' THEN 'failed' ELSE status END "
                "WHERE id = ? AND status IN ('pending', 'failed', 'refused')",
                (now, message_id),
            )
            return cursor.rowcount > 0

    async def backlog(self, origin: int, destination: int) -> tuple[int, float | None]:
        rows = self._read(
            "SELECT count(*), min(dispatched_at) FROM messages WHERE origin = ? "
            "AND destination = ? AND status IN ('pending', 'submitted', 'failed')",
            (origin, destination),
        )
        count, oldest = rows[0]
        return int(count), oldest

    async def status_counts(self) -> dict[tuple[int, int, str], int]:
        rows = self._read(
            "SELECT origin, destination, status, count(*) FROM messages "
            "GROUP BY origin, destination, status"
        )
        return {(o, d, s): n for o, d, s, n in rows}

    async def forget_from(self, origin: int, nonce: int) -> int:
        with self._write() as db:
            delivered = db.execute(
                "SELECT count(*) FROM messages WHERE origin = ? AND nonce >= ? "
                "AND status IN ('delivered', 'submitted')",
                (origin, nonce),
            ).fetchone()[0]
            if delivered:
                raise StoreError(
                    f"cannot forget messages of {origin} from nonce {nonce}: "
                    f"{delivered} of them were already submitted or delivered"
                )
            cursor = db.execute(
                "DELETE FROM messages WHERE origin = ? AND nonce >= ?", (origin, nonce)
            )
            return cursor.rowcount

    # --- cursors ---------------------------------------------------------------------

    async def cursor(self, chain_id: int) -> tuple[int, str] | None:
        rows = self._read("SELECT block, hash FROM cursors WHERE chain_id = ?", (chain_id,))
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    async def set_cursor(
        self, chain_id: int, block: int, block_hash: str, recent: Sequence[tuple[int, str]]
    ) -> None:
        with self._write() as db:
            moved = db.execute(
                "INSERT INTO cursors (chain_id, block, hash, updated_at) VALUES (?,?,?,?) "
                "ON CONFLICT(chain_id) DO UPDATE SET block = excluded.block, "
                "hash = excluded.hash, updated_at = excluded.updated_at "
                "WHERE excluded.block > cursors.block",
                (chain_id, block, block_hash, self._clock()),
            ).rowcount
            if not moved:  # another indexer is ahead: its position and hashes stand
                return
            db.executemany(
                "INSERT OR REPLACE INTO block_hashes (chain_id, number, hash) VALUES (?,?,?)",
                [(chain_id, n, h) for n, h in recent],
            )
            db.execute(
                "DELETE FROM block_hashes WHERE chain_id = ? AND number < ?",
                (chain_id, block - 256),
            )

    async def recent_hashes(self, chain_id: int) -> dict[int, str]:
        rows = self._read("SELECT number, hash FROM block_hashes WHERE chain_id = ?", (chain_id,))
        return {int(n): str(h) for n, h in rows}

    async def rewind_cursor(self, chain_id: int, block: int, block_hash: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE cursors SET block = ?, hash = ?, updated_at = ? WHERE chain_id = ?",
                (block, block_hash, self._clock(), chain_id),
            )
            db.execute(
                "DELETE FROM block_hashes WHERE chain_id = ? AND number > ?", (chain_id, block)
            )

    # --- transactions ------------------------------------------------------------------

    async def add_tx(self, tx: TxRow) -> None:
        with self._write() as db:
            self._insert_tx(db, tx)

    async def pending_txs(self, chain_id: int, sender: str | None = None) -> list[TxRow]:
        sql = f"SELECT {_TX_COLUMNS} FROM txs WHERE chain_id = ? AND status = 'pending'"
        params: list[Any] = [chain_id]
        if sender is not None:
            sql += " AND sender = ?"
            params.append(sender)
        txs = [_tx(r) for r in self._read(sql + " ORDER BY nonce, sent_at", params)]
        for tx in txs:
            tx.message_ids = await self.tx_messages(tx.hash)
        return txs

    async def set_tx_status(
        self, tx_hash: str, status: TxStatus, mined_block: int | None = None
    ) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE txs SET status = ?, mined_block = coalesce(?, mined_block) WHERE hash = ?",
                (str(status), mined_block, tx_hash),
            )

    async def tx_messages(self, tx_hash: str) -> list[bytes]:
        rows = self._read("SELECT message_id FROM tx_messages WHERE tx_hash = ?", (tx_hash,))
        return [bytes(r[0]) for r in rows]

    async def max_tx_nonce(self, chain_id: int, sender: str) -> int | None:
        rows = self._read(
            "SELECT max(nonce) FROM txs WHERE chain_id = ? AND sender = ?", (chain_id, sender)
        )
        return None if rows[0][0] is None else int(rows[0][0])

    # --- checkpoints ---------------------------------------------------------------------

    async def add_signature(
        self, origin: int, index: int, root: bytes, mailbox: bytes, validator: str, signature: bytes
    ) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO checkpoints (origin, idx, root, mailbox) VALUES (?,?,?,?)",
                (origin, index, root, mailbox),
            )
            db.execute(
                "INSERT OR REPLACE INTO checkpoint_signatures (origin, idx, root, validator, "
                "signature) VALUES (?,?,?,?,?)",
                (origin, index, root, validator, signature),
            )

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
        marks = ",".join("?" * len(validators))
        rows = self._read(
            "SELECT c.idx, c.root, c.mailbox FROM checkpoints c "
            "JOIN checkpoint_signatures s ON s.origin = c.origin AND s.idx = c.idx "
            f"AND s.root = c.root WHERE c.origin = ? AND s.validator IN ({marks}) "
            "AND c.idx <= ? "
            "GROUP BY c.idx, c.root HAVING count(*) >= ? ORDER BY c.idx DESC LIMIT 1",
            (origin, *validators, 2**32 if max_index is None else max_index, threshold),
        )
        if not rows:
            return None
        index, root, mailbox = rows[0]
        signatures = self._read(
            "SELECT validator, signature FROM checkpoint_signatures "
            f"WHERE origin = ? AND idx = ? AND root = ? AND validator IN ({marks})",
            (origin, index, root, *validators),
        )
        return StoredCheckpoint(
            origin, int(index), bytes(root), bytes(mailbox), {v: bytes(s) for v, s in signatures}
        )

    async def latest_signed_index(self, origin: int, validator: str) -> int | None:
        rows = self._read(
            "SELECT max(idx) FROM checkpoint_signatures WHERE origin = ? AND validator = ?",
            (origin, validator),
        )
        return None if rows[0][0] is None else int(rows[0][0])

    # --- events and state ------------------------------------------------------------------

    async def add_events(self, events: Sequence[ChainEvent]) -> None:
        if not events:
            return
        with self._write() as db:
            db.executemany(
                "INSERT OR IGNORE INTO events (chain_id, block, log_index, tx_hash, name, key, "
                "data) VALUES (?,?,?,?,?,?,?)",
                [
                    (e.chain_id, e.block, e.log_index, e.tx_hash, e.name, e.key, json.dumps(e.data))
                    for e in events
                ],
            )

    async def events(
        self, *, name: str | None = None, key: bytes | None = None
    ) -> list[ChainEvent]:
        where: list[str] = []
        params: list[Any] = []
        if name is not None:
            where.append("name = ?")
            params.append(name)
        if key is not None:
            where.append("key = ?")
            params.append(key)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._read(
            "SELECT chain_id, block, log_index, tx_hash, name, key, data FROM events "
            f"{clause} ORDER BY block, log_index",
            params,
        )
        return [
            ChainEvent(int(c), int(b), int(li), str(t), str(n), bytes(k), json.loads(d))
            for c, b, li, t, n, k, d in rows
        ]

    async def get_state(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM kv WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    async def set_state(self, key: str, value: str) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # --- hash-time locks --------------------------------------------------------------------

    async def add_locks(self, locks: Sequence[HtlcLock]) -> int:
        if not locks:
            return 0
        with self._write() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO htlc_locks (chain_id, lock_id, hashlock, token, sender, "
                "receiver, amount, expiry, locked_tx, locked_block, locked_at, state) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        k.chain_id, k.lock_id, k.hashlock, k.token, k.sender, k.receiver,
                        str(k.amount), k.expiry, k.locked_tx, k.locked_block, k.locked_at,
                        str(k.state),
                    )
                    for k in locks
                ],
            )  # fmt: skip
            return db.total_changes - before

    async def settle_locks(self, settlements: Sequence[LockSettlement]) -> list[HtlcLock]:
        changed: list[HtlcLock] = []
        if not settlements:
            return changed
        with self._write() as db:
            for s in settlements:
                row = db.execute(
                    f"SELECT {_LOCK_COLUMNS} FROM htlc_locks "
                    "WHERE chain_id = ? AND lock_id = ? AND state = 'open'",
                    (s.chain_id, s.lock_id),
                ).fetchone()
                if row is None:
                    continue
                db.execute(
                    "UPDATE htlc_locks SET state = ?, preimage = ?, settled_tx = ?, "
                    "settled_block = ?, settled_at = ? WHERE chain_id = ? AND lock_id = ?",
                    (str(s.state), s.preimage, s.tx_hash, s.block, s.at, s.chain_id, s.lock_id),
                )
                lock = _lock(row)
                lock.state, lock.preimage, lock.settled_tx = s.state, s.preimage, s.tx_hash
                lock.settled_block, lock.settled_at = s.block, s.at
                changed.append(lock)
        return changed

    async def htlc_lock(self, chain_id: int, lock_id: bytes) -> HtlcLock | None:
        rows = self._read(
            f"SELECT {_LOCK_COLUMNS} FROM htlc_locks WHERE chain_id = ? AND lock_id = ?",
            (chain_id, lock_id),
        )
        return _lock(rows[0]) if rows else None

    async def htlc_locks(
        self,
        *,
        state: LockState | None = None,
        hashlock: bytes | None = None,
        limit: int = 1000,
    ) -> list[HtlcLock]:
        where: list[str] = []
        params: list[Any] = []
        if state is not None:
            where.append("state = ?")
            params.append(str(state))
        if hashlock is not None:
            where.append("hashlock = ?")
            params.append(hashlock)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._read(
            f"SELECT {_LOCK_COLUMNS} FROM htlc_locks {clause} "
            "ORDER BY expiry, chain_id, lock_id LIMIT ?",
            (*params, limit),
        )
        return [_lock(r) for r in rows]

    async def revealed(self, hashlocks: Sequence[bytes]) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        unique = list(dict.fromkeys(hashlocks))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                "SELECT hashlock, preimage FROM htlc_locks WHERE state = 'claimed' "
                f"AND preimage IS NOT NULL AND hashlock IN ({marks})",
                chunk,
            )
            found.update({bytes(h): bytes(p) for h, p in rows})
        return found

    async def reserve_lock_action(
        self, chain_id: int, lock_id: bytes, *, now: float, until: float
    ) -> bool:
        with self._write() as db:
            cur = db.execute(
                "UPDATE htlc_locks SET next_attempt_at = ? "
                "WHERE chain_id = ? AND lock_id = ? AND next_attempt_at <= ?",
                (until, chain_id, lock_id, now),
            )
            return cur.rowcount == 1

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
        with self._write() as db:
            db.execute(
                "UPDATE htlc_locks SET action = ?, action_tx = coalesce(?, action_tx), "
                "attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
                "WHERE chain_id = ? AND lock_id = ?",
                (action, tx_hash, None if error is None else error[:1000], next_attempt_at,
                 chain_id, lock_id),
            )  # fmt: skip
