"""The store keeps every message's state across restarts, and leases split work."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from relayer.store import HtlcLock, NewMessage, Status, Store, TxRow, TxStatus
from relayer.store.schema import ID_KEY
from relayer.store.sqlite import CLAIM_SQL, SqliteStore
from tests.pg import StoreBackend


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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> StoreBackend:
    """Every store test runs on SQLite and on a real PostgreSQL server (tests/pg.py)."""
    if request.param == "sqlite":
        return StoreBackend("sqlite", str(tmp_path / "relayer.db"))
    return StoreBackend("postgresql", request.getfixturevalue("postgres").database())


@pytest.fixture
async def store(backend: StoreBackend) -> AsyncIterator[Store]:
    s = await backend.open(owner="r1")
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


async def test_messages_are_listed_by_status_lane_and_age(store: Store) -> None:
    await store.add_messages([new_message(i) for i in range(4)])
    await store.add_messages([new_message(i, origin=65002, destination=65001) for i in range(3)])
    await store.mark_delivered([(new_message(1).id, "0x" + "cd" * 32, 20, 1500.0)])

    newest = await store.messages(limit=3)
    # newest dispatch first; a tie goes by origin
    assert [(m.origin, m.nonce) for m in newest] == [(65001, 3), (65001, 2), (65002, 2)]
    oldest = await store.messages(newest_first=False, limit=2)
    assert [(m.origin, m.nonce) for m in oldest] == [(65001, 0), (65002, 0)]
    assert [m.nonce for m in await store.messages(status=Status.DELIVERED)] == [1]
    pending_a = await store.messages(status=Status.PENDING, origin=65001, newest_first=False)
    assert [m.nonce for m in pending_a] == [0, 2, 3]
    towards_a = await store.messages(destination=65001, newest_first=False)
    assert [(m.origin, m.nonce) for m in towards_a] == [(65002, 0), (65002, 1), (65002, 2)]
    assert await store.messages(origin=65002, status=Status.DELIVERED) == []


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


async def test_leases_split_work_and_expire(backend: StoreBackend) -> None:
    one, two = await backend.open(owner="one"), await backend.open(owner="two")
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


async def test_state_survives_reopen(backend: StoreBackend) -> None:
    first = await backend.open(owner="x")
    await first.add_messages([new_message(0)])
    await first.submit(tx_for([new_message(0).id]))
    await first.set_cursor(65001, 42, "0xhash", [(41, "0xprev"), (42, "0xhash")])
    await first.close()
    second = await backend.open(owner="y")
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


async def test_the_same_signed_transaction_again_revives_its_row(store: Store) -> None:
    """A refused transaction signed anew with the same nonce and fees has the same hash."""
    await store.add_messages([new_message(0)])
    tx = tx_for([new_message(0).id])
    await store.submit(tx)
    await store.set_tx_status(tx.hash, TxStatus.DROPPED)
    await store.requeue([new_message(0).id])
    await store.submit(tx_for([new_message(0).id]))
    assert [t.hash for t in await store.pending_txs(65002)] == [tx.hash]


async def test_a_relayer_whose_lease_was_taken_over_cannot_submit(backend: StoreBackend) -> None:
    """The lease decides who submits, atomically: never both relayers."""
    from relayer.errors import LeaseLost

    one, two = await backend.open(owner="one"), await backend.open(owner="two")
    try:
        await one.add_messages([new_message(i) for i in range(5)])
        mine = await one.claim(65001, 65002, max_nonce=9, now=100, limit=2, lease_seconds=10)
        assert [m.nonce for m in mine] == [0, 1]
        # one's lease expired but nobody took it over: it may still submit
        late = tx_for([mine[0].id], tag="a1")
        await one.submit(late)
        # one stalls past its lease on message 1; two takes it over
        taken = await two.claim(65001, 65002, max_nonce=3, now=111, limit=10, lease_seconds=10)
        assert [m.nonce for m in taken] == [1, 2, 3]
        with pytest.raises(LeaseLost, match=r"1 of the 2 messages .* leased by two"):
            await one.submit(tx_for([mine[1].id, new_message(4).id], tag="b1"))
        assert [t.hash for t in await one.pending_txs(65002)] == [late.hash]  # nothing written
        row = await one.message(mine[1].id)
        assert row is not None and row.status == Status.PENDING
        await two.submit(tx_for([m.id for m in taken], tag="c1"))
        assert await one.tx_messages("0x" + "c1" * 32) == sorted(m.id for m in taken)
        # and a message two submitted can never be submitted by one
        with pytest.raises(LeaseLost):
            await one.submit(tx_for([taken[0].id], tag="d1"))
    finally:
        await one.close()
        await two.close()


async def test_the_cursor_never_moves_back(store: Store) -> None:
    """Two indexers share a chain's cursor; the slower one's writes change nothing."""
    await store.set_cursor(65001, 50, "0x50", [(49, "0x49"), (50, "0x50")])
    await store.set_cursor(65001, 40, "0x40", [(40, "0x40")])  # the slower indexer
    await store.set_cursor(65001, 50, "0x50bis", [(50, "0x50bis")])  # not forward either
    assert await store.cursor(65001) == (50, "0x50")
    assert await store.recent_hashes(65001) == {49: "0x49", 50: "0x50"}
    await store.set_cursor(65001, 60, "0x60", [(60, "0x60")])
    assert await store.cursor(65001) == (60, "0x60")
    await store.rewind_cursor(65001, 49, "0x49")  # only a rewind goes back
    assert await store.cursor(65001) == (49, "0x49")
    assert await store.recent_hashes(65001) == {49: "0x49"}


async def test_best_checkpoint_within_a_bound(store: Store) -> None:
    """A relayer whose tree is behind another's asks for a checkpoint it can prove."""
    for index in (5, 9):
        for validator in ("0xV1", "0xV2"):
            await store.add_signature(65001, index, b"r%d" % index, b"m", validator, b"s")
    best = await store.best_checkpoint(65001, ["0xV1", "0xV2"], 2, max_index=8)
    assert best is not None and best.index == 5
    best = await store.best_checkpoint(65001, ["0xV1", "0xV2"], 2, max_index=9)
    assert best is not None and best.index == 9
    assert await store.best_checkpoint(65001, ["0xV1", "0xV2"], 2, max_index=4) is None


