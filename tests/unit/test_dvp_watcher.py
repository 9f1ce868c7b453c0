"""The DvP watcher against scripted chains: what it claims, refunds, warns of, and never
sends twice, with its state in a real store (so a new watcher picks up where one stopped)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode

from relayer.chain import contracts
from relayer.chain.rpc import CallReverted
from relayer.dvp.watcher import DvpWatcher, action_purpose
from relayer.store import LockState, Store, TxRow, TxStatus
from relayer.store.sqlite import SqliteStore
from relayer.telemetry.metrics import Metrics

TIMELOCK = {"a": "0x" + "aa" * 20, "b": "0x" + "bb" * 20}
IDS = {"a": 65001, "b": 65002}
SELLER = "0x" + "51" * 20
BUYER = "0x" + "b1" * 20
SECRET = b"\x42" * 32
HASHLOCK = hashlib.sha256(SECRET).digest()
HTLC = contracts.load("HashedTimelock")


@dataclass
class Header:
    timestamp: int


@dataclass
class ScriptedChain:
    """A chain's clock and its timelock's lock states (1 open, 2 claimed, 3 refunded)."""

    now: int = 1_000
    states: dict[bytes, int] = field(default_factory=dict)

    async def block(self, _tag: Any) -> Header:
        return Header(self.now)

    async def call(self, _to: str, data: bytes, _block: Any = "latest") -> bytes:
        lock_id = data[4:36]
        fields = ("0x" + "00" * 20, 0, self.states.get(lock_id, 0), False,
                  "0x" + "00" * 20, "0x" + "00" * 20, b"\x00" * 32, 0)  # fmt: skip
        return encode(HTLC.fn("getLock").outputs, [fields])


@dataclass
class ScriptedSender:
    store: Store
    chain_id: int
    refuse: str | None = None
    gate: asyncio.Event | None = None  # when set up, a send waits for it before storing
    at_gate: asyncio.Event = field(default_factory=asyncio.Event)  # a send reached the gate
    sent: list[tuple[str, bytes]] = field(default_factory=list)
    address: str = "0x" + "ee" * 20

    async def estimate(self, _to: str, _data: bytes, value: int = 0) -> int:
        if self.refuse is not None:
            revert = HTLC.fn("claim").selector  # any 4 bytes the error table does not know
            raise CallReverted(self.refuse, data="0x" + revert.hex())
        return 90_000

    async def send(self, *, to: str, data: bytes, gas: int, purpose: str, **_: Any) -> TxRow:
        if self.gate is not None:
            self.at_gate.set()
            await self.gate.wait()
        row = TxRow(
            chain_id=self.chain_id, sender=self.address, nonce=len(self.sent),
            hash="0x" + f"{self.chain_id:08x}{len(self.sent):056x}", raw=b"raw", max_fee=1,
            priority_fee=1, gas_limit=gas, purpose=purpose, sent_at=time.time(),
        )  # fmt: skip
        await self.store.add_tx(row)
        self.sent.append((purpose, data))
        return row


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = SqliteStore(tmp_path / "relayer.db")
    yield s
    await s.close()


class World:
    """Two scripted chains, their senders, and a watcher factory sharing one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.chains = {"a": ScriptedChain(), "b": ScriptedChain()}
        self.senders = {n: ScriptedSender(store, IDS[n]) for n in IDS}
        self.metrics = Metrics()

    def watcher(self, *, refund: bool = True, warn: int = 30) -> tuple[DvpWatcher, dict[str, Any]]:
        w = DvpWatcher(
            store=self.store, rpcs=self.chains, senders=self.senders,  # type: ignore[arg-type]
            refund_expired=refund, warn_seconds=warn, poll_interval=0.05, metrics=self.metrics,
        )  # fmt: skip
        sinks = {n: w.watch(n, IDS[n], TIMELOCK[n]) for n in IDS}
        return w, sinks

    def sent(self, chain: str) -> list[str]:
        return [purpose for purpose, _data in self.senders[chain].sent]


def log(chain: str, name: str, lock_id: bytes, block: int, **values: Any) -> dict[str, Any]:
    """A HashedTimelock log as eth_getLogs returns it."""
    event = HTLC.event(name)
    data = encode([t for _n, t in event.data], [values[n] for n, _t in event.data])
    return {
        "address": TIMELOCK[chain], "blockNumber": hex(block), "logIndex": "0x0",
        "transactionHash": "0x" + f"{block:064x}", "data": "0x" + data.hex(),
        "topics": ["0x" + event.topic.hex(), "0x" + lock_id.hex(), "0x" + HASHLOCK.hex()],
    }  # fmt: skip


def locked(chain: str, lock_id: bytes, *, sender: str, receiver: str, expiry: int) -> Any:
    return log(chain, "Locked", lock_id, 10, token="0x" + "70" * 20, sender=sender,
               receiver=receiver, amount=5, expiry=expiry)  # fmt: skip


PAYMENT, ASSET = b"\x0b" * 32, b"\x0a" * 32


async def trade(world: World, sinks: dict[str, Any], *, t_a: int = 1_100, t_b: int = 1_200) -> None:
    """The two legs of a trade, both open."""
    await sinks["b"]([locked("b", PAYMENT, sender=BUYER, receiver=SELLER, expiry=t_b)], {10: 990})
    await sinks["a"]([locked("a", ASSET, sender=SELLER, receiver=BUYER, expiry=t_a)], {10: 995})
    world.chains["b"].states[PAYMENT] = 1
    world.chains["a"].states[ASSET] = 1


async def reveal(world: World, sinks: dict[str, Any], at: int = 1_050) -> None:
    """The buyer claims the asset leg on a: the secret is public."""
    world.chains["a"].states[ASSET] = 2
    await sinks["a"]([log("a", "Claimed", ASSET, 11, preimage=SECRET)], {11: at})


