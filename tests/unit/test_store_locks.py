"""The store's hash-time locks: idempotent inserts, settle once, preimages by hashlock,
and an older store gaining the table on open."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from relayer.store import HtlcLock, LockSettlement, LockState, Store
from relayer.store.schema import SCHEMA_VERSION
from relayer.store.sqlite import SqliteStore


def lock(
    n: int, *, chain_id: int = 65002, hashlock: bytes = b"\x01" * 32, expiry: int = 100
) -> HtlcLock:
    return HtlcLock(
        chain_id=chain_id,
        lock_id=bytes([n]) * 32,
        hashlock=hashlock,
        token="0xT",
        sender="0xS",
        receiver="0xR",
        amount=2**200 + n,
        expiry=expiry,
        locked_tx=f"0x{n:064x}",
        locked_block=n,
        locked_at=1000.0 + n,
    )


def settle(
    n: int, state: LockState, *, chain_id: int = 65002, preimage: bytes | None = None
) -> LockSettlement:
    return LockSettlement(
        chain_id, bytes([n]) * 32, state, f"0x{n + 100:064x}", 50 + n, 2000.0 + n, preimage
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = SqliteStore(tmp_path / "relayer.db", owner="r1")
    yield s
    await s.close()


async def test_locks_are_added_once_and_read_back_whole(store: Store) -> None:
    assert await store.add_locks([lock(1), lock(2, expiry=50)]) == 2
    assert await store.add_locks([lock(1), lock(3)]) == 1
    assert await store.htlc_lock(65002, lock(1).lock_id) == lock(1)
    assert [k.lock_id[0] for k in await store.htlc_locks()] == [2, 1, 3]  # soonest expiry first
    assert await store.htlc_lock(65001, lock(1).lock_id) is None


async def test_a_lock_settles_once(store: Store) -> None:
    await store.add_locks([lock(1), lock(2)])
    changed = await store.settle_locks([settle(1, LockState.CLAIMED, preimage=b"\x09" * 32)])
    assert [(k.lock_id[0], k.state, k.preimage, k.settled_at) for k in changed] == [
        (1, LockState.CLAIMED, b"\x09" * 32, 2001.0)
    ]
    assert await store.settle_locks([settle(1, LockState.REFUNDED)]) == []  # replayed chunk
    assert await store.settle_locks([settle(7, LockState.REFUNDED)]) == []  # unknown lock
    row = await store.htlc_lock(65002, lock(1).lock_id)
    assert row is not None and row.state == LockState.CLAIMED and row.settled_block == 51
    assert [k.lock_id[0] for k in await store.htlc_locks(state=LockState.OPEN)] == [2]


async def test_preimages_are_found_by_hashlock(store: Store) -> None:
    other = b"\x02" * 32
    await store.add_locks([lock(1), lock(2, chain_id=65001), lock(3, hashlock=other)])
    assert await store.revealed([lock(1).hashlock, other]) == {}
    await store.settle_locks([settle(2, LockState.CLAIMED, chain_id=65001, preimage=b"\x07" * 32)])
    await store.settle_locks([settle(3, LockState.REFUNDED)])
    assert await store.revealed([lock(1).hashlock, other]) == {lock(1).hashlock: b"\x07" * 32}
    both = await store.htlc_locks(hashlock=lock(1).hashlock)
    assert sorted(k.chain_id for k in both) == [65001, 65002]


async def test_actions_count_attempts_and_keep_the_last_transaction(store: Store) -> None:
    await store.add_locks([lock(1)])
    await store.note_lock_action(
        65002, lock(1).lock_id, "claim", tx_hash="0xaa", error=None, next_attempt_at=10.0
    )
    await store.note_lock_action(
        65002, lock(1).lock_id, "claim", tx_hash=None, error="x" * 5000, next_attempt_at=20.0
    )
    row = await store.htlc_lock(65002, lock(1).lock_id)
    assert row is not None
    assert (row.action, row.action_tx, row.attempts, row.next_attempt_at) == (
        "claim",
        "0xaa",
        2,
        20.0,
    )
    assert row.last_error is not None and len(row.last_error) == 1000


async def test_an_older_store_gains_the_lock_table(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    SqliteStore(path)  # then make it look like a schema-1 store
    db = sqlite3.connect(path)
    db.execute("DROP TABLE htlc_locks")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    store = SqliteStore(path)
    try:
        assert await store.add_locks([lock(1)]) == 1
    finally:
        await store.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta").fetchone() == (str(SCHEMA_VERSION),)
    db.close()
