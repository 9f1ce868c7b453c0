"""The default store: one SQLite file in WAL mode, worked on by a thread of its own.

WAL with ``synchronous=NORMAL`` keeps every committed transaction across a crash of
the process (``kill -9``); only a power loss can take the last few back. Writers take
``BEGIN IMMEDIATE`` so two processes on one file serialize instead of failing halfway.

Every call runs on one worker thread that owns the connection; the event loop only
awaits it. A CLI holding the file's write lock (up to ``busy_timeout``) then makes the
store's callers wait, never the relayer's other tasks. The statements are sql.py's.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

from relayer.errors import StoreError
from relayer.store.base import instance_name
from relayer.store.schema import (
    ID_UNKEYED,
    SCHEMA_VERSION,
    SET_VERSION_SQL,
    VERSION_SQL,
    messages_table,
    outdated,
    render,
)
from relayer.store.sql import (
    CLAIM_SQL,
    Connection,
    Dialect,
    Params,
    SqlStore,
    Tx,
    value_rows,
)
from relayer.store.writer import FileWriterLock, WriterGuard

__all__ = ["CLAIM_SQL", "SQLITE", "SqliteStore"]

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000  # how long a call waits for another process's write lock
WAL_CHECKPOINT_PAGES = 10_000
INSERT_ROWS = 1_000  # rows a multi-row INSERT (insert_rows), within SQLite's variable limit

SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    types={},  # schema.py is written in SQLite's types
    lock_rows="",  # BEGIN IMMEDIATE already holds the whole file
    skip_locked="",
    hex_id="lower(hex(id))",
    no_limit=-1,
    array_params=False,
    floor="CAST({} AS INTEGER)",
)


class SqliteConnection(Connection):
    """One sqlite3 connection, used only from its own worker thread."""

    dialect = SQLITE

    def __init__(self, path: Path) -> None:
        self.path = path
        self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"sqlite:{path.name}")
        self._lock = asyncio.Lock()  # one transaction at a time on the connection
        try:
            self.db = self._worker.submit(self._open).result()
        except (sqlite3.Error, OSError) as exc:
            self._worker.shutdown(wait=False)
            raise StoreError(f"cannot open the store at {path}: {exc}") from None

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            configure(db)
            self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Create the tables once; opening an up-to-date store takes no write lock."""
        if not outdated(self._version(db), f"at {self.path}"):
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            version = self._version(db)
            if outdated(version, f"at {self.path}"):
                if version is not None and version < ID_UNKEYED:
                    _unkey_messages(db)
                for statement in render(SQLITE.types):
                    db.execute(statement)
                db.execute(SET_VERSION_SQL, (str(SCHEMA_VERSION),))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _version(db: sqlite3.Connection) -> int | None:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
            return None
        row = db.execute(VERSION_SQL).fetchone()
        return None if row is None else int(row[0])

    async def call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(connection)`` on the worker thread; sqlite3 errors as one StoreError line."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._worker, work, self.db)
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: {exc}") from None

    async def run(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        async with self._lock:
            try:
                result = await work(SqliteTx(self))
                await self.call(_commit)
            except BaseException:
                # queued behind whatever statement is still running, before any next BEGIN
                await self.call(_rollback)
                raise
            return result

    async def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        async with self._lock:
            return await self.call(lambda db: db.execute(sql, params).fetchall())

    async def close(self) -> None:
        with suppress(StoreError, RuntimeError):
            await self.call(lambda db: db.close())
        self._worker.shutdown(wait=False)


def _commit(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        db.execute("COMMIT")


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        db.execute("ROLLBACK")


class SqliteTx(Tx):
    """A transaction that begins (``BEGIN IMMEDIATE``) with its first statement, in the
    same trip to the worker thread."""

    def __init__(self, conn: SqliteConnection) -> None:
        self.conn = conn

    async def _step(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def step(db: sqlite3.Connection) -> T:
            if not db.in_transaction:
                db.execute("BEGIN IMMEDIATE")
            return work(db)

        return await self.conn.call(step)

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await self._step(lambda db: db.execute(sql, params).rowcount)

    async def executemany(self, sql: str, rows: Any) -> None:
        await self._step(lambda db: db.executemany(sql, rows))

    async def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return await self._step(lambda db: db.execute(sql, params).fetchall())

    async def insert_rows(self, into: str, rows: Sequence[Params], *, tail: str = "") -> int:
        """Multi-row statements of up to INSERT_ROWS rows, all in one trip to the worker.

        Not ``executemany``: it binds each row's values holding the GIL and steps the row
        without it, so beside an event loop that keeps the GIL (an indexer decoding the
        next chunks) every row waited up to a switch interval (5 ms) to bind. A statement
        of hundreds of rows binds once and inserts them all with the GIL released, so the
        store's thread runs beside the loop's (docs/architecture.md, "Indexing a backlog").
        """
        if not rows:
            return 0
        return await self._step(lambda db: insert_many(db, into, rows, tail))


def _unkey_messages(db: sqlite3.Connection) -> None:
    """A store before schema 5: its messages table made again without the primary key on
    id, which SQLite cannot drop (schema.py says why). Every row is copied into the new
    table in the migration's transaction; the schema's indexes are then built on it."""
    from relayer.telemetry.logging import get_logger

    count = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    get_logger("store").warning(  # a million messages take seconds: say what the wait is
        "upgrading the store to schema 5: copying its messages into a new table, once",
        messages=count,
    )
    db.execute(messages_table(SQLITE.types, "messages_unkeyed"))
    columns = ", ".join(row[1] for row in db.execute("PRAGMA table_info(messages_unkeyed)"))
    db.execute(f"INSERT INTO messages_unkeyed ({columns}) SELECT {columns} FROM messages")
    db.execute("DROP TABLE messages")
    db.execute("ALTER TABLE messages_unkeyed RENAME TO messages")


def configure(db: sqlite3.Connection) -> None:
    """The store's settings on a new connection (bench/store_insert.py uses them too)."""
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    # checkpoint every 10,000 WAL pages (40 MB), not 1,000: a page of the random-order id
    # index rewritten by several commits is copied back once (a backfill's inserts cost a
    # quarter less a row at 500,000 messages; docs/architecture.md)
    db.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys=ON")


def insert_many(db: sqlite3.Connection, into: str, rows: Sequence[Params], tail: str) -> int:
    """``INSERT INTO {into} VALUES ... {tail}`` for ``rows`` in statements of
    ``statement_sizes`` (SqliteTx.insert_rows, in the store's transaction); how many rows
    it added."""
    if not rows:
        return 0
    width = len(rows[0])
    limit = db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    added = start = 0
    for size in statement_sizes(len(rows), max(1, min(INSERT_ROWS, limit // width))):
        part = rows[start : start + size]
        start += size
        sql = f"INSERT INTO {into} VALUES {value_rows(size, width)} {tail}"
        added += db.execute(sql, list(chain.from_iterable(part))).rowcount
    return added


def statement_sizes(count: int, most: int) -> Iterator[int]:
    """Rows a statement for ``count`` rows: ``most`` while they last, then the powers of two
    that make up the rest. sqlite3 keeps every distinct statement it prepared (up to 128),
    and one of a thousand rows holds 1.5 MB prepared: a statement for each remainder a
    backfill's writes leave would grow the process by a hundred MB; these are a dozen."""
    while count >= most:
        yield most
        count -= most
    size = 1 << (most.bit_length() - 1)
    while count:
        while size > count:
            size >>= 1
        yield size
        count -= size


class SqliteStore(SqlStore):
    """A Store in one SQLite file."""

    conn: SqliteConnection

    def __init__(
        self, path: str | Path, *, owner: str | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        super().__init__(SqliteConnection(self.path), owner=owner or instance_name(), clock=clock)

    @property
    def _db(self) -> sqlite3.Connection:
        """The connection itself, for tests that look below the store."""
        return self.conn.db

    async def take_writer(self, relayer_address: str, *, lease_seconds: float) -> WriterGuard:
        # one process per file, whatever its key; the kernel drops the lock with the process
        return FileWriterLock.acquire(self.path)