async def test_a_revealed_secret_is_carried_to_the_other_leg_once(store: Store) -> None:
    world = World(store)
    watcher, sinks = world.watcher()
    await trade(world, sinks)
    assert await watcher.step() == 0  # nothing revealed yet
    await reveal(world, sinks)
    assert await watcher.step() == 1
    [(purpose, data)] = world.senders["b"].sent
    assert purpose == action_purpose("claim", PAYMENT)
    assert data == HTLC.fn("claim").encode(PAYMENT, SECRET)
    assert await watcher.step() == 0  # in flight: the confirmer follows it
    assert isinstance(store, SqliteStore)
    store._db.execute("UPDATE htlc_locks SET next_attempt_at = 0")  # backoff over, still pending
    assert await watcher.step() == 0
    again, _sinks = world.watcher()  # a restarted relayer: the store says it all
    assert await again.step() == 0
    assert world.sent("a") == []


async def test_two_relayers_sharing_a_store_send_one_claim(store: Store) -> None:
    """Both see the secret before either has stored its claim: the store's reservation,
    not the pending transactions, keeps the second one from sending too."""
    world = World(store)
    one, sinks = world.watcher()
    two, _sinks = world.watcher()
    await trade(world, sinks)
    await reveal(world, sinks)
    sender = world.senders["b"]
    sender.gate = gate = asyncio.Event()
    first = asyncio.create_task(one.step())
    async with asyncio.timeout(60):  # one is sending; its transaction is not stored yet
        await sender.at_gate.wait()
    sender.at_gate.clear()
    second = asyncio.create_task(two.step())
    arrived = asyncio.create_task(sender.at_gate.wait())  # two sending as well stops here
    await asyncio.wait({second, arrived}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    arrived.cancel()
    assert not sender.at_gate.is_set(), "the second relayer sends the claim as well"
    assert second.done() and second.result() == 0
    gate.set()
    assert await first == 1
    assert world.sent("b") == [action_purpose("claim", PAYMENT)]


async def test_the_claim_is_recorded_as_ours_and_timed(store: Store) -> None:
    world = World(store)
    watcher, sinks = world.watcher()
    await trade(world, sinks)
    await reveal(world, sinks, at=1_050)
    await watcher.step()
    world.chains["b"].states[PAYMENT] = 2
    await sinks["b"]([log("b", "Claimed", PAYMENT, 12, preimage=SECRET)], {12: 1_053})
    row = await store.htlc_lock(IDS["b"], PAYMENT)
    assert row is not None and row.state == LockState.CLAIMED and row.action == "claim"
    assert world.metrics.dvp_settled.labels("b")._value.get() == 1
    assert world.metrics.dvp_settlement.labels("b")._sum.get() == 3.0
    [pending] = await store.pending_txs(IDS["b"])
    await store.set_tx_status(pending.hash, TxStatus.MINED, 12)
    assert await watcher.step() == 0  # nothing open any more


async def test_a_lock_someone_else_settled_is_left_alone(store: Store) -> None:
    world = World(store)
    watcher, sinks = world.watcher()
    await trade(world, sinks)
    await reveal(world, sinks)
    world.chains["b"].states[PAYMENT] = 2  # the seller claimed it herself; no event seen yet
    assert await watcher.step() == 0
    assert world.sent("b") == []


async def test_expired_locks_are_refunded_only_when_configured(store: Store) -> None:
    world = World(store)
    quiet, sinks = world.watcher(refund=False)
    await trade(world, sinks)
    world.chains["a"].now = world.chains["b"].now = 1_200
    assert await quiet.step() == 0
    refunding, _sinks = world.watcher(refund=True)
    assert await refunding.step() == 2
    assert world.sent("a") == [action_purpose("refund", ASSET)]
    assert world.sent("b") == [action_purpose("refund", PAYMENT)]
    assert world.senders["b"].sent[0][1] == HTLC.fn("refund").encode(PAYMENT)


async def test_a_secret_revealed_after_expiry_is_not_used(store: Store) -> None:
    world = World(store)
    watcher, sinks = world.watcher(refund=False)
    await trade(world, sinks, t_b=1_060)
    world.chains["b"].now = 1_060
    await reveal(world, sinks)
    assert await watcher.step() == 0  # claiming would revert: the payment leg expired


async def test_a_leg_nearing_expiry_unclaimed_is_warned_of(store: Store) -> None:
    world = World(store)
    watcher, sinks = world.watcher(warn=30)
    await trade(world, sinks, t_a=1_100, t_b=1_200)
    await watcher.step()
    assert world.metrics.dvp_expiring.labels("a")._value.get() == 0
    world.chains["a"].now = world.chains["b"].now = 1_075  # 25 s left on a
    await watcher.step()
    assert world.metrics.dvp_expiring.labels("a")._value.get() == 1
    assert world.metrics.dvp_expiring.labels("b")._value.get() == 0
    assert world.metrics.dvp_open.labels("b")._value.get() == 1


async def test_a_refused_claim_is_recorded_and_retried_later(store: Store) -> None:
    world = World(store)
    watcher, sinks = world.watcher()
    await trade(world, sinks)
    await reveal(world, sinks)
    world.senders["b"].refuse = "execution reverted"
    assert await watcher.step() == 0
    row = await store.htlc_lock(IDS["b"], PAYMENT)
    assert row is not None and row.attempts == 1 and row.last_error
    assert row.next_attempt_at > time.time() + 3  # backing off
    world.senders["b"].refuse = None
    assert await watcher.step() == 0
    assert world.sent("b") == []
