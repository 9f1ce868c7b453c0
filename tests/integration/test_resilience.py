"""The relayer keeps every promise under faults (anvil): crashes, reorgs, a flaky node,
an empty gas tank, a stuck transaction."""

from __future__ import annotations

import asyncio
import random
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chains.anvil import find_anvil
from relayer.chain import contracts
from relayer.config import parse_config
from relayer.store import MessageRow, Status, TxRow
from relayer.store.sqlite import SqliteStore
from tests.faultproxy import FaultProxy, Faults
from tests.integration.system import (
    Chains,
    System,
    drained,
    random_amounts,
    relayer_process,
    running_relayer,
    send_many,
    start_system,
    stop_system,
    wait_delivered,
)
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.anvil]


@pytest.fixture(scope="module")
def anvil_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """A devnet of its own: these tests reorganize and starve its chains."""
    if find_anvil() is None:
        pytest.skip("anvil is not installed here (npm ci installs it); anvil tests skipped")
    built = start_system("anvil", tmp_path_factory.mktemp("resilience"))
    try:
        yield built
    finally:
        stop_system(built)


def with_chain(system: System, name: str, **changes: Any) -> System:
    """The same system, with a chain's config changed (confirmations, rpc_url...)."""
    raw = {**system.raw, "chains": [dict(c) for c in system.raw["chains"]]}
    for chain in raw["chains"]:
        if chain["name"] == name:
            chain.update(changes)
    return System(system.backend, parse_config(raw), raw, system.home, system.deployment)


async def rpc(chains: Chains, chain: str, method: str, *params: Any) -> Any:
    return await chains.rpcs[chain].request(method, list(params))


async def process_events(chains: Chains, system: System, chain: str) -> Counter[bytes]:
    """How many times each message id was processed on ``chain``."""
    mailbox = contracts.load("Mailbox")
    logs = await chains.rpcs[chain].logs(
        system.deployment.chain(chain).address("Mailbox"),
        system.deployment.chain(chain).start_block,
        await chains.rpcs[chain].block_number(),
        ["0x" + mailbox.event("Process").topic.hex()],
    )
    return Counter(bytes(mailbox.event("Process").decode(log)["id"]) for log in logs)


async def dispatch_block(chains: Chains, system: System, message_id: bytes) -> int:
    """The block of the Dispatch log of ``message_id`` on chain a."""
    event = contracts.load("Mailbox").event("Dispatch")
    logs = await chains.rpcs["a"].logs(
        system.deployment.chain("a").address("Mailbox"),
        system.deployment.chain("a").start_block,
        await chains.rpcs["a"].block_number(),
        ["0x" + event.topic.hex(), "0x" + message_id.hex()],
    )
    assert len(logs) == 1
    return int(logs[0]["blockNumber"], 16)


async def test_kill_nine_at_random_moments_under_load(anvil_system: System, tmp_path: Path) -> None:
    system = anvil_system
    chains = Chains(system)
    investors = system.config.accounts.investors
    people = [k.address for k in investors]
    store_path = tmp_path / "relayer.db"
    config_file = system.config_file(tmp_path / "relayer.toml", store_path)
    log = tmp_path / "relayer.log"
    rng = random.Random(7)
    try:
        b0 = {p: await chains.balance("b", p) for p in people}
        amounts = random_amounts(240, seed=11)
        transfers = [(investors[i % 3], people[(i + 1) % 3], a) for i, a in enumerate(amounts)]
        ids: list[bytes] = []
        for round_ in range(4):
            chunk = transfers[round_ * 60 : (round_ + 1) * 60]
            with relayer_process(system, config_file, log) as proc:
                sending = asyncio.create_task(send_many(chains, "a", "b", chunk))
                await asyncio.sleep(rng.uniform(1.0, 4.0))
                proc.send_signal(signal.SIGKILL)  # mid-run, often with batches in flight
                proc.wait(10)
                ids += await sending
        with relayer_process(system, config_file, log):
            store = SqliteStore(store_path)
            try:
                await wait_delivered(store, ids, 240)
            finally:
                await store.close()
        for p in people:
            got = sum(a for _k, r, a in transfers if r == p)
            assert await chains.balance("b", p) == b0[p] + got
        processed = await process_events(chains, system, "b")
        assert all(processed[i] == 1 for i in ids), "a message was processed twice or never"
    finally:
        await chains.close()


