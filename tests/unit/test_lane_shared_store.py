"""A lane worker on a store that another relayer shares: what that relayer does to it.

Another relayer's validators may have signed a checkpoint past this relayer's tree,
and another relayer may take over messages whose lease this one let expire. The lane
runs against a real store and tree, with the chain and the sender replaced by fakes
that record what would be sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from relayer.chain.health import ChainHealth
from relayer.chain.sender import Outgoing
from relayer.daemon.lane import LaneConfig, LaneWorker
from relayer.daemon.origin import OriginTree
from relayer.store import NewMessage, Status, Store, TxRow
from relayer.store.sqlite import SqliteStore

VALIDATORS = ["0x" + "11" * 20, "0x" + "33" * 20]
MAILBOX_A = "0x" + "aa" * 20


def message(nonce: int) -> NewMessage:
    mid = (7_000 + nonce).to_bytes(32, "big")
    return NewMessage(
        mid, 65001, nonce, 65002, b"\x01" * 32, b"\x02" * 32, b"raw" + mid, None, None,
        "0x" + "ab" * 32, 10 + nonce, 1000.0 + nonce,
    )  # fmt: skip


class NothingDelivered:
    """The destination's answers to ``delivered(origin, nonce)``: never yet."""

    health = ChainHealth("b", 10.0)

    async def batch(self, calls: Sequence[Any]) -> list[str]:
        return ["0x0"] * len(calls)


class RecordingSender:
    """Stores what the lane sends (as TxSender does, before broadcasting)."""

    def __init__(self, store: Store, before: Callable[[], Awaitable[None]] | None = None):
        self.store = store
        self.before = before
        self.sent: list[TxRow] = []

    async def estimate(self, to: str, data: bytes) -> int:
        return 1_000_000

    async def gas_limit(self) -> int | None:
        return None  # not known: the lane claims four batches a round

    async def send(self, *, to: str, data: bytes, gas: int, purpose: str,
                   message_ids: Sequence[bytes]) -> TxRow:  # fmt: skip
        if self.before is not None:
            await self.before()
        tx = TxRow(65002, "0xRelayerOne", len(self.sent), f"0x{len(self.sent) + 1:064x}",
                   data, 2, 1, gas, purpose, message_ids=list(message_ids))  # fmt: skip
        await self.store.submit(tx)
        self.sent.append(tx)
        return tx

    async def send_many(self, items: Sequence[Outgoing]) -> list[TxRow]:
        rows = []
        for i in items:
            rows.append(await self.send(to=i.to or "", data=i.data, gas=i.gas,
                                        purpose=i.purpose, message_ids=i.message_ids))  # fmt: skip
        return rows


async def lane_on(store: Store, tree_leaves: int, sender: RecordingSender) -> LaneWorker:
    origin = OriginTree("a", 65001, MAILBOX_A)
    for nonce in range(tree_leaves):
        origin.add(nonce, message(nonce).id)
    config = LaneConfig(
        origin_name="a", destination_name="b", destination_mailbox="0x" + "bb" * 20,
        validators=VALIDATORS, threshold=2, batch_max=10, gas_budget=12_000_000,
        batch_wait=0, poll_interval=0.1, lease_seconds=30,
    )  # fmt: skip
    return LaneWorker(
        config, origin=origin, origin_indexer=None,  # type: ignore[arg-type]
        destination_rpc=NothingDelivered(),  # type: ignore[arg-type]
        destination_chain_id=65002, sender=sender,  # type: ignore[arg-type]
        store=store,
    )  # fmt: skip


async def sign(store: Store, index: int, root: bytes) -> None:
    for validator in VALIDATORS:
        await store.add_signature(65001, index, root, b"\x00" * 12 + bytes.fromhex("aa" * 20),
                                  validator, b"\x01" * 65)  # fmt: skip


async def test_a_checkpoint_past_this_relayers_tree_is_passed_over(tmp_path: Path) -> None:
    """The other relayer indexed six messages and signed index 5; this tree holds three."""
    store = SqliteStore(tmp_path / "shared.db", owner="one")
    try:
        await store.add_messages([message(n) for n in range(6)])
        sender = RecordingSender(store)
        lane = await lane_on(store, 3, sender)
        await sign(store, 2, lane.origin.tree.root(3))
        await sign(store, 5, b"\x05" * 32)
        assert await lane.step() == 3  # proven against index 2, not a ProofError
        assert [t.message_ids for t in sender.sent] == [[message(n).id for n in range(3)]]
        for nonce in range(3, 6):  # left for when the tree reaches them
            row = await store.message(message(nonce).id)
            assert row is not None and row.status == Status.PENDING
    finally:
        await store.close()


async def test_a_batch_whose_lease_was_taken_over_is_dropped(tmp_path: Path) -> None:
    """This relayer stalls past its lease; the other one claims the messages first."""
    store = SqliteStore(tmp_path / "shared.db", owner="one")
    other = SqliteStore(tmp_path / "shared.db", owner="two")

    async def stall_past_the_lease() -> None:
        taken = await other.claim(65001, 65002, max_nonce=9, now=10**10, limit=9,
                                  lease_seconds=30)  # fmt: skip
        assert len(taken) == 3

    try:
        await store.add_messages([message(n) for n in range(3)])
        sender = RecordingSender(store, before=stall_past_the_lease)
        lane = await lane_on(store, 3, sender)
        await sign(store, 2, lane.origin.tree.root(3))
        assert await lane.step() == 0  # LeaseLost: nothing stored, nothing sent
        assert sender.sent == []
        assert await store.pending_txs(65002) == []
        claimed = await other.claim(65001, 65002, max_nonce=9, now=10**10, limit=9,
                                    lease_seconds=30)  # fmt: skip
        assert [m.nonce for m in claimed] == [0, 1, 2]  # still the other relayer's
    finally:
        await store.close()
        await other.close()
