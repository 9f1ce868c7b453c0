"""A chain that stops answering (its node stopped with SIGSTOP), a relayer started while
a chain is down, an RPC endpoint that fails, a key that cannot pay: the relayer says so
in /readyz, its metrics, logs and `messages show`, keeps its gauges moving, and resumes
on its own (anvil)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chains import devnet
from chains.anvil import find_anvil
from chains.processes import free_port
from relayer.config import parse_config, public_url
from relayer.daemon.relayer import Relayer
from relayer.store import Status, open_store, relayer_owner
from relayer.store.sqlite import SqliteStore
from tests.faultproxy import FaultProxy
from tests.helpers import devnet_raw, write_config
from tests.integration.system import (
    BLOCK_TIME,
    Chains,
    System,
    drained,
    relayer_process,
    running_relayer,
    send_many,
    start_system,
    stop_system,
    system_of,
    wait_delivered,
)

pytestmark = [pytest.mark.integration, pytest.mark.anvil]

MARGIN = 10.0  # seconds past a chain's grace a busy machine may need to notice


@pytest.fixture(scope="module")
def anvil_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """A devnet of its own: these tests stop its chains."""
    if find_anvil() is None:
        pytest.skip("anvil is not installed here (npm ci installs it); anvil tests skipped")
    built = start_system("anvil", tmp_path_factory.mktemp("chain-health"))
    try:
        yield built
    finally:
        stop_system(built)


def changed(system: System, chains: dict[str, dict[str, Any]] | None = None, **top: Any) -> System:
    """The same system with some chains' settings (and top-level tables) changed."""
    raw = {**system.raw, "chains": [dict(c) for c in system.raw["chains"]], **top}
    for chain in raw["chains"]:
        chain.update((chains or {}).get(chain["name"], {}))
    return System(system.backend, parse_config(raw), raw, system.home, system.deployment)


def node_pid(system: System, name: str) -> int:
    state = devnet.read_state(system.home)
    assert state is not None
    return next(c.pid for c in state.chains if c.name == name)