async def test_one_relayer_at_a_time_acts_on_a_lock(backend: StoreBackend) -> None:
    one = await backend.open(owner="r1")
    two = await backend.open(owner="r2")
    try:
        lock = HtlcLock(
            chain_id=65002, lock_id=b"\x0b" * 32, hashlock=b"\x0c" * 32, token="0xT",
            sender="0xS", receiver="0xR", amount=5, expiry=2_000, locked_tx="0x01",
            locked_block=7, locked_at=1_000.0,
        )  # fmt: skip
        assert await one.add_locks([lock]) == 1
        assert await one.reserve_lock_action(65002, lock.lock_id, now=100.0, until=110.0)
        assert not await two.reserve_lock_action(65002, lock.lock_id, now=101.0, until=111.0)
        assert not await one.reserve_lock_action(65002, lock.lock_id, now=109.0, until=119.0)
        assert await two.reserve_lock_action(65002, lock.lock_id, now=110.0, until=120.0)
        assert not await one.reserve_lock_action(65002, b"\x0d" * 32, now=200.0, until=210.0)
    finally:
        await one.close()
        await two.close()


async def test_a_claim_never_walks_a_lanes_delivered_history(tmp_path: Path) -> None:
    """SQLite's planner, left alone, took the (origin, nonce) index for a claim and read
    every message of the origin up to the checkpoint: 10 ms a claim at 100,000 messages,
    growing with every delivery. The claim must go through the partial index of due rows,
    without sorting."""
    store = SqliteStore(tmp_path / "r.db")
    try:
        await store.add_messages([new_message(i) for i in range(50)])
        plan = " ".join(
            str(row[3])
            for row in store._db.execute(
                "EXPLAIN QUERY PLAN " + CLAIM_SQL, (65001, 65002, 49, 0.0, "me", 0.0, 10)
            )
        )
        assert "USING INDEX messages_due" in plan
        assert "TEMP B-TREE" not in plan  # the index already gives nonce order
    finally:
        await store.close()


