"""A stranger's messages cost the relayer nothing unless its policy says otherwise, and
a bad message never holds up the honest ones sent beside it (real chains)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from relayer.chain import contracts
from relayer.chain.wallet import Sent
from relayer.daemon.policy import SenderBudget
from relayer.daemon.relayer import BUDGET_STATE
from relayer.store import MessageRow, Status, Store
from relayer.store.sqlite import SqliteStore
from tests.fixtures.stranger.support import Stranger, stranger
from tests.integration.system import Chains, System, running_relayer, send_many, wait_delivered

pytestmark = pytest.mark.integration


async def dispatched_ids(stranger_: Stranger, sent: Sequence[Sent]) -> list[bytes]:
    """The message ids of the stranger's Dispatch logs, in order."""
    mailbox = contracts.load("Mailbox")
    ids: list[bytes] = []
    for receipt in await stranger_.origin.wait(list(sent)):
        for event, values, _ in contracts.decode_logs(mailbox, receipt["logs"]):
            if event.name == "Dispatch":
                ids.append(bytes(values["id"]))
    return ids


async def rows_when(
    store: Store, ids: Sequence[bytes], wanted: set[Status], timeout: float = 60
) -> list[MessageRow]:
    """The rows of ``ids`` once each has one of the ``wanted`` statuses."""
    deadline = time.monotonic() + timeout
    rows: list[MessageRow | None] = []
    while time.monotonic() < deadline:
        rows = [await store.message(i) for i in ids]
        if all(r is not None and r.status in wanted for r in rows):
            return [r for r in rows if r is not None]
        await asyncio.sleep(0.2)
    shown = [(r.nonce, r.status.value, r.last_error) if r else None for r in rows]
    raise AssertionError(f"not all {sorted(wanted)} in {timeout}s: {shown}")


class Honest:
    """Bridge transfers from an investor whose approval is in place, sent without waiting,
    so they land in the same blocks as the stranger's dispatches."""

    def __init__(self, chains: Chains, system: System) -> None:
        investors = system.config.accounts.investors
        self.wallet = chains.wallet("a", investors[0])
        self.recipient = investors[1].address
        self.token = system.token("a")
        self.bridge = system.deployment.chain("a").address("TokenBridge")
        self.to = system.config.chain("b").chain_id
        self.sent: list[Sent] = []

    async def approve(self) -> None:
        fn = contracts.load("SecurityToken").fn("approve")
        await self.wallet.transact(self.token, fn, self.bridge, 2**255)

    async def send(self, amount: int) -> None:
        data = (
            contracts.load("TokenBridge")
            .fn("send")
            .encode(self.token, self.to, self.recipient, amount)
        )
        self.sent.append(await self.wallet.send(self.bridge, data, what="send", gas=400_000))

    async def ids(self) -> list[bytes]:
        bridge_abi = contracts.load("TokenBridge")
        ids = []
        for receipt in await self.wallet.wait(self.sent):
            for event, values, _ in contracts.decode_logs(bridge_abi, receipt["logs"]):
                if event.name == "TransferSent":
                    ids.append(bytes(values["id"]))
        return ids


def carried(store_path: Path, ids: Sequence[bytes]) -> int:
    """How many of ``ids`` any transaction the relayer signed carries."""
    db = sqlite3.connect(store_path)
    try:
        return sum(
            int(
                db.execute(
                    "SELECT count(*) FROM tx_messages WHERE message_id = ?", (i,)
                ).fetchone()[0]
            )
            for i in ids
        )
    finally:
        db.close()


async def test_default_policy_pays_nothing_for_a_stranger(system: System, tmp_path: Path) -> None:
    """Burners and never-valid messages are ignored with the reason; no transaction of
    the relayer carries them; honest transfers in the same blocks keep their latency."""
    chains = Chains(system)
    store_path = tmp_path / "r.db"
    try:
        outsider = await stranger(
            system.config, system.deployment, chains.rpcs, "a", "b", n=1
        )  # fmt: skip
        transfers = Honest(chains, system)
        await transfers.approve()
        async with running_relayer(system, store_path) as relay:
            sent = []
            for i in range(3):
                sent.append(await outsider.burn())
                await transfers.send(10**15 + i)
            sent += [await outsider.to_account(), await outsider.to_bridge()]
            sent.append(await outsider.nowhere())
            honest = await transfers.ids()
            strange = await dispatched_ids(outsider, sent)
            assert len(strange) == 6
            await wait_delivered(relay.store, honest, 60)
            rows = await rows_when(relay.store, strange, {Status.IGNORED})
            burner_reason = rows[0].last_error or ""
            assert "is not one of this deployment's applications" in burner_reason
            assert outsider.origin.address.lower() in burner_reason.lower()
            assert "(delivery policy: deployment)" in burner_reason
            assert "424242 is not a chain this relayer serves" in (rows[5].last_error or "")
            listed = await relay.store.messages(status=Status.IGNORED, limit=100)
            assert {r.id for r in rows} <= {r.id for r in listed}
            latencies = []
            for message_id in honest:
                row = await relay.store.message(message_id)
                assert row is not None and row.delivered_at is not None
                assert row.attempts == 0
                latencies.append(row.delivered_at - row.dispatched_at)
            assert max(latencies) < 10, latencies
            await asyncio.sleep(1.0)  # a few more rounds: still nothing sent for them
            later = [await relay.store.message(i) for i in strange]
            assert all(r is not None and r.status == Status.IGNORED for r in later)
        assert carried(store_path, strange) == 0
        assert carried(store_path, honest) >= len(honest)
        # and on chain: the destination's mailbox never saw them
        mailbox_b = system.deployment.chain("b").address("Mailbox")
        a_id = system.config.chain("a").chain_id
        reader = chains.wallet("b", system.config.accounts.deployer)
        for row in rows:
            assert not await reader.call(
                mailbox_b, contracts.load("Mailbox").fn("delivered"), a_id, row.nonce
            )
    finally:
        await chains.close()


