"""A whole stbridge system for integration tests: two real chains, contracts, a relayer.

One system per backend and test session (a devnet on free ports, deployed and
onboarded once); each test runs its own relayer with its own store, in-process or as
a real ``stbridge run`` subprocess that a test may kill -9.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chains import devnet
from relayer.chain import contracts
from relayer.chain.rpc import ChainRpc
from relayer.chain.wallet import Sent, Wallet
from relayer.cli.devnet import start_devnet
from relayer.config import Config, PrivateKey, parse_config
from relayer.console.server import console_routes
from relayer.daemon.relayer import Relayer
from relayer.deployment.deployer import deploy
from relayer.deployment.record import Deployment
from relayer.deployment.session import Session
from relayer.issuer.onboard import onboard_devnet
from relayer.store import Store, open_store, relayer_owner
from tests.helpers import devnet_raw, write_config

BLOCK_TIME = {"anvil": 0.25, "pyevm": 0.5}


@dataclass
class System:
    """A devnet with stbridge deployed and the devnet investors onboarded."""

    backend: str
    config: Config
    raw: dict[str, Any]
    home: Path
    deployment: Deployment
    stores: list[Path] = field(default_factory=list)

    def relayer_config(self, store: Path, **relayer: Any) -> Config:
        raw = {
            **self.raw,
            "relayer": {**self.raw["relayer"], "store": f"sqlite:///{store}", **relayer},
        }
        return parse_config(raw)

    def config_file(self, path: Path, store: Path, **relayer: Any) -> Path:
        raw = {
            **self.raw,
            "relayer": {**self.raw["relayer"], "store": f"sqlite:///{store}", **relayer},
        }
        return write_config(path, raw)

    def token(self, chain: str) -> str:
        return self.deployment.tokens[0].addresses[chain]


def start_system(backend: str, directory: Path) -> System:
    """Bring up a devnet on free ports, deploy, onboard (blocking)."""
    return bring_up(backend, devnet_raw(block_time=BLOCK_TIME[backend], confirmations=1), directory)


def bring_up(backend: str, raw: dict[str, Any], directory: Path) -> System:
    """The devnet ``raw`` describes (its chains on free ports), deployed and onboarded, with
    STBRIDGE_HOME pointing at it; chains stopped again if that fails."""
    raw["relayer"].update(
        poll_interval=0.1, batch_wait=0.1, metrics_port=0, store=f"sqlite:///{directory}/unused.db"
    )
    config = parse_config(raw)
    home = directory / "home"
    os.environ["STBRIDGE_HOME"] = str(home)
    start_devnet(config, directory=home, backend=backend)  # type: ignore[arg-type]
    try:
        report = asyncio.run(deploy(config))

        async def onboard() -> None:
            async with Session(config, report.deployment) as session:
                await onboard_devnet(session)

        asyncio.run(onboard())
    except BaseException:
        devnet.down(home)
        raise
    return System(backend, config, raw, home, report.deployment)


@contextlib.contextmanager
def system_of(raw: dict[str, Any], directory: Path, backend: str = "anvil") -> Iterator[System]:
    """``bring_up`` for a module's own devnet (three chains, say): stopped after, and
    STBRIDGE_HOME as it was."""
    previous = os.environ.get("STBRIDGE_HOME")
    try:
        system = bring_up(backend, raw, directory)
        try:
            yield system
        finally:
            stop_system(system)
    finally:
        if previous is None:
            os.environ.pop("STBRIDGE_HOME", None)
        else:
            os.environ["STBRIDGE_HOME"] = previous


def stop_system(system: System) -> None:
    devnet.down(system.home)


@contextlib.asynccontextmanager
async def running_relayer(
    system: System, store_path: Path, **relayer: Any
) -> AsyncIterator[Relayer]:
    """A relayer in this event loop until the block ends."""
    config = system.relayer_config(store_path, **relayer)
    store = await open_store(
        config.relayer.store, owner=relayer_owner(config.accounts.relayer.address)
    )
    relay = Relayer(config, system.deployment, store, console=console_routes)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(relay.started.wait(), 30)
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()


@contextlib.contextmanager
def relayer_process(
    system: System, config_file: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``stbridge run`` as a real process (a test may kill -9 it)."""
    env = {**os.environ, "STBRIDGE_HOME": str(system.home)}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "relayer",
                "run",
                "-c",
                str(config_file),
                "--log-format",
                "json",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