async def test_reorg_inside_the_window_delivers_nothing_orphaned(
    anvil_system: System, tmp_path: Path
) -> None:
    """A transfer whose block is orphaned before it was final is never delivered; the
    one that replaces it at the same nonce is; no token is lost."""
    system = with_chain(anvil_system, "a", confirmations=12)  # 3 s of blocks
    chains = Chains(system)
    alice, bob = system.config.accounts.investors[0], system.config.accounts.investors[1]
    try:
        a_before = await chains.balance("a", alice.address)
        b_before = await chains.balance("b", bob.address)
        async with running_relayer(system, tmp_path / "r.db") as relay:
            [orphan] = await send_many(chains, "a", "b", [(alice, bob.address, 111)])
            dispatched_in = await dispatch_block(chains, system, orphan)
            depth = await chains.rpcs["a"].block_number() - dispatched_in + 1
            assert depth < 12, "the dispatch was already final before the reorg"
            await rpc(chains, "a", "anvil_reorg", depth, [])  # anvil drops the orphaned txs
            [kept] = await send_many(chains, "a", "b", [(alice, bob.address, 222)])
            assert kept != orphan
            await wait_delivered(relay.store, [kept], 90)
            await asyncio.sleep(2)
            assert await relay.store.message(orphan) is None, "an orphaned message was indexed"
            processed = await process_events(chains, system, "b")
            assert processed[kept] == 1
            assert orphan not in processed
        assert await chains.balance("a", alice.address) == a_before - 222
        assert await chains.balance("b", bob.address) == b_before + 222
    finally:
        await chains.close()


async def test_reorg_deeper_than_the_window_halts_the_lane(
    anvil_system: System, tmp_path: Path
) -> None:
    system = with_chain(anvil_system, "a", confirmations=1)
    chains = Chains(system)
    alice, bob = system.config.accounts.investors[0], system.config.accounts.investors[1]
    try:
        async with running_relayer(system, tmp_path / "r.db") as relay:
            indexer = relay.parts.indexers["a"]

            async def caught_up() -> bool:  # the cursor passed a few empty blocks
                state = indexer.state
                return state.cursor >= state.head - 1 and state.cursor > 3

            await eventually(caught_up, "the indexer of a caught up")
            await asyncio.sleep(1.0)
            await rpc(chains, "a", "anvil_reorg", 4, [])  # 4 blocks, below 1 confirmation
            [late] = await send_many(chains, "a", "b", [(alice, bob.address, 5)])

            async def halted() -> bool:
                return indexer.state.halted is not None

            await eventually(halted, "the indexer of a halted")
            assert indexer.state.halted is not None
            assert "reorganized below block" in indexer.state.halted
            assert "lanes from a halted" in indexer.state.halted
            reasons = relay.not_ready()
            assert any("reorganized below block" in r for r in reasons)
            assert relay.telemetry is not None
            async with aiohttp.ClientSession() as http:
                url = f"http://127.0.0.1:{relay.telemetry.port}"
                async with http.get(f"{url}/readyz") as response:
                    assert response.status == 503
                    assert "reorganized" in await response.text()
                halted_gauge = 'stbridge_lane_halted{destination="b",origin="a"} 1.0'

                async def gauge_shows_the_halt() -> bool:
                    async with http.get(f"{url}/metrics") as response:
                        return halted_gauge in await response.text()

                await eventually(gauge_shows_the_halt, "the lane_halted gauge at 1")
            await asyncio.sleep(2)
            assert await relay.store.message(late) is None  # not guessed through
    finally:
        await chains.close()


async def test_flaky_nodes_lose_nothing_and_show_their_errors(
    anvil_system: System, tmp_path: Path
) -> None:
    faults = {
        name: Faults(
            drop=0.05,
            delay=0.1,
            delay_range=(0.05, 0.4),
            http429=0.05,
            http5xx=0.05,
            truncate=0.03,
            seed=seed,
        )
        for seed, name in enumerate(("a", "b"))
    }
    proxies = {n: FaultProxy(anvil_system.config.chain(n).rpc_url, faults[n]) for n in faults}
    for proxy in proxies.values():
        await proxy.start()
    system = with_chain(
        with_chain(anvil_system, "a", rpc_url=proxies["a"].url), "b", rpc_url=proxies["b"].url
    )
    chains = Chains(anvil_system)  # the test itself talks to the nodes directly
    investors = system.config.accounts.investors
    people = [k.address for k in investors]
    try:
        out = [(investors[i % 3], people[(i + 1) % 3], 10**15 + i) for i in range(60)]
        back = [(investors[i % 3], people[(i + 2) % 3], 10**12 + i) for i in range(20)]
        async with running_relayer(system, tmp_path / "r.db") as relay:
            await drained(relay)
            a0 = {p: await chains.balance("a", p) for p in people}
            b0 = {p: await chains.balance("b", p) for p in people}
            ids = await send_many(chains, "a", "b", out)
            await wait_delivered(relay.store, ids, 180)
            ids_back = await send_many(chains, "b", "a", back)
            await wait_delivered(relay.store, ids_back, 180)
            text = relay.metrics.render().decode()
        for p in people:
            got_b = sum(a for _k, r, a in out if r == p) - sum(
                a for k, _r, a in back if k.address == p
            )
            got_a = sum(a for _k, r, a in back if r == p) - sum(
                a for k, _r, a in out if k.address == p
            )
            assert await chains.balance("b", p) == b0[p] + got_b
            assert await chains.balance("a", p) == a0[p] + got_a
        injected = faults["a"].counts + faults["b"].counts
        for kind in ("drop", "429", "5xx", "truncate", "delay"):
            assert injected[kind] > 0, f"no {kind} fault was injected"
        assert 'stbridge_rpc_errors_total{chain="a"' in text
        assert 'kind="http_429"' in text
        assert 'kind="connection"' in text
    finally:
        await chains.close()
        for proxy in proxies.values():
            await proxy.stop()