async def test_ignored_and_refused_are_never_claimed(store: Store) -> None:
    """The delivery policy's ignored rows and terminal refusals stay out of every claim;
    a widened policy takes ignored rows back and an operator's retry forces one try."""
    messages = [new_message(i) for i in range(4)]
    reason = "sender 0x01… on a is not one of this deployment's applications"
    assert await store.add_messages(messages, {messages[1].id: reason}) == 4
    row = await store.message(messages[1].id)
    assert row is not None and row.status == Status.IGNORED and row.last_error == reason
    claimed = await store.claim(65001, 65002, max_nonce=10, now=2000.0, limit=10, lease_seconds=30)
    assert [m.nonce for m in claimed] == [0, 2, 3]
    await store.release([m.id for m in claimed])
    await store.mark_refused([messages[2].id], "handler reverted: UnknownSender(origin=1)")
    await store.mark_ignored([(messages[3].id, "narrowed")])
    claimed = await store.claim(65001, 65002, max_nonce=10, now=2000.0, limit=10, lease_seconds=30)
    assert [m.nonce for m in claimed] == [0]
    refused = await store.message(messages[2].id)
    assert refused is not None and refused.status == Status.REFUSED and refused.attempts == 1
    assert await store.backlog(65001, 65002) == (1, 1000.0)
    assert {s for (_o, _d, s) in await store.status_counts()} == {"pending", "ignored", "refused"}
    listed = await store.messages(status=Status.IGNORED)
    assert {m.nonce for m in listed} == {1, 3}

    await store.unignore([messages[1].id])
    assert await store.retry_now(messages[2].id)
    assert not await store.retry_now(messages[3].id)  # still ignored: not retryable
    claimed = await store.claim(65001, 65002, max_nonce=10, now=2000.0, limit=10, lease_seconds=30)
    assert [m.nonce for m in claimed] == [0, 1, 2]  # its own lease on 0 counts as free
    back = await store.message(messages[1].id)
    assert back is not None and back.status == Status.PENDING and back.last_error is None
    forced = await store.message(messages[2].id)
    assert forced is not None and forced.status == Status.FAILED


async def test_postponed_messages_wait_without_an_attempt(store: Store) -> None:
    await store.add_messages([new_message(0)])
    await store.postpone([new_message(0).id], 5000.0, "sender spent its gas budget")
    assert not await store.claim(65001, 65002, max_nonce=9, now=4999.0, limit=9, lease_seconds=9)
    row = await store.message(new_message(0).id)
    assert row is not None and row.attempts == 0 and row.last_error == "sender spent its gas budget"
    assert len(await store.claim(65001, 65002, max_nonce=9, now=5000.0, limit=9, lease_seconds=9))


async def test_a_cli_holding_the_file_does_not_freeze_the_loop(tmp_path: Path) -> None:
    """Another process in a write transaction on the file (a CLI's ``messages retry``)
    makes the store's write wait for it, on the store's own thread: the relayer's other
    tasks keep running all the while (they once froze for up to busy_timeout, 10 s)."""
    path = tmp_path / "r.db"
    store = SqliteStore(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        write = asyncio.create_task(store.set_state("k", "v"))
        await asyncio.sleep(0)  # the write starts waiting for the file
        start = ticks
        for _ in range(2000):  # up to 10 s on an idle machine, far more when it is busy
            if ticks >= start + 50 or write.done():
                break
            await asyncio.sleep(0.005)
        assert not write.done(), "the write did not wait for the other connection's lock"
        assert ticks >= start + 50  # the loop ran on while the write waited
        other.execute("COMMIT")
        await asyncio.wait_for(write, 30)
        assert await store.get_state("k") == "v"
    finally:
        ticker.cancel()
        other.close()
        await store.close()


async def test_a_large_insert_spans_statements_and_keeps_every_row_once(store: Store) -> None:
    """More rows than one multi-row statement holds (INSERT_ROWS), some already stored and
    some twice in the batch: each row is stored once and the count says how many were new."""
    from relayer.store.sqlite import INSERT_ROWS

    first = [new_message(n) for n in range(0, 700)]
    assert await store.add_messages(first) == 700
    batch = [new_message(n) for n in range(500, INSERT_ROWS * 2 + 300)]
    batch += batch[:50]  # the same message twice in one write
    assert await store.add_messages(batch) == INSERT_ROWS * 2 + 300 - 700
    assert await store.leaves(65001) == [new_message(n).id for n in range(INSERT_ROWS * 2 + 300)]
    ignored = [new_message(n, origin=65003) for n in range(INSERT_ROWS + 1)]
    await store.add_messages(ignored, {ignored[-1].id: "outside the policy"})
    last = await store.message(ignored[-1].id)
    assert last is not None and last.status == Status.IGNORED
    assert last.last_error == "outside the policy"
    row = await store.message(ignored[0].id)
    assert row is not None and row.status == Status.PENDING and row.raw == ignored[0].raw


async def test_statements_stay_within_sqlites_variable_limit(tmp_path: Path) -> None:
    """A SQLite built with a lower limit on bound values than INSERT_ROWS rows need gets
    smaller statements, not an error."""
    store = SqliteStore(tmp_path / "s.db")
    try:
        await store.conn.call(lambda db: db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100))
        assert await store.add_messages([new_message(n) for n in range(37)]) == 37
        assert len(await store.leaves(65001)) == 37
    finally:
        await store.close()


