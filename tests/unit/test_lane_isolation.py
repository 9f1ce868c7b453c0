"""A lane finds the message that would sink a batch and sends the others without it; a
batch of the deployment's own applications costs no simulation (fakes for the chain)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_abi.abi import encode

from relayer.chain.rpc import CallReverted
from relayer.core.hashing import keccak256
from relayer.daemon.lane import LaneWorker
from relayer.daemon.policy import DeliveryPolicy
from relayer.store import NewMessage, Status
from relayer.store.sqlite import SqliteStore
from tests.unit.test_lane_shared_store import NothingDelivered, RecordingSender, lane_on, sign

APP, PEER, STRANGER = b"\x01" * 32, b"\x02" * 32, b"\x5e" * 32
INSUFFICIENT_GAS = keccak256(b"InsufficientGas(uint32,uint256)")[:4]


def message(nonce: int, sender: bytes = APP) -> NewMessage:
    mid = (9_000 + nonce).to_bytes(32, "big")
    body = b"POISON" if sender == STRANGER else b"honest"
    return NewMessage(
        mid, 65001, nonce, 65002, sender, PEER, body + mid, None, None,
        "0x" + "ab" * 32, 10 + nonce, 1000.0 + nonce,
    )  # fmt: skip


class Destination(NothingDelivered):
    """eth_call of processBatch: reverts with InsufficientGas at the first poisoned one."""

    def __init__(self) -> None:
        self.calls = 0

    async def request(self, method: str, params: list[Any]) -> Any:
        assert method == "eth_call"
        self.calls += 1
        data = bytes.fromhex(params[0]["data"][2:])
        if b"POISON" in data:
            revert = INSUFFICIENT_GAS + encode(["uint32", "uint256"], [3, 300_000])
            raise CallReverted("execution reverted", code=3, data="0x" + revert.hex())
        return "0x"


async def poisoned_lane(tmp_path: Path, poison: bool) -> tuple[LaneWorker, RecordingSender]:
    store = SqliteStore(tmp_path / "r.db", owner="one")
    messages = [message(n, STRANGER if poison and n == 3 else APP) for n in range(6)]
    await store.add_messages(messages)
    sender = RecordingSender(store)
    sender.address = "0x" + "77" * 20  # type: ignore[attr-defined]
    lane = await lane_on(store, 0, sender)
    for m in messages:
        lane.origin.add(m.nonce, m.id)
    lane.rpc = Destination()  # type: ignore[assignment]
    lane.policy = DeliveryPolicy(
        mode="open", routes={(65001, 65002, APP, PEER)}, chain_names={65001: "a", 65002: "b"},
        budget_per_hour=10**9,
    )  # fmt: skip
    lane.gas.learn(16, 2_000_000)  # the model predicts: the poison would sink the batch
    await sign(store, 5, lane.origin.tree.root(6))
    return lane, sender


async def test_poison_goes_alone_and_the_rest_in_the_same_round(tmp_path: Path) -> None:
    lane, sender = await poisoned_lane(tmp_path, poison=True)
    try:
        assert await lane.step() == 6
        sent = [[int.from_bytes(i, "big") - 9_000 for i in t.message_ids] for t in sender.sent]
        assert sent == [[0, 1, 2], [3], [4, 5]]  # cut where the mailbox ran out of gas
        rows = [await lane.store.message(message(n).id) for n in range(6)]
        assert all(r is not None and r.status == Status.SUBMITTED for r in rows)
    finally:
        await lane.store.close()


async def test_the_deployments_own_batch_is_not_simulated(tmp_path: Path) -> None:
    lane, sender = await poisoned_lane(tmp_path, poison=False)
    try:
        assert await lane.step() == 6
        assert len(sender.sent) == 1
        assert lane.rpc.calls == 0  # type: ignore[attr-defined]
        lane.batch_reverted()  # after a revert on the lane, batches are simulated
        assert lane._suspect([await lane.store.message(message(0).id)])  # type: ignore[list-item]
    finally:
        await lane.store.close()


async def test_a_narrowed_policy_ignores_stored_pending_messages(tmp_path: Path) -> None:
    """Indexed as pending under an open policy; the relayer restarted with the default."""
    lane, sender = await poisoned_lane(tmp_path, poison=True)
    try:
        lane.policy = DeliveryPolicy(
            mode="deployment", routes={(65001, 65002, APP, PEER)},
            chain_names={65001: "a", 65002: "b"},
        )  # fmt: skip
        assert await lane.step() == 5  # 0..2 and 4..5, in two batches
        row = await lane.store.message(message(3).id)
        assert row is not None and row.status == Status.IGNORED
        assert row.last_error == (
            f"sender 0x{STRANGER.hex()} on a is not one of this deployment's applications "
            "(delivery policy: deployment)"
        )
        assert lane.rpc.calls == 0  # type: ignore[attr-defined]
        assert len(sender.sent) == 2
    finally:
        await lane.store.close()
