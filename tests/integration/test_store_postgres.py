"""The PostgreSQL store on a real server: concurrent relayers, its schema, its errors.

The behaviour both stores share is tested in tests/unit/test_store.py, on both; this
file holds what only a server shows: claims that really run at once, relayers that
create the schema together, a connection that drops, and one-line errors that never
show the password.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from chains.processes import free_port
from relayer.errors import StoreError
from relayer.store import open_store
from relayer.store.postgres import PostgresStore
from relayer.store.schema import SCHEMA_VERSION
from relayer.store.sqlite import SqliteStore
from tests.helpers import devnet_raw, write_config
from tests.pg import PostgresServer
from tests.unit import test_store_locks
from tests.unit.test_store import new_message, tx_for

pytestmark = pytest.mark.integration

# The hash-time lock tests (tests/unit/test_store_locks.py) that take a store, on PostgreSQL.
LOCK_CASES = [
    pytest.param(case, id=name)
    for name, case in vars(test_store_locks).items()
    if name.startswith("test_") and list(inspect.signature(case).parameters) == ["store"]
]


@pytest.mark.parametrize("case", LOCK_CASES)
async def test_hash_time_locks_on_postgres(case: Any, postgres: PostgresServer) -> None:
    store = await PostgresStore.connect(postgres.database(), owner="r1")
    try:
        await case(store)
    finally:
        await store.close()


async def test_concurrent_claims_never_hand_a_message_to_two_relayers(
    postgres: PostgresServer,
) -> None:
    """Four relayers claim and submit one lane at once: every message once, all did work."""
    url = postgres.database()
    stores = [await PostgresStore.connect(url, owner=f"relayer-{i}") for i in range(4)]
    claimed: list[tuple[str, bytes]] = []
    try:
        await stores[0].add_messages([new_message(i) for i in range(300)])

        async def relay(index: int) -> None:
            store = stores[index]
            for round_ in range(1000):
                due = await store.claim(
                    65001, 65002, max_nonce=10_000, now=time.time(), limit=7, lease_seconds=30
                )
                if not due:
                    return
                claimed.extend((store.owner, m.id) for m in due)
                await asyncio.sleep(0)  # let the others claim while this batch is in hand
                tx = tx_for([m.id for m in due], nonce=round_, tag=f"{index:02x}")
                tx.hash = f"0x{index:02x}{round_:062x}"
                await store.submit(tx)

        await asyncio.gather(*(relay(i) for i in range(4)))
        ids = [mid for _owner, mid in claimed]
        assert len(ids) == len(set(ids)) == 300  # no message claimed twice
        per_owner = {s.owner: sum(1 for o, _ in claimed if o == s.owner) for s in stores}
        assert all(count > 0 for count in per_owner.values()), per_owner
        rows = [await stores[1].message(new_message(i).id) for i in range(300)]
        assert all(r is not None and r.status.value == "submitted" for r in rows)
    finally:
        for store in stores:
            await store.close()


async def test_relayers_starting_together_create_the_schema_once(
    postgres: PostgresServer,
) -> None:
    url = postgres.database()
    stores = await asyncio.gather(*(PostgresStore.connect(url, owner=f"r{i}") for i in range(4)))
    try:
        await stores[0].add_messages([new_message(0)])
        assert await stores[3].leaves(65001) == [new_message(0).id]
    finally:
        for store in stores:
            await store.close()
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    assert rows == [(str(SCHEMA_VERSION),)]


async def test_the_tables_are_the_sqlite_schema_with_postgres_types(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.database()
    await (await PostgresStore.connect(url)).close()
    await SqliteStore(tmp_path / "s.db").close()
    mapped = {"BLOB": "bytea", "INTEGER": "bigint", "REAL": "double precision", "TEXT": "text"}
    with sqlite3.connect(tmp_path / "s.db") as lite:
        tables = [r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        expected = {
            (table, name, mapped[kind])
            for table in tables
            for _cid, name, kind, *_rest in lite.execute(f"PRAGMA table_info({table})")
        }
    with psycopg.connect(url) as conn:
        found = set(
            conn.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            ).fetchall()
        )
    assert {"messages", "txs", "cursors", "meta"} <= set(tables)
    assert found == expected


async def test_an_older_schema_gains_the_new_tables_and_keeps_its_rows(
    postgres: PostgresServer,
) -> None:
    url = postgres.database()
    first = await PostgresStore.connect(url)
    await first.add_messages([new_message(0)])
    await first.close()
    with psycopg.connect(url, autocommit=True) as conn:  # as a store of schema 1 was
        conn.execute("DROP TABLE htlc_locks")
        conn.execute("UPDATE meta SET value = '1'")
    again = await PostgresStore.connect(url)
    try:
        assert await again.htlc_locks() == []
        assert await again.leaves(65001) == [new_message(0).id]
    finally:
        await again.close()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT value FROM meta").fetchall() == [(str(SCHEMA_VERSION),)]


async def test_a_store_from_a_newer_stbridge_is_refused(postgres: PostgresServer) -> None:
    url = postgres.database()
    await (await PostgresStore.connect(url)).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE meta SET value = %s", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StoreError, match="written by a newer stbridge") as caught:
        await PostgresStore.connect(url)
    assert "\n" not in str(caught.value)


async def test_connection_problems_are_one_line_without_the_password(
    postgres: PostgresServer,
) -> None:
    url = postgres.database()
    database = url.rsplit("/", 1)[1]
    where = f"stbridge@127.0.0.1:{postgres.port}"
    cases = [
        (postgres.url(database, password="wr0ng-s3cret"), "wr0ng-s3cret",
         f"cannot connect to the store postgresql://{where}/{database}: "
         'password authentication failed for user "stbridge"'),
        (postgres.url("nope"), postgres.password,
         f'postgresql://{where}/nope: database "nope" does not exist'),
        (f"postgresql://stbridge:t0p-s3cret@127.0.0.1:{free_port()}/x", "t0p-s3cret",
         "Connection refused"),
        ("postgresql://stbridge:t0p-s3cret@[bad/x", "t0p-s3cret", "bad store URL"),
        ("postgresql://stbridge:t0p-s3cret@host:port/x", "t0p-s3cret",
         "port 'port' is not a number"),
        (url + "?nonsense=1", postgres.password, 'invalid URI query parameter: "nonsense"'),
    ]  # fmt: skip
    for bad, secret, expected in cases:
        with pytest.raises(StoreError) as caught:
            await open_store(bad, owner="x")
        message = str(caught.value)
        assert expected in message, message
        assert secret not in message
        assert "\n" not in message


def test_the_cli_reports_an_unreachable_store_in_one_line(tmp_path: Path) -> None:
    raw = devnet_raw()
    port = free_port()
    raw["relayer"]["store"] = f"postgresql://stbridge:t0p-s3cret@127.0.0.1:{port}/relayer"
    config = write_config(tmp_path / "c.toml", raw)
    result = subprocess.run(
        [sys.executable, "-m", "relayer", "messages", "list", "-c", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, "STBRIDGE_HOME": str(tmp_path / "home")},
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: cannot connect to the store postgresql://stbridge@127.0.0.1:{port}/relayer: "
        "Connection refused"
    ]


async def test_a_dropped_connection_fails_one_call_then_reconnects(
    postgres: PostgresServer,
) -> None:
    url = postgres.database()
    store = await PostgresStore.connect(url, owner="dropped")
    try:
        await store.add_messages([new_message(0)])
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'stbridge dropped'"
            )
        with pytest.raises(StoreError, match=r"^store postgresql://stbridge@") as caught:
            await store.message(new_message(0).id)
        assert "\n" not in str(caught.value)
        row = await store.message(new_message(0).id)  # a fresh connection
        assert row is not None and row.nonce == 0
    finally:
        await store.close()
        await store.close()  # idempotent