@contextlib.contextmanager
def stopped(system: System, name: str) -> Iterator[None]:
    """The chain's node frozen with SIGSTOP until the block ends (then SIGCONT)."""
    pid = node_pid(system, name)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def get(url: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as response:
        return response.status, await response.text()


async def until(check: Any, deadline: float, what: str, every: float = 0.2) -> Any:
    """Poll ``check()`` (a coroutine function) until it returns something truthy."""
    end = time.monotonic() + deadline
    last: Any = None
    while time.monotonic() < end:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            last = await check()
            if last:
                return last
        await asyncio.sleep(every)
    raise AssertionError(f"{what} within {deadline:g}s (last: {last!r})")


def gauge(text: str, name: str, **labels: str) -> float | None:
    """A sample's value in the exposition text (labels in any order)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        inside = line[len(name) + 1 : line.index("}")]
        pairs = dict(p.split("=", 1) for p in inside.split(",") if p)
        if all(pairs.get(k) == f'"{v}"' for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_outage_is_named_gauges_move_and_the_lane_resumes(
    anvil_system: System, tmp_path: Path
) -> None:
    system = anvil_system
    chains = Chains(system)
    alice, bob = system.config.accounts.investors[0], system.config.accounts.investors[1]
    grace = system.config.chain("b").grace
    try:
        async with running_relayer(system, tmp_path / "r.db", gauge_interval=0.5) as relay:
            assert relay.telemetry is not None
            base = f"http://127.0.0.1:{relay.telemetry.port}"
            await drained(relay)
            health = relay.parts.rpcs["b"].health
            with stopped(system, "b"):
                frozen = time.time()

                async def named() -> str | None:
                    status, text = await get(f"{base}/readyz")
                    return text if status == 503 and "chain b: unreachable" in text else None

                text = await until(named, grace + MARGIN, "/readyz names chain b")
                named_after = time.time() - frozen
                assert named_after >= grace - 1, "named before its grace ran out"
                assert "chain a" not in text
                assert health.down_since is not None
                assert health.down_since - frozen < grace, "the first warning came late"
                print(  # the figures of the report (pytest -s)
                    f"outage: warning after {health.down_since - frozen:.1f}s, "
                    f"/readyz 503 after {named_after:.1f}s (grace {grace:g}s)"
                )
                _, metrics = await get(f"{base}/metrics")
                assert gauge(metrics, "stbridge_chain_up", chain="b") == 0
                assert gauge(metrics, "stbridge_chain_up", chain="a") == 1
                answered = gauge(
                    metrics, "stbridge_chain_last_rpc_success_timestamp_seconds", chain="b"
                )
                assert answered is not None and answered <= frozen + 1

                # chain a still runs: what it dispatches shows in the store's gauges
                ids = await send_many(chains, "a", "b", [(alice, bob.address, 3)] * 4)

                async def backlog_grew() -> bool:
                    _, metrics = await get(f"{base}/metrics")
                    lane = {"origin": "a", "destination": "b"}
                    return gauge(metrics, "stbridge_backlog_messages", **lane) == len(
                        ids
                    ) and gauge(
                        metrics, "stbridge_backlog_by_status_messages", status="pending", **lane
                    ) == len(ids)

                await until(backlog_grew, 30, "the backlog gauge counts the new messages")

                async def lane_waits() -> bool:
                    reason = await relay.store.get_state("waiting:65001->65002")
                    return bool(reason) and "chain b unreachable" in str(reason)

                await until(lane_waits, 90, "lane a->b says it waits for chain b")
            await wait_delivered(relay.store, ids, 90)
            await until(lambda: _ready(base), 30, "/readyz is 200 again after the chain answers")
            assert health.answering()
            _, metrics = await get(f"{base}/metrics")
            assert gauge(metrics, "stbridge_chain_up", chain="b") == 1
            assert gauge(metrics, "stbridge_lane_waiting", origin="a", destination="b") == 0
            assert 'stbridge_rpc_latency_seconds_bucket{chain="b"' in metrics
    finally:
        await chains.close()


async def _ready(base: str) -> bool:
    status, _ = await get(f"{base}/readyz")
    return status == 200


def cli(system: System, config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STBRIDGE_HOME": str(system.home), "COLUMNS": "400"}
    return subprocess.run(
        [sys.executable, "-m", "relayer", *args, "-c", str(config_file)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


async def test_started_with_a_chain_down_it_waits_then_delivers(
    anvil_system: System, tmp_path: Path
) -> None:
    system = anvil_system
    chains = Chains(system)
    alice, bob = system.config.accounts.investors[1], system.config.accounts.investors[2]
    store_path = tmp_path / "r.db"
    port = free_port()
    config_file = system.config_file(tmp_path / "r.toml", store_path, metrics_port=port)
    log = tmp_path / "relayer.log"
    base = f"http://127.0.0.1:{port}"
    b_node = node_pid(system, "b")
    os.kill(b_node, signal.SIGSTOP)
    try:
        with relayer_process(system, config_file, log) as proc:

            async def waiting() -> str | None:
                status, text = await get(f"{base}/readyz")
                return text if status == 503 and "chain b: waiting" in text else None

            text = await until(waiting, 30, "a relayer started with b down serves /readyz")
            assert "lanes to and from b wait" in text
            ids = await send_many(chains, "a", "b", [(alice, bob.address, 7)] * 3)
            store = SqliteStore(store_path)
            try:

                async def indexed() -> bool:  # chain a's indexer runs meanwhile
                    rows = [await store.message(i) for i in ids]
                    return all(r is not None and r.status == Status.PENDING for r in rows)

                await until(indexed, 60, "chain a's messages indexed while b is down")
            finally:
                await store.close()
            _, metrics = await get(f"{base}/metrics")
            assert gauge(metrics, "stbridge_chain_waiting", chain="b") == 1
            assert gauge(metrics, "stbridge_chain_waiting", chain="a") == 0

            async def says_unreachable() -> bool:  # once the first probe of b failed
                shown = await asyncio.to_thread(
                    cli, system, config_file, "messages", "show", "0x" + ids[0].hex()
                )
                assert shown.returncode == 0, shown.stderr
                return "chain b unreachable" in shown.stdout

            await until(says_unreachable, 30, "messages show says b is unreachable", 1)
            _, metrics = await get(f"{base}/metrics")
            assert gauge(metrics, "stbridge_lane_waiting", origin="a", destination="b") == 1
            retried = cli(system, config_file, "messages", "retry", "0x" + ids[0].hex())
            assert retried.returncode == 0, retried.stderr
            assert "is pending: chain b unreachable" in retried.stdout
            assert "will be sent without a retry" in retried.stdout
            assert proc.poll() is None, "the relayer exited while chain b was down"

            os.kill(b_node, signal.SIGCONT)  # b is back: checked, its parts start
            store = SqliteStore(store_path)
            try:
                await wait_delivered(store, ids, 120)
            finally:
                await store.close()
            await until(lambda: _ready(base), 60, "/readyz is 200 once b runs")
            assert proc.poll() is None
            retried_done = cli(system, config_file, "messages", "retry", "0x" + ids[0].hex())
            assert "already delivered in 0x" in retried_done.stdout
        lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
        events = [str(x.get("event", "")) for x in lines]
        warned = [e for e in events if e.startswith("chain b unreachable")]
        assert warned and "lanes to and from b wait" in warned[0], events[:20]
        assert any(e.startswith("chain b answers again") for e in events), events
    finally:
        os.kill(b_node, signal.SIGCONT)
        await chains.close()


@contextlib.asynccontextmanager
async def relayer_with(system: System, store_path: Path) -> AsyncIterator[Relayer]:
    """A relayer of ``system`` (its config as changed) in this event loop."""
    config = system.relayer_config(store_path)
    store = await open_store(
        config.relayer.store, owner=relayer_owner(config.accounts.relayer.address)
    )
    relay = Relayer(config, system.deployment, store)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(relay.started.wait(), 60)
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()


async def test_fails_over_to_the_next_url_and_comes_back(
    anvil_system: System, tmp_path: Path
) -> None:
    system = anvil_system
    real_a = system.config.chain("a").rpc_url
    proxy = FaultProxy(real_a)
    await proxy.start()
    secret = "s3cr3t-" + secrets.token_hex(4)
    first_a = f"http://relayer:{secret}@127.0.0.1:{proxy.port}/?apikey={secret}"
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    failing = changed(
        system,
        {"a": {"rpc_url": first_a, "rpc_urls": [real_a]},
         "b": {"rpc_url": closed, "rpc_urls": [system.config.chain("b").rpc_url]}},
    )  # fmt: skip
    chains = Chains(system)
    alice, bob = system.config.accounts.investors[2], system.config.accounts.investors[0]
    try:
        async with relayer_with(failing, tmp_path / "r.db") as relay:
            assert relay.telemetry is not None
            base = f"http://127.0.0.1:{relay.telemetry.port}"
            rpc_a = relay.parts.rpcs["a"]
            assert rpc_a.url == first_a
            ids = await send_many(chains, "a", "b", [(alice, bob.address, 11)] * 2)
            await wait_delivered(relay.store, ids, 90)  # b on its second URL from the start

            proxy.faults.down = True  # the first endpoint of a resets every connection
            down_at = time.monotonic()
            await until(lambda: _async(rpc_a.url == real_a), 30, "chain a moves to its second URL")
            print(f"failover: on the second URL {time.monotonic() - down_at:.1f}s after")
            more = await send_many(chains, "b", "a", [(bob, alice.address, 2)] * 2)
            await wait_delivered(relay.store, more, 90)
            _, metrics = await get(f"{base}/metrics")
            assert gauge(metrics, "stbridge_rpc_active_url", chain="a", url=real_a) == 1
            shown_first = public_url(first_a)
            assert gauge(metrics, "stbridge_rpc_active_url", chain="a", url=shown_first) == 0
            assert (gauge(metrics, "stbridge_rpc_url_requests_total", chain="a",
                          url=shown_first, outcome="connection") or 0) > 0  # fmt: skip
            assert not any("chain a" in r for r in relay.not_ready())

            proxy.faults.down = False  # healthy again: back to the first in the config's order
            up_at = time.monotonic()
            await until(
                lambda: _async(rpc_a.url == first_a), 30, "chain a comes back to its first URL"
            )
            print(f"failover: back on the first URL {time.monotonic() - up_at:.1f}s after")
            last = await send_many(chains, "a", "b", [(alice, bob.address, 13)])
            await wait_delivered(relay.store, last, 90)
            _, metrics = await get(f"{base}/metrics")
            assert gauge(metrics, "stbridge_rpc_active_url", chain="a", url=shown_first) == 1
            assert secret not in metrics, "an endpoint's credentials reached the metrics"
            assert "relayer:" not in metrics
            assert relay.parts.rpcs["b"].url == system.config.chain("b").rpc_url
            assert secret not in relay.parts.rpcs["a"].where()
    finally:
        await chains.close()
        await proxy.stop()


async def _async(value: bool) -> bool:
    return value


async def test_an_unfunded_key_is_the_reason_messages_wait(
    anvil_system: System, tmp_path: Path
) -> None:
    system = anvil_system
    fresh = "0x" + secrets.token_hex(32)
    accounts = {**system.raw["accounts"], "relayer": fresh}
    poor = changed(system, accounts=accounts)
    key = poor.config.accounts.relayer
    chains = Chains(system)
    alice, bob = system.config.accounts.investors[0], system.config.accounts.investors[2]
    store_path = tmp_path / "r.db"
    config_file = write_config(
        tmp_path / "poor.toml",
        {**poor.raw, "relayer": {**poor.raw["relayer"], "store": f"sqlite:///{store_path}"}},
    )
    try:
        async with running_relayer(poor, store_path) as relay:
            [mid] = await send_many(chains, "a", "b", [(alice, bob.address, 17)])

            async def says_underfunded() -> str | None:
                shown = await asyncio.to_thread(
                    cli, poor, config_file, "messages", "show", "0x" + mid.hex()
                )
                line = next((x for x in shown.stdout.splitlines() if "waiting for" in x), "")
                return line if "relayer key underfunded on b" in line else None

            line = await until(says_underfunded, 90, "messages show names the unfunded key", 1)
            assert key.address in line and "fund it" in line
            listed = await asyncio.to_thread(
                cli, poor, config_file, "messages", "list", "--json", "--lane", "a->b"
            )
            listing = json.loads(listed.stdout)["data"]["messages"]  # the CLI's JSON envelope
            items = {x["id"]: x for x in listing}
            assert {x["lane"] for x in items.values()} == {"a->b"}
            assert "relayer key underfunded on b" in items["0x" + mid.hex()]["waiting_for"]
            wrong = await asyncio.to_thread(
                cli, poor, config_file, "messages", "list", "--lane", "a-b"
            )
            assert wrong.returncode == 2 and "write ORIGIN->DESTINATION" in wrong.stderr
            row = await relay.store.message(mid)
            assert row is not None and row.status == Status.PENDING
            await chains.rpcs["b"].request("anvil_setBalance", [key.address, hex(10**20)])
            await wait_delivered(relay.store, [mid], 90)

            async def cleared() -> bool:
                shown = await asyncio.to_thread(
                    cli, poor, config_file, "messages", "show", "0x" + mid.hex()
                )
                return "underfunded" not in shown.stdout

            await until(cleared, 30, "the reason goes once the key can pay", 1)
    finally:
        await chains.close()


@pytest.fixture(scope="module")
def three_chains(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """Chains a (home), b and c, deployed and onboarded: lanes a<->c do not touch b."""
    if find_anvil() is None:
        pytest.skip("anvil is not installed here (npm ci installs it); anvil tests skipped")
    directory = tmp_path_factory.mktemp("three-chains")
    raw = devnet_raw(block_time=BLOCK_TIME["anvil"], confirmations=1)
    third = {**raw["chains"][1], "name": "c", "chain_id": 65003}
    third["rpc_url"] = f"http://127.0.0.1:{free_port()}"
    raw["chains"].append(third)
    with system_of(raw, directory) as system:
        yield system


async def test_lanes_between_healthy_chains_run_while_one_chain_is_down_at_start(
    three_chains: System, tmp_path: Path
) -> None:
    system = three_chains
    chains = Chains(system)
    alice, bob = system.config.accounts.investors[0], system.config.accounts.investors[1]
    config = system.relayer_config(tmp_path / "r.db")
    store = await open_store(
        config.relayer.store, owner=relayer_owner(config.accounts.relayer.address)
    )
    relay = Relayer(config, system.deployment, store)
    b_node = node_pid(system, "b")
    os.kill(b_node, signal.SIGSTOP)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(relay.serving.wait(), 30)
        to_c = await send_many(chains, "a", "c", [(alice, bob.address, 5)] * 3)
        await wait_delivered(store, to_c, 90)  # a->c runs while b is down
        back = await send_many(chains, "c", "a", [(bob, alice.address, 1)])
        await wait_delivered(store, back, 90)
        assert set(relay.parts.lanes) == {("a", "c"), ("c", "a")}
        assert not relay.started.is_set()
        reasons = relay.not_ready()
        assert any(r.startswith("chain b: waiting for it to answer") for r in reasons), reasons
        assert not any("chain a" in r or "chain c" in r for r in reasons), reasons
        assert not task.done()

        os.kill(b_node, signal.SIGCONT)
        await asyncio.wait_for(relay.started.wait(), 60)
        to_b = await send_many(chains, "a", "b", [(alice, bob.address, 7)] * 2)
        await wait_delivered(store, to_b, 90)
        assert len(relay.parts.lanes) == 6
        await until(lambda: _async(relay.not_ready() == []), 60, "ready with every chain up")
    finally:
        os.kill(b_node, signal.SIGCONT)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()
        await chains.close()