def test_a_handful_of_statement_shapes_whatever_the_batch() -> None:
    """Every batch size is cut into statements of a few fixed sizes: sqlite3 keeps each
    distinct statement it prepared, at 1.5 MB for a thousand rows."""
    from relayer.store.sqlite import statement_sizes

    shapes: set[int] = set()
    for count in range(0, 5_000):
        sizes = list(statement_sizes(count, 1_000))
        assert sum(sizes) == count and sizes == sorted(sizes, reverse=True)
        shapes.update(sizes)
    assert shapes == {1_000} | {2**k for k in range(10)}
    assert list(statement_sizes(37, 5)) == [5] * 7 + [2]


async def test_ids_alike_in_their_indexed_bytes_are_told_apart(store: Store) -> None:
    """messages_id holds an id's first 8 bytes (schema 5): two messages whose ids share
    them (every id of ``new_message`` does) are still found and changed one at a time."""
    twins = [new_message(0), new_message(1)]
    assert twins[0].id[:8] == twins[1].id[:8] and twins[0].id != twins[1].id
    await store.add_messages(twins)
    await store.mark_delivered([(twins[0].id, "0x" + "cd" * 32, 20, 1500.0)])
    first, second = await store.message(twins[0].id), await store.message(twins[1].id)
    assert first is not None and first.status == Status.DELIVERED and first.nonce == 0
    assert second is not None and second.status == Status.PENDING and second.nonce == 1
    assert await store.message(twins[0].id[:8] + b"\xff" * 24) is None
    assert [m.nonce for m in await store.messages_by_id([twins[1].id])] == [1]
    assert await store.retry_now(twins[1].id) and not await store.retry_now(twins[0].id)


async def test_every_lookup_by_id_goes_through_the_id_index(tmp_path: Path) -> None:
    """Each statement the store runs on messages by id (claims, leases, submissions,
    deliveries, retries) finds its rows through messages_id, never by reading the table:
    a bare ``id = ?`` would still be right, and read every row of a million for each."""
    store = SqliteStore(tmp_path / "r.db")
    seen: list[str] = []
    try:
        await store.add_messages([new_message(i) for i in range(12)])
        await store.conn.call(lambda db: db.set_trace_callback(seen.append))
        ids = [new_message(i).id for i in range(12)]
        due = await store.claim(65001, 65002, max_nonce=11, now=0.0, limit=12, lease_seconds=9)
        assert len(due) == 12
        await store.release(ids[:2])
        await store.submit(tx_for(ids[2:4], nonce=0, tag="aa"))
        await store.submit_many([tx_for(ids[4:6], nonce=1, tag="bb")])
        await store.requeue(ids[4:5])
        await store.mark_delivered([(ids[2], "0x" + "cd" * 32, 20, 1500.0)])
        await store.mark_failed(ids[6:7], "boom", 0.0)
        await store.mark_refused(ids[7:8], "no")
        await store.mark_ignored([(ids[8], "policy")])
        await store.unignore(ids[8:9])
        await store.postpone(ids[9:10], 1e12, "budget")
        await store.retry_now(ids[9])
        await store.message(ids[10])
        await store.messages_by_id(ids[10:])
        await store.conn.call(lambda db: db.set_trace_callback(None))
        by_id = [s for s in seen if "messages" in s and ID_KEY in s]
        assert len(by_id) >= 14, seen
        for statement in by_id:
            plan = " ".join(
                str(row[3]) for row in store._db.execute("EXPLAIN QUERY PLAN " + statement)
            )
            assert "USING INDEX messages_id" in plan, (statement, plan)
        bare = [s for s in seen if "messages" in s and "WHERE id" in s]
        assert not bare, bare
    finally:
        await store.close()
