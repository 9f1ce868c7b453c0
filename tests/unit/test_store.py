"""The store keeps every message's state across restarts, and leases split work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from relayer.store import NewMessage, Status, Store, TxRow, TxStatus
from relayer.store.sqlite import SqliteStore


def new_message(nonce: int, origin: int = 65001, destination: int = 65002) -> NewMessage:
    mid = (origin * 1_000_000 + nonce).to_bytes(32, "big")
    return NewMessage(
        id=mid,
        origin=origin,
        nonce=nonce,
        destination=destination,
        sender=b"\x01" * 32,
        recipient=b"\x02" * 32,
        raw=b"raw" + mid,
        kind=1,
        ref=None,
        dispatch_tx="0x" + "ab" * 32,
        dispatch_block=10 + nonce,
        dispatched_at=1000.0 + nonce,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = SqliteStore(tmp_path / "relayer.db", owner="r1")
    yield s
    await s.close()


def tx_for(ids: list[bytes], nonce: int = 0, tag: str = "aa") -> TxRow:
    return TxRow(
        chain_id=65002,
        sender="0xRelayer",
        nonce=nonce,
        hash="0x" + tag * 32,
        raw=b"signed",
        max_fee=2 * 10**9,
        priority_fee=10**9,
        gas_limit=1_000_000,
        purpose="processBatch",
        message_ids=ids,
    )


async def test_add_is_idempotent_and_ordered(store: Store) -> None:
    assert await store.add_messages([new_message(i) for i in range(5)]) == 5
    assert await store.add_messages([new_message(i) for i in range(7)]) == 2
    leaves = await store.leaves(65001)
    assert leaves == [new_message(i).id for i in range(7)]
    assert await store.leaves(65001, start=5) == [new_message(5).id, new_message(6).id]


async def test_claim_submit_deliver_lifecycle(store: Store) -> None:
    await store.add_messages([new_message(i) for i in range(10)])
    claimed = await store.claim(65001, 65002, max_nonce=5, now=2000, limit=4, lease_seconds=30)
    assert [m.nonce for m in claimed] == [0, 1, 2, 3]
    ids = [m.id for m in claimed]
    await store.submit(tx_for(ids))
    assert {(await store.message(i)).status for i in ids} == {Status.SUBMITTED}  # type: ignore[union-attr]
    again = await store.claim(65001, 65002, max_nonce=100, now=2000, limit=100, lease_seconds=30)
    assert [m.nonce for m in again] == [4, 5, 6, 7, 8, 9]
    pending = await store.pending_txs(65002)
    assert [t.hash for t in pending] == ["0x" + "aa" * 32]
    assert pending[0].message_ids == sorted(ids)
    await store.mark_delivered([(i, "0xdeliver", 99, 3000.0) for i in ids])
    await store.set_tx_status("0x" + "aa" * 32, TxStatus.MINED, 99)
    assert await store.pending_txs(65002) == []
    row = await store.message(ids[0])
    assert row is not None
    assert row.status == Status.DELIVERED
    assert row.deliver_tx == "0xdeliver"
    assert await store.backlog(65001, 65002) == (6, 1004.0)


async def test_failed_messages_wait_for_their_backoff(store: Store) -> None:
    await store.add_messages([new_message(0), new_message(1)])
    await store.mark_failed([new_message(0).id], "handler reverted: RateLimited", 5000.0)
    due = await store.claim(65001, 65002, max_nonce=9, now=4000, limit=10, lease_seconds=1)
    assert [m.nonce for m in due] == [1]
    row = await store.message(new_message(0).id)
    assert row is not None
    assert row.attempts == 1
    assert row.last_error == "handler reverted: RateLimited"
    assert await store.retry_now(new_message(0).id)
    due = await store.claim(65001, 65002, max_nonce=9, now=4000, limit=10, lease_seconds=1)
    assert [m.nonce for m in due] == [0, 1]


async def test_leases_split_work_and_expire(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    one, two = SqliteStore(path, owner="one"), SqliteStore(path, owner="two")
    await one.add_messages([new_message(i) for i in range(6)])
    a = await one.claim(65001, 65002, max_nonce=99, now=100, limit=3, lease_seconds=10)
    b = await two.claim(65001, 65002, max_nonce=99, now=101, limit=10, lease_seconds=10)
    assert [m.nonce for m in a] == [0, 1, 2]
    assert [m.nonce for m in b] == [3, 4, 5]
    # while one's leases live, two gets only its own messages back
    mine = await two.claim(65001, 65002, max_nonce=99, now=105, limit=10, lease_seconds=10)
    assert [m.nonce for m in mine] == [3, 4, 5]
    # "one" dies: its leases pass to "two" once they expire
    taken = await two.claim(65001, 65002, max_nonce=99, now=111, limit=10, lease_seconds=10)
    assert [m.nonce for m in taken] == [0, 1, 2, 3, 4, 5]
    await one.close()
    await two.close()


async def test_state_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    first = SqliteStore(path, owner="x")
    await first.add_messages([new_message(0)])
    await first.submit(tx_for([new_message(0).id]))
    await first.set_cursor(65001, 42, "0xhash", [(41, "0xprev"), (42, "0xhash")])
    await first.close()
    second = SqliteStore(path, owner="y")
    row = await second.message(new_message(0).id)
    assert row is not None
    assert row.status == Status.SUBMITTED
    assert row.tx_hash == "0x" + "aa" * 32
    assert await second.cursor(65001) == (42, "0xhash")
    assert await second.recent_hashes(65001) == {41: "0xprev", 42: "0xhash"}
    assert [t.raw for t in await second.pending_txs(65002)] == [b"signed"]
    await second.close()


async def test_best_checkpoint_needs_the_threshold(store: Store) -> None:
    validators = ["0xV1", "0xV2", "0xV3"]
    await store.add_signature(65001, 5, b"r5", b"m", "0xV1", b"s1")
    await store.add_signature(65001, 5, b"r5", b"m", "0xV2", b"s2")
    await store.add_signature(65001, 9, b"r9", b"m", "0xV1", b"s1")
    await store.add_signature(65001, 9, b"r9", b"m", "0xEVE", b"se")
    best = await store.best_checkpoint(65001, validators, 2)
    assert best is not None
    assert (best.index, best.root) == (5, b"r5")
    assert set(best.signatures) == {"0xV1", "0xV2"}
    assert await store.best_checkpoint(65001, validators, 3) is None
    await store.add_signature(65001, 9, b"r9x", b"m", "0xV2", b"s2")  # a different root
    best = await store.best_checkpoint(65001, validators, 2)
    assert best is not None
    assert best.index == 5


async def test_forget_refuses_to_drop_submitted_messages(store: Store) -> None:
    await store.add_messages([new_message(i) for i in range(4)])
    assert await store.forget_from(65001, 3) == 1
    await store.submit(tx_for([new_message(2).id]))
    from relayer.errors import StoreError

    with pytest.raises(StoreError, match="already submitted or delivered"):
        await store.forget_from(65001, 1)


async def test_find_by_prefix(store: Store) -> None:
    await store.add_messages([new_message(3)])
    hexid = new_message(3).id.hex()
    assert [m.nonce for m in await store.find_message("0x" + hexid[:50])] == [3]
    assert await store.find_message("zz") == []


async def test_unopenable_store_is_one_line(tmp_path: Path) -> None:
    from relayer.errors import StoreError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the store"):
        SqliteStore(blocker / "sub" / "r.db")
