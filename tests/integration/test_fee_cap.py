"""The fee cap: while chain b's base fee is above its max_fee_per_gas nothing is sent
there (the relayer says why and sets stbridge_fee_above_cap); once the fee falls under
the cap the transfer is delivered, in a transaction whose max fee keeps to the cap."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from relayer.config import parse_config
from relayer.daemon.relayer import Relayer
from relayer.daemon.waiting import explain
from relayer.store import Status, open_store, relayer_owner
from tests.integration.system import Chains, System, send_many, wait_delivered

pytestmark = [pytest.mark.integration, pytest.mark.anvil]

CAP_GWEI = 5
HIGH = 60 * 10**9  # the base fee the test holds chain b at, above the cap


@contextlib.asynccontextmanager
async def capped_relayer(system: System, store: Path) -> AsyncIterator[Relayer]:
    raw = copy.deepcopy(system.raw)
    raw["relayer"]["store"] = f"sqlite:///{store}"
    for chain in raw["chains"]:
        if chain["name"] == "b":
            chain["max_fee_per_gas"] = CAP_GWEI
    config = parse_config(raw)
    opened = await open_store(
        config.relayer.store, owner=relayer_owner(config.accounts.relayer.address)
    )
    relay = Relayer(config, system.deployment, opened)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(relay.started.wait(), 30)
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await opened.close()


async def _hold_base_fee(chains: Chains, stop: asyncio.Event) -> None:
    """Every next block of chain b gets the high base fee, until ``stop``."""
    while not stop.is_set():
        await chains.rpcs["b"].request("anvil_setNextBlockBaseFeePerGas", [hex(HIGH)])
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("system", ["anvil"], indirect=True)
async def test_sends_wait_while_the_base_fee_is_above_the_cap(
    system: System, tmp_path: Path
) -> None:
    chains = Chains(system)
    relayer_address = system.config.accounts.relayer.address
    stop = asyncio.Event()
    holder = asyncio.create_task(_hold_base_fee(chains, stop))
    try:
        b = chains.rpcs["b"]
        await b.request("anvil_mine", ["0x2"])  # the high base fee is the latest block's
        async with capped_relayer(system, tmp_path / "r.db") as relay:
            sender = relay.parts.senders["b"]
            registry = relay.metrics.registry
            nonce_before = await b.nonce(relayer_address, "pending")
            investors = system.config.accounts.investors
            ids = await send_many(chains, "a", "b", [(investors[0], investors[1].address, 10**15)])

            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if sender.waiting_reason is not None:
                    break
                await asyncio.sleep(0.1)
            assert sender.waiting_reason is not None, "the sender never waited for the fee"
            assert sender.waiting_reason.startswith("fee above cap on b")
            assert f"max_fee_per_gas {CAP_GWEI} gwei" in sender.waiting_reason
            assert registry.get_sample_value("stbridge_fee_above_cap", {"chain": "b"}) == 1
            waits = registry.get_sample_value("stbridge_fee_cap_waits_total", {"chain": "b"})
            assert waits == 1
            await asyncio.sleep(3)  # blocks go by at the high fee: still nothing sent
            assert await b.nonce(relayer_address, "pending") == nonce_before
            row = await relay.store.message(ids[0])
            assert row is not None and row.status == Status.PENDING
            assert await relay.store.pending_txs(65002) == []
            why = await explain(relay.store, row, validators=[], threshold=0, chain_names={})
            assert why.startswith("fee above cap on b"), why  # what `messages show` says

            stop.set()  # empty blocks: the base fee falls 12.5% a block, under the cap
            await holder
            await wait_delivered(relay.store, ids, 120)
            assert sender.waiting_reason is None
            assert registry.get_sample_value("stbridge_fee_above_cap", {"chain": "b"}) == 0
            row = await relay.store.message(ids[0])
            assert row is not None and row.deliver_tx
            tx = await b.request("eth_getTransactionByHash", [row.deliver_tx])
            assert int(tx["maxFeePerGas"], 16) <= CAP_GWEI * 10**9
            # the indexer may see the Process log before the confirmer has its receipt final
            # (where the gas is counted): wait for the count rather than race it
            labels = {"origin": "a", "destination": "b"}
            deadline = time.monotonic() + 120
            gas = registry.get_sample_value("stbridge_gas_spent_total", labels)
            while gas is None and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                gas = registry.get_sample_value("stbridge_gas_spent_total", labels)
            assert gas is not None and gas > 21_000
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await holder
        await chains.close()
