"""A store written by the code before the one-store rewrite opens unchanged, on both
databases: tests/fixtures/store holds an SQLite dump of a schema-3 store (every table
with rows) and the PostgreSQL DDL that code created, both written by it."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import psycopg
import pytest
import structlog

from relayer.store import LockState, Status, Store, TxStatus
from relayer.store.postgres import PostgresStore, postgres_ddl
from relayer.store.schema import SCHEMA_VERSION
from relayer.store.sqlite import SqliteStore
from tests.pg import PostgresServer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "store"


def sqlite_fixture(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.executescript((FIXTURES / "sqlite-v3.sql").read_text())
    db.close()
    return path


def test_the_schema_is_the_one_stores_were_created_with() -> None:
    """Same statements, same types; version 4 adds the console's index of deliveries
    (CREATE INDEX IF NOT EXISTS, so opening a version-3 database adds it), version 5 the
    index of ids by their first bytes, and the id is no longer the primary key (an
    older store is brought there when opened: below)."""
    old = [s.strip() for s in (FIXTURES / "postgres-v3-ddl.sql").read_text().split(";\n")]
    old = [s.replace("id BYTEA PRIMARY KEY,", "id BYTEA NOT NULL,") for s in old if s]
    new = postgres_ddl()
    added = [s for s in new if s not in old]
    assert [s for s in new if s in old] == old
    names = [re.findall(r"CREATE INDEX IF NOT EXISTS (\w+)", s) for s in added]
    assert names == [["messages_id"], ["messages_delivered"]]
    assert SCHEMA_VERSION == 5


async def test_an_old_sqlite_store_gains_the_new_indexes_and_loses_the_id_key(
    tmp_path: Path,
) -> None:
    path = sqlite_fixture(tmp_path / "old.db")
    before = sqlite3.connect(path)
    rows = before.execute("SELECT * FROM messages ORDER BY origin, nonce").fetchall()
    before.close()
    with structlog.testing.capture_logs() as logs:
        store = SqliteStore(path, owner="new")
    await store.close()
    [upgrade] = [e for e in logs if "schema 5" in e["event"]]  # the wait is explained
    assert upgrade["messages"] == 4 and upgrade["log_level"] == "warning"
    db = sqlite3.connect(path)
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    keys = [r[1] for r in db.execute("PRAGMA table_info(messages)") if r[5]]
    after = db.execute("SELECT * FROM messages ORDER BY origin, nonce").fetchall()
    db.close()
    assert {"messages_delivered", "messages_id", "messages_lane", "messages_due"} <= names
    assert keys == []  # id was the primary key; now a rowid table, unique by (origin, nonce)
    assert after == rows and len(rows) == 4  # every row, every column, as it was


async def reads_what_the_old_code_wrote(store: Store) -> None:
    rows = {m.nonce: m for m in await store.messages(limit=10)}
    assert [rows[n].status for n in range(4)] == [
        Status.DELIVERED, Status.SUBMITTED, Status.FAILED, Status.IGNORED,
    ]  # fmt: skip
    assert rows[0].deliver_tx == "0x" + "cd" * 32 and rows[0].delivered_block == 77
    assert rows[2].last_error == "boom" and rows[2].attempts == 1
    assert rows[3].last_error == "policy" and rows[1].sender == b"\x01" * 32
    (tx,) = await store.pending_txs(65002)
    assert (tx.max_fee, tx.priority_fee, tx.status) == (2 * 10**9, 10**9, TxStatus.PENDING)
    assert tx.message_ids == sorted([rows[0].id, rows[1].id])
    locks = {k.lock_id: k for k in await store.htlc_locks()}
    claimed = locks[b"L" * 32]
    assert (claimed.amount, claimed.state, claimed.preimage) == (
        10**30,
        LockState.CLAIMED,
        b"P" * 32,
    )
    assert locks[b"M" * 32].action_tx == "0xrf" and locks[b"M" * 32].attempts == 1
    assert await store.revealed([b"H" * 32]) == {b"H" * 32: b"P" * 32}
    (event,) = await store.events()
    assert (event.name, event.key, event.data) == ("Bounced", b"k" * 32, {"a": 1})
    checkpoint = await store.best_checkpoint(65001, ["0xVal"], 1)
    assert checkpoint is not None and checkpoint.signatures == {"0xVal": b"s" * 65}
    assert await store.cursor(65001) == (100, "0xh100")
    assert await store.recent_hashes(65001) == {99: "0xh99", 100: "0xh100"}
    assert await store.get_state("watch") == "42"
    # and it goes on: the failed message (its backoff over) is claimed and delivered
    (due,) = await store.claim(65001, 65002, max_nonce=10, now=1e12, limit=5, lease_seconds=9)
    assert due.nonce == 2
    await store.mark_delivered([(due.id, "0x" + "ee" * 32, 80, 9000.0)])
    assert (await store.backlog(65001, 65002))[0] == 1  # the submitted one


async def test_an_sqlite_store_of_the_old_code_opens(tmp_path: Path) -> None:
    store = SqliteStore(sqlite_fixture(tmp_path / "old.db"), owner="new")
    try:
        await reads_what_the_old_code_wrote(store)
    finally:
        await store.close()


@pytest.mark.integration
async def test_a_postgres_store_of_the_old_code_opens(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    """The old DDL, the fixture's rows copied over as they are, then the new store."""
    url = postgres.database()
    lite = sqlite3.connect(sqlite_fixture(tmp_path / "old.db"))
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in (FIXTURES / "postgres-v3-ddl.sql").read_text().split(";\n"):
            if statement.strip():
                conn.execute(statement)
        tables = lite.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (table,) in tables:
            for row in lite.execute(f"SELECT * FROM {table}"):  # noqa: S608 - fixture tables
                insert = f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(row))})"  # noqa: S608
                conn.execute(insert, row)  # type: ignore[arg-type]
    lite.close()
    store = await PostgresStore.connect(url, owner="new")
    try:
        await reads_what_the_old_code_wrote(store)
    finally:
        await store.close()
    with psycopg.connect(url) as conn:
        constraints = conn.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'messages'::regclass"
        ).fetchall()
        indexes = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'messages'")
        assert "messages_id" in {name for (name,) in indexes.fetchall()}
    assert "messages_pkey" not in {name for (name,) in constraints}