async def test_destination_key_out_of_gas_money_waits_and_resumes(
    anvil_system: System, tmp_path: Path
) -> None:
    system = anvil_system
    chains = Chains(system)
    relayer = system.config.accounts.relayer.address
    alice, bob = system.config.accounts.investors[0], system.config.accounts.investors[2]
    try:
        async with running_relayer(system, tmp_path / "r.db") as relay:
            await drained(relay)
            before = await chains.balance("b", bob.address)
            await rpc(chains, "b", "anvil_setBalance", relayer, hex(10**12))  # dust
            [mid] = await send_many(chains, "a", "b", [(alice, bob.address, 9)])

            async def underfunded() -> list[str]:
                return [r for r in relay.not_ready() if "fund it" in r]

            reasons = await eventually(underfunded, "the relayer reporting its key underfunded")
            assert any(f"relayer key {relayer}" in r for r in reasons), reasons

            async def indexed() -> MessageRow | None:
                return await relay.store.message(mid)

            row = await eventually(indexed, "the message indexed")
            assert row.status != Status.DELIVERED
            assert await chains.balance("b", bob.address) == before
            await rpc(chains, "b", "anvil_setBalance", relayer, hex(100 * 10**18))
            await wait_delivered(relay.store, [mid], 90)
        assert await chains.balance("b", bob.address) == before + 9
    finally:
        await rpc(chains, "b", "anvil_setBalance", relayer, hex(10_000 * 10**18))
        await chains.close()


async def test_stuck_transaction_is_replaced_with_a_higher_fee(
    anvil_system: System, tmp_path: Path
) -> None:
    """Mining stops on b while a delivery waits in the pool: the relayer replaces it with
    fees at least 10% higher, and the replacement is what gets mined."""
    system = anvil_system
    chains = Chains(system)
    alice, bob = system.config.accounts.investors[1], system.config.accounts.investors[2]
    store_path = tmp_path / "r.db"
    try:
        async with running_relayer(system, store_path, stuck_after=2) as relay:
            await drained(relay)
            before = await chains.balance("b", bob.address)
            await rpc(chains, "b", "evm_setIntervalMining", 0)
            await rpc(chains, "b", "evm_setAutomine", False)
            [mid] = await send_many(chains, "a", "b", [(alice, bob.address, 77)])

            async def with_a_replacement() -> list[TxRow] | None:
                txs = await relay.store.pending_txs(system.config.chain("b").chain_id)
                return txs if any(t.replaces for t in txs) else None

            replaced = await eventually(with_a_replacement, "a replacement sent")
            original = next(t for t in replaced if t.replaces is None)
            bump = next(t for t in replaced if t.replaces == original.hash)
            assert bump.nonce == original.nonce
            assert bump.max_fee * 10 >= original.max_fee * 11
            assert bump.priority_fee * 10 >= original.priority_fee * 11
            await rpc(chains, "b", "evm_setIntervalMining", 1)
            await wait_delivered(relay.store, [mid], 90)
            row = await relay.store.message(mid)
            assert row is not None
            assert row.deliver_tx is not None
            receipt = await chains.rpcs["b"].receipt(row.deliver_tx)
            assert receipt is not None
            assert int(receipt["effectiveGasPrice"], 16) > 0
            text = relay.metrics.render().decode()
            assert 'stbridge_transactions_replaced_total{chain="b"}' in text

            # the indexer can see the Process log before the confirmer has the receipt
            # final: the pool rows (original and replacement) settle on the confirmer's
            # next pass, so wait for that instead of racing it
            async def settled() -> bool | None:
                left = await relay.store.pending_txs(system.config.chain("b").chain_id)
                return True if not left else None

            await eventually(settled, "both pool rows settled by the confirmer")
        assert await chains.balance("b", bob.address) == before + 77
        store = SqliteStore(store_path)
        try:
            assert await store.pending_txs(system.config.chain("b").chain_id) == []
        finally:
            await store.close()
    finally:
        await rpc(chains, "b", "evm_setIntervalMining", 1)  # the last test of the module
        await chains.close()
