"""Draining a backlog: held sends (all stored before any is broadcast, right after the
next block), the gas floor that keeps a node from dropping a key's later nonces, the gas
model learning from receipts, and a claim sized to the destination's blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import pytest

from relayer.chain.rpc import RpcError
from relayer.chain.sender import Outgoing, TxSender
from relayer.config import PrivateKey
from relayer.daemon import lane as lane_module
from relayer.daemon.lane import HANDLER_RESERVE, GasModel
from relayer.errors import InsufficientFunds
from relayer.store import Status
from relayer.store.sqlite import SqliteStore
from tests.unit.test_lane_shared_store import RecordingSender, lane_on, message, sign

GWEI = 10**9


def _sender(store: SqliteStore, send_raw: Any) -> TxSender:
    rpc = MagicMock()
    rpc.name = "b"
    rpc.chain.chain_id = 65002
    rpc.chain.block_time = 1.0
    rpc.chain.max_fee_per_gas_wei = None
    rpc.where.return_value = "chain b"

    async def batch(calls: Any) -> list[Any]:
        return [{"baseFeePerGas": hex(GWEI), "gasLimit": hex(150_000_000)}, hex(GWEI)]

    rpc.batch = batch
    rpc.nonce = AsyncMock(return_value=7)
    rpc.send_raw = send_raw

    async def send_raw_many(raws: list[bytes]) -> list[Any]:  # a batch: each item answered
        rpc.requests += 1
        outcomes: list[Any] = []
        for raw in raws:
            try:
                outcomes.append(await send_raw(raw))
            except RpcError as exc:
                outcomes.append(exc)
        return outcomes

    rpc.requests = 0
    rpc.send_raw_many = send_raw_many
    key = PrivateKey.from_hex("0x" + "42" * 32, source="inline")
    return TxSender(rpc, key, store)


async def _claimed(store: SqliteStore, count: int) -> list[bytes]:
    await store.add_messages([message(n) for n in range(count)])
    due = await store.claim(65001, 65002, max_nonce=count, now=10**10, limit=count,
                            lease_seconds=30)  # fmt: skip
    return [m.id for m in due]


def _items(ids: list[bytes], per: int) -> list[Outgoing]:
    return [
        Outgoing("0x" + "11" * 20, b"batch", 5_000_000, "processBatch a->b", ids[i : i + per])
        for i in range(0, len(ids), per)
    ]


async def test_held_sends_are_all_stored_before_any_broadcast(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "r.db", owner="one")
    try:
        ids = await _claimed(store, 6)
        stored_when_sent: list[int] = []

        async def send_raw(raw: bytes) -> str:
            stored_when_sent.append(len(await store.pending_txs(65002)))
            return "0x"

        sender = _sender(store, AsyncMock(side_effect=send_raw))
        order: list[str] = []

        async def next_block() -> None:
            order.append("block")
            assert sender.rpc.send_raw.await_count == 0  # nothing broadcast before the block

        rows = await sender.send_held(_items(ids, 2), before_broadcast=next_block)
        assert [r.nonce for r in rows] == [7, 8, 9]
        assert order == ["block"]
        assert stored_when_sent == [3, 3, 3]  # every one stored before the first went out
        submitted = await store.messages(status=Status.SUBMITTED, limit=10)
        assert len(submitted) == 6
    finally:
        await store.close()


async def test_a_refusal_abandons_it_and_every_later_one_the_node_did_not_take(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "r.db", owner="one")
    try:
        ids = await _claimed(store, 6)
        calls = 0

        async def send_raw(raw: bytes) -> str:
            nonlocal calls
            calls += 1
            if calls >= 2:
                raise RpcError("insufficient funds for gas * price + value")
            return "0x"

        sender = _sender(store, AsyncMock(side_effect=send_raw))

        async def nothing() -> None:
            return None

        with pytest.raises(InsufficientFunds):
            await sender.send_held(_items(ids, 2), before_broadcast=nothing)
        assert sender.rpc.requests == 1  # one batch request for the three
        pending = await store.pending_txs(65002)
        assert [t.nonce for t in pending] == [7]  # the first went out and stays followed
        back = await store.messages(status=Status.PENDING, limit=10)
        assert len(back) == 4  # the refused ones' messages: queued again
        # the next send takes the refused nonce: no gap behind the broadcast one
        assert sender._next_nonce == 8
    finally:
        await store.close()


async def test_a_refused_one_the_node_took_later_nonces_after_stays_pending(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "r.db", owner="one")
    try:
        ids = await _claimed(store, 8)
        calls = 0

        async def send_raw(raw: bytes) -> str:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise RpcError("transaction underpriced")
            return "0x"

        sender = _sender(store, AsyncMock(side_effect=send_raw))
        rows = await sender.send_many(_items(ids, 2))
        assert [r.nonce for r in rows] == [7, 8, 9, 10]
        # nonce 8 must be filled for 9 and 10 (in the node's pool) to be mined: it stays
        # stored and pending, and the confirmer broadcasts it again; nothing is requeued
        assert [t.nonce for t in await store.pending_txs(65002)] == [7, 8, 9, 10]
        assert await store.messages(status=Status.PENDING, limit=10) == []
        assert sender._next_nonce == 11
    finally:
        await store.close()


async def test_a_round_is_stored_in_one_transaction_and_broadcast_in_one_request(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "r.db", owner="one")
    try:
        ids = await _claimed(store, 8)
        runs = 0
        real_run = store.conn.run

        async def counted_run(work: Any) -> Any:
            nonlocal runs
            runs += 1
            return await real_run(work)

        store.conn.run = counted_run  # type: ignore[method-assign]
        stored_when_sent: list[int] = []

        async def send_raw(raw: bytes) -> str:
            stored_when_sent.append(len(await store.pending_txs(65002)))
            return "0x"

        sender = _sender(store, AsyncMock(side_effect=send_raw))
        rows = await sender.send_many(_items(ids, 2))
        assert [r.nonce for r in rows] == [7, 8, 9, 10]
        assert runs == 1  # the four transactions and their messages: one store transaction
        assert sender.rpc.requests == 1  # and one batch request
        assert stored_when_sent == [4, 4, 4, 4]  # every one stored before any went out
        submitted = await store.messages(status=Status.SUBMITTED, limit=10)
        assert {m.tx_hash for m in submitted} == {r.hash for r in rows}
        assert len(submitted) == 8
    finally:
        await store.close()


async def test_a_round_whose_lease_another_relayer_took_stores_the_others(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "r.db", owner="one")
    other = SqliteStore(tmp_path / "r.db", owner="two")
    try:
        ids = await _claimed(store, 6)
        # the second batch's messages: lease expired and taken by another relayer
        await other.conn.run(
            lambda tx: tx.execute(
                "UPDATE messages SET lease_owner = 'two', lease_until = 1e12 WHERE id IN (?, ?)",
                (ids[2], ids[3]),
            )
        )
        sender = _sender(store, AsyncMock(return_value="0x"))
        rows = await sender.send_many(_items(ids, 2))
        assert [r.nonce for r in rows] == [7, 8]  # consecutive nonces, the taken one left out
        assert [sorted(r.message_ids) for r in rows] == [sorted(ids[0:2]), sorted(ids[4:6])]
        assert [t.nonce for t in await store.pending_txs(65002)] == [7, 8]
        assert sender._next_nonce == 9
    finally:
        await other.close()
        await store.close()


def test_the_gas_model_learns_from_receipts_and_never_lowers_its_prediction() -> None:
    model = GasModel(refresh=3)
    model.learn(16, HANDLER_RESERVE + 16 * 50_000)
    model.predict(100)
    model.predict(100)
    model.observe(100, 3_150_000)  # a mined batch: cheaper than the estimate said
    assert model.per_message == 50_000  # the estimate's margin stays
    assert model.used_per_message == 31_500
    model.predict(100)
    model.predict(100)
    assert not model.needs_estimate()  # the receipt counted as a fresh measurement
    model.observe(100, HANDLER_RESERVE + 100 * 80_000)  # dearer than assumed: raised
    assert model.per_message == 80_000
    assert model.block_worth(150_000_000) == 150_000_000 // 86_000


async def test_a_lane_never_sends_a_smaller_gas_limit_behind_a_larger_one(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "r.db", owner="one")
    try:
        lane = await lane_on(store, 0, RecordingSender(store))
        assert lane._floor(7_000_000) == 7_000_000
        assert lane._floor(2_000_000) == 7_000_000  # a short batch after a full one
        assert lane._floor(8_000_000) == 8_000_000
        assert lane._floor(50_000_000) == 50_000_000  # above the budget: its own limit
        assert lane._floor(1_000_000) == lane.config.gas_budget  # the floor stays in budget
    finally:
        await store.close()


async def test_a_round_claims_two_blocks_worth_when_the_chain_says_how_much_fits(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "r.db", owner="one")
    try:
        sender = RecordingSender(store)
        lane = await lane_on(store, 0, sender)
        assert await lane._claim_limit() == lane.config.batch_max * 4  # limit not known
        sender.gas_limit = AsyncMock(return_value=150_000_000)  # type: ignore[method-assign]
        lane.gas.observe(100, 3_150_000)
        assert await lane._claim_limit() == 2 * (150_000_000 // 31_500)
    finally:
        await store.close()


async def test_a_round_of_several_batches_goes_out_in_growing_chunks_in_nonce_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lane_module, "SEND_CHUNK", 1)
    monkeypatch.setattr(lane_module, "SEND_CHUNK_MAX", 2)
    store = SqliteStore(tmp_path / "r.db", owner="one")
    try:
        await store.add_messages([message(n) for n in range(40)])
        chunks: list[int] = []

        class ChunkSender(RecordingSender):
            async def send(self, **kwargs: Any) -> Any:
                raise AssertionError("a round of several batches goes through send_many")

            async def send_many(self, items: Any) -> Any:
                chunks.append(len(items))
                rows = []
                for i in items:
                    row = await RecordingSender.send(
                        self, to=i.to, data=i.data, gas=i.gas, purpose=i.purpose,
                        message_ids=i.message_ids,
                    )  # fmt: skip
                    rows.append(row)
                return rows

        sender = ChunkSender(store)
        lane = await lane_on(store, 40, sender)
        await sign(store, 39, lane.origin.tree.root(40))
        assert await lane.step() == 40  # four batches of ten
        assert chunks == [1, 2, 1]  # the first chunk small, the next doubled
        carried = [m for tx in sender.sent for m in tx.message_ids]
        assert carried == [message(n).id for n in range(40)]  # nonce order across chunks
    finally:
        await store.close()
