"""The confirmer against a scripted chain: when a receipt is asked, when a transaction is
final, and what a reorg inside the confirmation window does to it.

The store is real (SQLite); the chain and the sender are fakes that answer from a script
and record the receipts asked for.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from relayer.chain import contracts
from relayer.chain.health import ChainHealth
from relayer.daemon.confirmer import Confirmer
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
        self.health = ChainHealth("b", 10.0)
        self.head = 100
        self.mined_nonce = 0
        self.others_nonce: dict[str, int] = {}  # mined nonces of other senders
        self.receipts: dict[str, dict[str, Any] | None] = {}
        self.asked: list[str] = []  # every receipt asked for, in order
        self.broadcast: list[bytes] = []  # raw transactions sent to this chain

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        answers: list[Any] = []
        for method, params in calls:
            if method == "eth_getTransactionCount":
                answers.append(hex(self.others_nonce.get(params[0], self.mined_nonce)))
            elif method == "eth_blockNumber":
                answers.append(hex(self.head))
            elif method == "eth_getTransactionReceipt":
                self.asked.append(params[0])
                answers.append(self.receipts.get(params[0]))
            else:
                raise AssertionError(f"unexpected call {method}")
        return answers

    async def send_raw(self, raw: bytes) -> str:
        self.broadcast.append(raw)
        return "0x" + "00" * 32

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
        self.holding = False  # no held sends (TxSender.send_held) here
        self.released_at = 0.0

    async def broadcast(self, tx: TxRow) -> None:
        return None

    async def replace(self, tx: TxRow) -> TxRow:
        raise AssertionError("nothing here is stuck")


def confirmer_for(chain: ScriptedChain, store: SqliteStore, adopt_after: float | None) -> Confirmer:
    return Confirmer(
        sender=Sender(chain), store=store, confirmations=3, poll_interval=0.1,  # type: ignore[arg-type]
        stuck_after=10**9, chain_names={65001: "a", 65002: "b"}, mailbox=MAILBOX,
        adopt_after=adopt_after,
    )  # fmt: skip


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


DEAD = "0x" + "de" * 20
ALIVE = "0x" + "a1" * 20


def batch_of(sender: str, nonce: int, tag: str, age: float, nonces: range) -> TxRow:
    """Another relayer's stored batch of ``nonces``, sent ``age`` seconds ago."""
    return TxRow(65002, sender, nonce, "0x" + tag * 32, f"{tag}-raw".encode(), 2, 1, 900_000,
                 "processBatch", sent_at=time.time() - age,
                 message_ids=[message(n).id for n in nonces])  # fmt: skip


async def test_a_silent_relayers_transaction_is_broadcast_again_and_settled(
    tmp_path: Path,
) -> None:
    """Two relayers share the store; one stored a batch and died, maybe before broadcasting."""
    store = SqliteStore(tmp_path / "shared.db", owner="survivor")
    chain = ScriptedChain()
    try:
        await store.add_messages([message(n) for n in range(5)])
        await store.claim(65001, 65002, max_nonce=4, now=10**10, limit=5, lease_seconds=60)
        dead = batch_of(DEAD, 7, "d0", age=120, nonces=range(3))
        alive = batch_of(ALIVE, 3, "a0", age=1, nonces=range(3, 5))
        await store.submit(dead)
        await store.submit(alive)
        chain.others_nonce = {DEAD: 7, ALIVE: 3}
        confirmer = confirmer_for(chain, store, adopt_after=60)

        assert await confirmer.step() == 0
        assert chain.broadcast == [b"d0-raw"]  # the live relayer's own is left to it
        assert await confirmer.step() == 0
        assert chain.broadcast == [b"d0-raw"]  # not again within adopt_after

        chain.mine(dead, 101, [message(n).id for n in range(3)])
        chain.others_nonce[DEAD] = 8
        chain.head = 104
        assert await confirmer.step() == 1
        assert await statuses(store) == [Status.DELIVERED] * 3
        assert [t.hash for t in await store.pending_txs(65002)] == [alive.hash]

        without = confirmer_for(chain, store, adopt_after=None)  # one relayer: no adoption
        chain.others_nonce[ALIVE] = 4  # even with its nonce used, not this key's business
        assert await without.step() == 0
        assert [t.hash for t in await store.pending_txs(65002)] == [alive.hash]
    finally:
        await store.close()


async def test_a_silent_relayers_transaction_whose_nonce_went_elsewhere_is_requeued(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "shared.db", owner="survivor")
    chain = ScriptedChain()
    try:
        await store.add_messages([message(n) for n in range(3)])
        await store.claim(65001, 65002, max_nonce=2, now=10**10, limit=3, lease_seconds=60)
        await store.submit(batch_of(DEAD, 7, "d0", age=120, nonces=range(3)))
        chain.others_nonce = {DEAD: 8}  # its nonce 7 was used by something never stored
        assert await confirmer_for(chain, store, adopt_after=60).step() == 0
        assert await statuses(store) == [Status.PENDING] * 3  # for the survivor's lanes
        assert chain.broadcast == []
    finally:
        await store.close()


async def test_a_lost_next_nonce_is_sent_again_but_never_while_its_send_is_held(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "r.db", owner="me")
    try:
        chain = ScriptedChain()
        await store.add_messages([message(n) for n in range(3)])
        await store.claim(65001, 65002, max_nonce=2, now=10**10, limit=3, lease_seconds=60)
        ids = [message(n).id for n in range(3)]
        tx = TxRow(65002, RELAYER, 0, "0x" + "cd" * 32, b"raw", 2, 1, 900_000, "processBatch",
                   sent_at=time.time() - 30, message_ids=ids)  # fmt: skip
        await store.submit(tx)
        confirmer = confirmer_for(chain, store, adopt_after=None)
        confirmer.sender.holding = True  # stored by send_held, maybe not broadcast yet
        assert await confirmer.step() == 0
        assert chain.broadcast == []
        confirmer.sender.holding = False
        confirmer.sender.released_at = time.time()  # the hold's broadcast just ended
        assert await confirmer.step() == 0
        assert chain.broadcast == []  # its age counts from the release
        confirmer.sender.released_at = 0.0
        assert await confirmer.step() == 0
        assert chain.broadcast == [b"raw"]  # the node took it again: it had lost it
        assert await confirmer.step() == 0
        assert chain.broadcast == [b"raw"]  # once per block time
    finally:
        await store.close()
