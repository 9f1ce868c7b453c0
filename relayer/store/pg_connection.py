"""The PostgreSQL store's connection: opening, the schema, one transaction per call.

One connection per relayer process, and one transaction at a time on it (an
``asyncio.Lock``): every store call is a short transaction, so a pool would add a
dependency and server connections without making a relayer faster (see
docs/architecture.md, "PostgreSQL"). A transaction that PostgreSQL aborts to break a
deadlock or a serialization conflict is run again (it changed nothing); any other
failure is one ``StoreError`` line naming the server, never its password. A broken
connection is opened afresh by the next call.

The tables are those of the SQLite schema with the types adapted (``BLOB`` to
``bytea``, ``INTEGER`` to ``bigint``, ``REAL`` to ``double precision``), so both
stores always have the same tables; a version row in ``meta`` says which schema a
database holds, and relayers starting together create it once, under an advisory lock.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict

from relayer.errors import StoreError
from relayer.store.schema import SCHEMA_SQLITE, SCHEMA_VERSION

T = TypeVar("T")
Cursor = psycopg.AsyncCursor[Any]

CONNECT_TIMEOUT = 10  # seconds, unless the URL says connect_timeout
IDLE_IN_TRANSACTION = "10s"  # the server ends a transaction its client froze in
RETRIES = 5  # runs of a transaction PostgreSQL aborted for a deadlock or a conflict
_MIGRATION_LOCK = 0x5742_5249_4447_45  # pg_advisory_xact_lock key: "stbridge" schema
_TYPES = {"BLOB": "BYTEA", "INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION"}
_URL_PASSWORD = re.compile(r"^[a-z]+://[^:@/]*:([^@/]*)@")
_RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)


def postgres_ddl(sqlite_ddl: str = SCHEMA_SQLITE) -> list[str]:
    """The SQLite schema's statements with PostgreSQL's column types."""
    text = re.sub(r"\b(BLOB|INTEGER|REAL)\b", lambda m: _TYPES[m.group(1)], sqlite_ddl)
    return [statement.strip() for statement in text.split(";") if statement.strip()]


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


class PgConnection:
    """One connection to the store's database, one transaction at a time."""

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

    async def run(self, work: Callable[[Cursor], Awaitable[T]]) -> T:
        """``work`` in one transaction; run again if PostgreSQL aborted it to resolve a race."""
        async with self._lock:
            for attempt in range(RETRIES):
                conn = await self._connected()
                try:
                    async with conn.transaction(), conn.cursor() as cursor:
                        return await work(cursor)
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

    async def _migrate(self, cur: Cursor) -> None:
        await cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        await cur.execute("SELECT to_regclass('meta') IS NOT NULL")
        exists = await cur.fetchone()
        version: int | None = None
        if exists and exists[0]:
            await cur.execute("SELECT value FROM meta WHERE key = 'schema_version'")
            row = await cur.fetchone()
            version = int(row[0]) if row else None
        if version == SCHEMA_VERSION:
            return
        if version is not None and version > SCHEMA_VERSION:
            raise StoreError(
                f"the store {self.target.where} was written by a newer stbridge "
                f"(schema {version}, this one knows {SCHEMA_VERSION}): upgrade stbridge"
            )
        for statement in postgres_ddl():
            await cur.execute(statement)
        await cur.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            await conn.close()


class PgQueries:
    """What the PostgreSQL store's groups of methods share: the connection, a clock."""

    db: PgConnection
    _clock: Callable[[], float]

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One query in its own transaction; its rows."""

        async def read(cur: Cursor) -> list[tuple[Any, ...]]:
            await cur.execute(sql, params)
            return await cur.fetchall()

        return await self.db.run(read)

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One write in its own transaction; how many rows it changed."""

        async def write(cur: Cursor) -> int:
            await cur.execute(sql, params)
            return max(cur.rowcount, 0)

        return await self.db.run(write)
