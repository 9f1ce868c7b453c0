"""The confirmer against a scripted chain: when a receipt is asked, when a transaction is
final, and what a reorg inside the confirmation window does to it.

The store is real (SQLite); the chain and the sender are fakes that answer from a script
and record the receipts asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from relayer.chain import contracts
from relayer.pipeline.confirmer import Confirmer
from relayer.store import NewMessage, Status, TxRow, TxStatus
from relayer.store.sqlite import SqliteStore

MAILBOX = "0x" + "bb" * 20
RELAYER = "0x" + "12" * 20
PROCESS = "0x" + contracts.load("Mailbox").event("Process").topic.hex()


def message(nonce: int) -> NewMessage:
    mid = (9_000 + nonce).to_bytes(32, "big")
    return NewMessage(
        mid, 65001, nonce, 65002, b"\x01" * 32, b"\x02" * 32, b"raw" + mid, 1, None,
        "0x" + "ab" * 32, 10 + nonce, 1000.0 + nonce,
    )  # fmt: skip


class ScriptedChain:
    """Answers the confirmer's batches from ``head``, ``mined_nonce`` and ``receipts``."""

    name = "b"

    def __init__(self) -> None:
        self.head = 100
        self.mined_nonce = 0
        self.receipts: dict[str, dict[str, Any] | None] = {}
        self.asked: list[str] = []  # every receipt asked for, in order

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        answers: list[Any] = []
        for method, params in calls:
            if method == "eth_getTransactionCount":
                answers.append(hex(self.mined_nonce))
            elif method == "eth_blockNumber":
                answers.append(hex(self.head))
            elif method == "eth_getTransactionReceipt":
                self.asked.append(params[0])
                answers.append(self.receipts.get(params[0]))
            else:
                raise AssertionError(f"unexpected call {method}")
        return answers

    async def block(self, number: int) -> SimpleNamespace:
        return SimpleNamespace(number=number, timestamp=1_700_000_000 + number)

    def mine(self, tx: TxRow, block: int, delivered: Sequence[bytes]) -> None:
        logs = [
            {"address": MAILBOX, "topics": [PROCESS, "0x" + i.hex()], "data": "0x"}
            for i in delivered
        ]
        self.receipts[tx.hash] = {
            "blockNumber": hex(block), "status": "0x1", "gasUsed": hex(500_000), "logs": logs,
        }  # fmt: skip


class Sender:
    def __init__(self, chain: ScriptedChain) -> None:
        self.rpc = chain
        self.address = RELAYER
        self.chain_id = 65002

    async def broadcast(self, tx: TxRow) -> None:
        return None

    async def replace(self, tx: TxRow) -> TxRow:
        raise AssertionError("nothing here is stuck")


@pytest.fixture
async def setup(tmp_path: Path) -> Any:
    store = SqliteStore(tmp_path / "r.db", owner="me")
    chain = ScriptedChain()
    await store.add_messages([message(n) for n in range(3)])
    await store.claim(65001, 65002, max_nonce=2, now=10**10, limit=3, lease_seconds=60)
    tx = TxRow(65002, RELAYER, 0, "0x" + "cd" * 32, b"raw", 2, 1, 900_000, "processBatch",
               sent_at=10**10, message_ids=[message(n).id for n in range(3)])  # fmt: skip
    await store.submit(tx)
    confirmer = Confirmer(
        sender=Sender(chain), store=store, confirmations=3, poll_interval=0.1,  # type: ignore[arg-type]
        stuck_after=10**9, chain_names={65001: "a", 65002: "b"}, mailbox=MAILBOX,
    )  # fmt: skip
    try:
        yield store, chain, confirmer, tx
    finally:
        await store.close()


async def statuses(store: SqliteStore) -> list[Status]:
    rows = [await store.message(message(n).id) for n in range(3)]
    return [r.status for r in rows if r is not None]


async def test_a_mined_receipt_is_asked_again_only_once_it_may_be_final(setup: Any) -> None:
    store, chain, confirmer, tx = setup
    chain.mine(tx, 101, [message(n).id for n in range(3)])
    chain.mined_nonce = 1
    for head in (101, 102, 103):  # mined in 101, final at 104 with 3 confirmations
        chain.head = head
        assert await confirmer.step() == 0
    assert chain.asked == [tx.hash]  # seen once, not decoded again every poll
    assert await statuses(store) == [Status.SUBMITTED] * 3
    chain.head = 104
    assert await confirmer.step() == 1
    assert chain.asked == [tx.hash, tx.hash]  # asked again before it is trusted
    assert await statuses(store) == [Status.DELIVERED] * 3
    assert await store.pending_txs(65002) == []


async def test_a_receipt_moved_by_a_reorg_waits_for_its_new_block(setup: Any) -> None:
    store, chain, confirmer, tx = setup
    chain.mine(tx, 101, [message(n).id for n in range(3)])
    chain.mined_nonce = 1
    assert await confirmer.step() == 0
    chain.mine(tx, 103, [message(n).id for n in range(3)])  # the reorg re-mined it later
    chain.head = 104
    assert await confirmer.step() == 0  # 103 is not final at 104
    assert await statuses(store) == [Status.SUBMITTED] * 3
    chain.head = 106
    assert await confirmer.step() == 1
    [final] = [await store.message(message(0).id)]
    assert final is not None and final.delivered_block == 103


async def test_a_receipt_dropped_by_a_reorg_is_not_delivered_nor_given_up(setup: Any) -> None:
    store, chain, confirmer, tx = setup
    chain.mine(tx, 101, [message(n).id for n in range(3)])
    chain.mined_nonce = 1
    assert await confirmer.step() == 0
    chain.receipts[tx.hash] = None  # back in the pool after the reorg
    chain.mined_nonce = 0
    chain.head = 104
    assert await confirmer.step() == 0
    assert await statuses(store) == [Status.SUBMITTED] * 3
    [pending] = await store.pending_txs(65002)
    assert pending.status == TxStatus.PENDING
    chain.mine(tx, 105, [message(n).id for n in range(3)])  # mined again
    chain.mined_nonce = 1
    chain.head = 108
    assert await confirmer.step() == 1  # seen again at 108, where 105 is already final
    assert await statuses(store) == [Status.DELIVERED] * 3


async def test_a_nonce_taken_by_a_stranger_requeues_the_messages(setup: Any) -> None:
    store, chain, confirmer, _tx = setup
    chain.mined_nonce = 1  # our nonce 0 went to a transaction we never sent
    chain.head = 110
    assert await confirmer.step() == 0
    assert await statuses(store) == [Status.PENDING] * 3
    assert await store.pending_txs(65002) == []