class Chains:
    """RPC connections and wallets for a test (close with ``await chains.close()``)."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.rpcs = {c.name: ChainRpc(c) for c in system.config.chains}

    def wallet(self, chain: str, key: PrivateKey) -> Wallet:
        return Wallet(self.rpcs[chain], key)

    async def balance(self, chain: str, who: str) -> int:
        reader = self.wallet(chain, self.system.config.accounts.deployer)
        fn = contracts.load("SecurityToken").fn("balanceOf")
        return int(await reader.call(self.system.token(chain), fn, who))

    async def supply(self, chain: str) -> int:
        reader = self.wallet(chain, self.system.config.accounts.deployer)
        fn = contracts.load("SecurityToken").fn("totalSupply")
        return int(await reader.call(self.system.token(chain), fn))

    async def close(self) -> None:
        for rpc in self.rpcs.values():
            await rpc.close()


async def send_many(
    chains: Chains,
    origin: str,
    destination: str,
    transfers: Sequence[tuple[PrivateKey, str, int]],
) -> list[bytes]:
    """Send ``(key, recipient, amount)`` transfers back to back; returns the message ids."""
    system = chains.system
    bridge_abi = contracts.load("TokenBridge")
    token_abi = contracts.load("SecurityToken")
    token = system.token(origin)
    bridge = system.deployment.chain(origin).address("TokenBridge")
    dest_id = system.config.chain(destination).chain_id
    home = origin == system.config.home
    wallets: dict[str, Wallet] = {}
    sent: list[tuple[Wallet, Sent]] = []
    for key, _recipient, _amount in transfers:
        if key.address not in wallets:
            wallets[key.address] = chains.wallet(origin, key)
            if home:
                approve = await wallets[key.address].send(
                    token, token_abi.fn("approve").encode(bridge, 2**255), what="approve"
                )
                await wallets[key.address].wait([approve])
    for key, recipient, amount in transfers:
        wallet = wallets[key.address]
        data = bridge_abi.fn("send").encode(token, dest_id, recipient, amount)
        sent.append((wallet, await wallet.send(bridge, data, what="send", gas=400_000)))
    ids: list[bytes] = []
    for wallet, s in sent:
        receipt = (await wallet.wait([s]))[0]
        for event, values, _ in contracts.decode_logs(bridge_abi, receipt["logs"]):
            if event.name == "TransferSent":
                ids.append(bytes(values["id"]))
    return ids


async def wait_delivered(store: Store, ids: Sequence[bytes], timeout: float) -> None:
    """Until every message in ``ids`` is delivered (AssertionError naming the stragglers)."""
    deadline = time.monotonic() + timeout
    remaining = set(ids)
    while remaining and time.monotonic() < deadline:
        for message_id in list(remaining):
            row = await store.message(message_id)
            if row is not None and row.status.value == "delivered":
                remaining.discard(message_id)
        if remaining:
            await asyncio.sleep(0.25)
    assert not remaining, f"{len(remaining)} of {len(ids)} messages not delivered in {timeout}s"


def random_amounts(n: int, seed: int, low: int = 10**15, high: int = 5 * 10**18) -> list[int]:
    """Amounts with odd wei in them, so a rounding slip anywhere shows."""
    rng = random.Random(seed)
    return [rng.randint(low, high) for _ in range(n)]


async def drained(relay: Relayer, timeout: float = 90) -> None:
    """Until the relayer caught up and delivered everything it found (earlier tests may
    have left messages behind); then balances are safe to snapshot."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not relay.not_ready():
            pending = 0
            for o, d in relay.parts.lanes:
                count, _oldest = await relay.store.backlog(
                    relay.config.chain(o).chain_id, relay.config.chain(d).chain_id
                )
                pending += count
            if pending == 0:
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the relayer did not drain in {timeout}s: {relay.not_ready()}")


async def revert(rpc: ChainRpc, snapshot: str) -> bool:
    """Undo a chain to ``snapshot`` and set its clock back to the wall clock.

    A revert also rewinds the node's clock to the snapshot's block (anvil and the embedded
    node alike): left so, the chain runs behind the other by as long as the snapshot was
    held, and every later test on this session's chains reads skewed times (delivery
    latencies, DvP expiries, cap-table cuts at the earliest head)."""
    reverted = await rpc.request("evm_revert", [snapshot]) is True
    head = await rpc.block("latest")
    now = max(int(time.time()), head.timestamp + 1)
    await rpc.request("evm_setNextBlockTimestamp", [hex(now)])
    await rpc.request("evm_mine")
    return reverted
