"""The PostgreSQL store: several relayers sharing one database split the work.

The statements and their semantics are sql.py's, call for call, with this file's
dialect (``%s``, ``FOR UPDATE [SKIP LOCKED]``, ``= ANY(array)``, ``BYTEA``/``BIGINT``/
``DOUBLE PRECISION``). What is PostgreSQL's own is here: the connection, a schema
created once under an advisory lock, and the writer lease (pg_writer.py).

One connection per relayer process, and one transaction at a time on it (an
``asyncio.Lock``): every store call is a short transaction, so a pool would add a
dependency and server connections without making a relayer faster (see
docs/architecture.md, "PostgreSQL"). A transaction that PostgreSQL aborts to break a
deadlock or a serialization conflict is run again (it changed nothing); any other
failure is one ``StoreError`` line naming the server, never its password. A broken
connection is opened afresh by the next call.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict

from relayer.errors import StoreError
from relayer.store.base import instance_name
from relayer.store.pg_writer import PgWriterLease
from relayer.store.schema import (
    ID_UNKEYED,
    SCHEMA_VERSION,
    SET_VERSION_SQL,
    VERSION_SQL,
    outdated,
    render,
)
from relayer.store.sql import Connection, Dialect, Params, SqlStore, Tx
from relayer.store.writer import WriterGuard

T = TypeVar("T")

CONNECT_TIMEOUT = 10  # seconds, unless the URL says connect_timeout
IDLE_IN_TRANSACTION = "10s"  # the server ends a transaction its client froze in
RETRIES = 5  # runs of a transaction PostgreSQL aborted for a deadlock or a conflict
_MIGRATION_LOCK = 0x5742_5249_4447_45  # pg_advisory_xact_lock key: "stbridge" schema
_URL_PASSWORD = re.compile(r"^[a-z]+://[^:@/]*:([^@/]*)@")
_RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)

POSTGRES = Dialect(
    name="postgresql",
    placeholder="%s",
    types={"BLOB": "BYTEA", "INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION"},
    lock_rows=" FOR UPDATE",
    skip_locked=" FOR UPDATE SKIP LOCKED",
    hex_id="encode(id, 'hex')",
    no_limit=None,
    array_params=True,
    floor="FLOOR({})",
)


def postgres_ddl() -> list[str]:
    """The schema's statements with PostgreSQL's column types."""
    return render(POSTGRES.types)


class PgTarget:
    """Where a ``postgresql://`` URL points, printable without its password."""

    def __init__(self, url: str) -> None:
        self.url = url
        found = _URL_PASSWORD.match(url)
        self._secrets = [found.group(1)] if found and found.group(1) else []
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise StoreError(f"bad store URL {self.redact(url)}: {self.reason(exc)}") from None
        password = params.get("password")
        if password:
            self._secrets.append(str(password))
        port = str(params.get("port") or "5432")
        if not all(p.isdigit() for p in port.split(",")):
            raise StoreError(f"bad store URL {self.redact(url)}: port {port!r} is not a number")
        user = params.get("user")
        host = params.get("host") or "localhost"
        database = params.get("dbname") or user or "postgres"
        self.timeout_given = "connect_timeout" in params
        self.where = f"postgresql://{f'{user}@' if user else ''}{host}:{port}/{database}"

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def reason(self, exc: BaseException) -> str:
        """The useful first line of a psycopg error, without the password."""
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        text = lines[0] if lines else type(exc).__name__
        text = re.sub(r"^connection failed: ", "", text)
        text = re.sub(r'^connection to server at "[^"]*", port \d+ failed: ', "", text)
        text = re.sub(r"^(FATAL|ERROR):\s+", "", text)
        return self.redact(text)


class PgTx(Tx):
    def __init__(self, cursor: psycopg.AsyncCursor[Any]) -> None:
        self.cursor = cursor

    async def execute(self, sql: str, params: Params = ()) -> int:
        await self.cursor.execute(POSTGRES.sql(sql), params)
        return max(self.cursor.rowcount, 0)

    async def executemany(self, sql: str, rows: Any) -> None:
        await self.cursor.executemany(POSTGRES.sql(sql), rows)

    async def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        await self.cursor.execute(POSTGRES.sql(sql), params)
        return await self.cursor.fetchall()


class PgConnection(Connection):
    """One connection to the store's database, one transaction at a time."""

    dialect = POSTGRES

    def __init__(self, target: PgTarget, application_name: str) -> None:
        self.target = target
        self.application_name = application_name[:63]
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Connect and bring the schema up to date (StoreError naming the server)."""
        await self._connected()
        await self.run(self._migrate)

    async def _connected(self) -> psycopg.AsyncConnection[Any]:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        extra: dict[str, Any] = {"application_name": self.application_name}
        if not self.target.timeout_given:
            extra["connect_timeout"] = CONNECT_TIMEOUT
        try:
            conn = await psycopg.AsyncConnection.connect(self.target.url, autocommit=True, **extra)
            await conn.execute(f"SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION}'")
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to the store {self.target.where}: {self.target.reason(exc)}"
            ) from None
        self._conn = conn
        return conn

    async def run(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """``work`` in one transaction; run again if PostgreSQL aborted it to resolve a race."""
        async with self._lock:
            for attempt in range(RETRIES):
                conn = await self._connected()
                try:
                    async with conn.transaction(), conn.cursor() as cursor:
                        return await work(PgTx(cursor))
                except _RETRYABLE:
                    await asyncio.sleep(0.01 * (attempt + 1) + random.random() * 0.02)  # noqa: S311
                except psycopg.Error as exc:
                    raise StoreError(
                        f"store {self.target.where}: {self.target.reason(exc)}"
                    ) from None
            raise StoreError(
                f"store {self.target.where}: a transaction kept conflicting with another "
                f"relayer's ({RETRIES} tries)"
            )

    async def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return await self.run(lambda tx: tx.fetch(sql, params))

    async def _migrate(self, tx: Tx) -> None:
        # relayers starting together queue here, so the schema is created once
        await tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
        exists = await tx.fetch("SELECT to_regclass('meta') IS NOT NULL")
        rows = await tx.fetch(VERSION_SQL) if exists[0][0] else []
        version = int(rows[0][0]) if rows else None
        if not outdated(version, self.target.where):
            return
        if version is not None and version < ID_UNKEYED:  # schema.py says why
            await tx.execute("ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_pkey")
        for statement in postgres_ddl():
            await tx.execute(statement)
        await tx.execute(SET_VERSION_SQL, (str(SCHEMA_VERSION),))

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            await conn.close()


class PostgresStore(SqlStore):
    """A Store in a PostgreSQL database, shareable by several relayers."""

    conn: PgConnection

    def __init__(
        self, db: PgConnection, *, owner: str | None, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(db, owner=owner or instance_name(), clock=clock)
        self.db = db

    @classmethod
    async def connect(
        cls, url: str, *, owner: str | None = None, clock: Callable[[], float] = time.time
    ) -> PostgresStore:
        """Open ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB``, creating the tables once."""
        owner = owner or instance_name()
        db = PgConnection(PgTarget(url), application_name=f"stbridge {owner}")
        await db.open()
        return cls(db, owner=owner, clock=clock)

    @property
    def where(self) -> str:
        """The server and database, without a password."""
        return self.db.target.where

    async def take_writer(self, relayer_address: str, *, lease_seconds: float) -> WriterGuard:
        lease = PgWriterLease(self.db, relayer_address, lease_seconds, clock=self._clock)
        await lease.take()
        return lease