async def test_widened_policy_takes_ignored_messages_back(system: System, tmp_path: Path) -> None:
    """Ignored under the default policy; a restart with an allow-list carries them (and
    the mailbox refuses the one the bridge does not know: refused, not retried)."""
    chains = Chains(system)
    store_path = tmp_path / "r.db"
    try:
        outsider = await stranger(system.config, system.deployment, chains.rpcs, "a", "b", n=2)
        async with running_relayer(system, store_path) as relay:
            sent = [await outsider.to_bridge()]
            [message_id] = await dispatched_ids(outsider, sent)
            await rows_when(relay.store, [message_id], {Status.IGNORED})
        allow = [{"lane": "a->b", "sender": outsider.origin.address, "recipient": outsider.bridge}]
        async with running_relayer(
            system, store_path, policy={"mode": "allow-list", "allow": allow}
        ) as relay:
            [row] = await rows_when(relay.store, [message_id], {Status.REFUSED})
            assert "UnknownSender" in (row.last_error or "")
            assert row.attempts == 1
            await asyncio.sleep(2.0)
            again = await relay.store.message(message_id)
            assert again is not None and again.status == Status.REFUSED and again.attempts == 1
            assert await relay.store.retry_now(message_id)  # an operator forces one more try
            [row] = await rows_when(relay.store, [message_id], {Status.REFUSED})
            assert row.attempts == 2
        assert carried(store_path, [message_id]) == 2
    finally:
        await chains.close()


async def test_open_policy_poisoned_batch_delivers_honest_in_the_same_round(
    system: System, tmp_path: Path
) -> None:
    """Open mode: burners interleaved with honest transfers would sink a batch sent at
    the predicted gas; the lane finds them, the honest ones go at their first attempt,
    the burners fail alone, the never-valid ones are refused and not retried."""
    chains = Chains(system)
    investors = system.config.accounts.investors
    try:
        outsider = await stranger(system.config, system.deployment, chains.rpcs, "a", "b", n=3)
        policy = {"mode": "open", "open_gas_per_sender_per_hour": 10**10}
        async with running_relayer(system, tmp_path / "r.db", policy=policy) as relay:
            # one honest transfer first: the lane's gas model then predicts, not estimates
            warm = await send_many(chains, "a", "b", [(investors[0], investors[1].address, 7)])
            await wait_delivered(relay.store, warm, 60)
            transfers = Honest(chains, system)  # send_many approved it
            sent: list[Sent] = []
            for i in range(6):
                sent.append(await outsider.burn())
                if i % 2 == 0:
                    await transfers.send(10**15 + i)
            sent += [await outsider.to_account(), await outsider.to_bridge()]
            await transfers.send(10**15 + 99)
            honest = await transfers.ids()
            strange = await dispatched_ids(outsider, sent)
            await wait_delivered(relay.store, honest, 60)
            for message_id in honest:
                row = await relay.store.message(message_id)
                assert row is not None and row.attempts == 0, (row.nonce, row.last_error)
            burners = await rows_when(relay.store, strange[:6], {Status.FAILED})
            assert all(r.attempts >= 1 and r.last_error for r in burners)
            refused = await rows_when(relay.store, strange[6:], {Status.REFUSED})
            assert "InvalidRecipient" in (refused[0].last_error or "")
            assert "UnknownSender" in (refused[1].last_error or "")
            await asyncio.sleep(6.0)  # past the first backoff: refused ones stay put
            for row in refused:
                now = await relay.store.message(row.id)
                assert now is not None and now.status == Status.REFUSED and now.attempts == 1
        # the hour's charges outlive the process: a restart goes on counting the same hour
        store = SqliteStore(tmp_path / "r.db")
        try:
            saved = await store.get_state(BUDGET_STATE)
        finally:
            await store.close()
        assert saved is not None
        again = SenderBudget(10**10)
        again.restore(saved)
        rows = json.loads(saved)["spent"]  # the stranger's sending contracts, each its hour
        assert sum(len(charges) for _o, _s, charges in rows) >= 6  # the burners at least
        for origin, sender, charges in rows:
            assert origin == system.config.chain("a").chain_id
            assert again.spent(origin, bytes.fromhex(sender)) == sum(g for _t, g in charges) > 0
    finally:
        await chains.close()
