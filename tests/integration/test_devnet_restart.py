"""`stbridge devnet restart CHAIN`: the chain comes back on its port as it was (anvil's
state file), and a relayer carries on through the outage and after it, without a
genesis error. The pyevm backend says in one line that it cannot keep state."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chains import devnet
from chains.processes import process_alive
from relayer.chain.rpc import ChainRpc
from relayer.errors import ChainError
from tests.integration.system import (
    Chains,
    System,
    running_relayer,
    send_many,
    start_system,
    stop_system,
    wait_delivered,
)
from tests.integration.test_devnet import stbridge

pytestmark = pytest.mark.integration


@pytest.fixture
def own_system(tmp_path: Path) -> Iterator[System]:
    """A devnet of its own: restarting a chain must not disturb the shared one."""
    previous = os.environ.get("STBRIDGE_HOME")
    built = start_system("anvil", tmp_path / "system")
    try:
        yield built
    finally:
        stop_system(built)
        if previous is None:
            os.environ.pop("STBRIDGE_HOME", None)
        else:
            os.environ["STBRIDGE_HOME"] = previous


async def _answers(rpc: ChainRpc, timeout: float = 30) -> int:
    """The head block, once the node answers again (a kept-alive connection may break)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await rpc.block_number()
        except ChainError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.mark.anvil
async def test_a_restarted_chain_keeps_its_state(own_system: System, tmp_path: Path) -> None:
    system = own_system
    chains = Chains(system)
    investors = system.config.accounts.investors
    recipient = investors[1].address
    relayer_address = system.config.accounts.relayer.address
    b = chains.rpcs["b"]
    store = tmp_path / "relayer.db"
    try:
        async with running_relayer(system, store) as relay:
            first = await send_many(chains, "a", "b", [(investors[0], recipient, 10**15)])
            await wait_delivered(relay.store, first, 120)
            mailbox = system.deployment.chain("b").address("Mailbox")
            before = {
                "block": await b.block_number(),
                "genesis": (await b.block(0)).hash,
                "code": await b.request("eth_getCode", [mailbox, "latest"]),
                "tokens": await chains.balance("b", recipient),
                "eth": await b.balance(relayer_address),
            }
            old = devnet.read_state(system.home)
            assert old is not None
            old_pid = next(c.pid for c in old.chains if c.name == "b")

            result = await asyncio.to_thread(
                stbridge, "devnet", "restart", "b", "--down-for", "2", home=system.home
            )
            assert result.returncode == 0, result.stderr
            assert "chain b is back on" in result.stdout and "with its state" in result.stdout
            assert not process_alive(old_pid)

            head = await _answers(b)
            assert head >= before["block"]
            assert (await b.block(0)).hash == before["genesis"]
            assert await b.request("eth_getCode", [mailbox, "latest"]) == before["code"]
            assert len(before["code"]) > 100
            assert await chains.balance("b", recipient) == before["tokens"] > 0
            assert await b.balance(relayer_address) == before["eth"]

            # the relayer that ran through the outage carries on
            second = await send_many(chains, "a", "b", [(investors[0], recipient, 2 * 10**15)])
            await wait_delivered(relay.store, second, 120)
        # and a relayer started afresh on the same store finds the same chain (genesis)
        async with running_relayer(system, store) as relay:
            third = await send_many(chains, "a", "b", [(investors[0], recipient, 3 * 10**15)])
            await wait_delivered(relay.store, third, 120)
        assert await chains.balance("b", recipient) == before["tokens"] + 5 * 10**15
    finally:
        await chains.close()


def test_restart_on_pyevm_says_it_cannot_keep_state(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    record = {
        "backend": "pyevm",
        "block_time": 1.0,
        "started_at": 0.0,
        "chains": [
            {"name": n, "chain_id": i, "rpc_url": "http://127.0.0.1:1", "pid": 0, "log": "x"}
            for n, i in (("a", 65001), ("b", 65002))
        ],
        "accounts": [],
    }
    (home / "devnet.json").write_text(json.dumps(record))
    refused = stbridge("devnet", "restart", "b", home=home)
    assert refused.returncode == 1
    assert refused.stderr.strip().count("\n") == 0
    assert "pyevm backend cannot keep chain b's state across a restart" in refused.stderr
    unknown = stbridge("devnet", "restart", "c", home=home)
    assert unknown.returncode == 2
    assert "no chain 'c' in the devnet (its chains: a, b)" in unknown.stderr
    missing = stbridge("devnet", "restart", "b", home=tmp_path / "nothing")
    assert missing.returncode == 1 and "not running" in missing.stderr
