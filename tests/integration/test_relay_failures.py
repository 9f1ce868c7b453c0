"""What goes wrong gets one line, and no message is lost: bad config, a chain down, a revert."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chains.processes import free_port
from relayer.chain import contracts
from relayer.config import parse_config
from relayer.core import backoff
from relayer.store import Status
from relayer.store.models import MessageRow
from tests.faultproxy import FaultProxy
from tests.helpers import write_config
from tests.integration.system import (
    Chains,
    System,
    running_relayer,
    send_many,
    wait_delivered,
)
from tests.waiting import eventually

pytestmark = pytest.mark.integration


def stbridge(system: System, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STBRIDGE_HOME": str(system.home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "relayer", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def test_run_with_a_bad_config_is_one_line(system: System, tmp_path: Path) -> None:
    raw = {**system.raw, "relayer": {**system.raw["relayer"], "batch_max_messages": "many"}}
    path = write_config(tmp_path / "bad.toml", raw)
    result = stbridge(system, "run", "-c", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "relayer.batch_max_messages:" in lines[0]


def test_run_against_the_wrong_chain_is_one_line(system: System, tmp_path: Path) -> None:
    """A chain that is down waits (test_chain_health); one that is another chain is fatal."""
    raw = {**system.raw, "chains": [dict(c) for c in system.raw["chains"]]}
    other = raw["chains"][0]["rpc_url"]
    raw["chains"][1]["rpc_url"] = other  # chain a's node, configured as b
    raw["relayer"] = {**raw["relayer"], "store": f"sqlite:///{tmp_path}/r.db"}
    path = write_config(tmp_path / "wrong.toml", raw)
    result = stbridge(system, "run", "-c", str(path))
    assert result.returncode == 1
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert f"chain b ({other}) is chain 65001, the config says 65002" in lines[0]


def test_send_to_a_chain_that_is_down_is_one_line(system: System, tmp_path: Path) -> None:
    raw = {**system.raw, "chains": [dict(c) for c in system.raw["chains"]]}
    raw["chains"][0]["rpc_url"] = f"http://127.0.0.1:{free_port()}"
    path = write_config(tmp_path / "down.toml", raw)
    result = stbridge(
        system, "bridge", "send", "--from", "a", "--to", "b", "--token", "ACME",
        "--amount", "1", "--recipient", system.config.accounts.investors[1].address,
        "-c", str(path),
    )  # fmt: skip
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "chain a cannot be reached" in result.stderr


async def test_destination_down_mid_run_delays_but_loses_nothing(
    system: System, tmp_path: Path
) -> None:
    proxy = FaultProxy(system.config.chain("b").rpc_url)
    await proxy.start()
    raw = {**system.raw, "chains": [dict(c) for c in system.raw["chains"]]}
    raw["chains"][1]["rpc_url"] = proxy.url
    proxied = System(system.backend, parse_config(raw), raw, system.home, system.deployment)
    chains = Chains(system)
    investors = system.config.accounts.investors
    try:
        before = await chains.balance("b", investors[2].address)
        async with running_relayer(proxied, tmp_path / "r.db") as relay:
            proxy.faults.down = True
            ids = await send_many(
                chains,
                "a",
                "b",
                [(investors[0], investors[2].address, 10**18 + i) for i in range(5)],
            )

            async def all_indexed_and_b_tried() -> list[MessageRow] | None:
                rows = [await relay.store.message(i) for i in ids]
                found = [r for r in rows if r is not None]
                tried = proxy.faults.counts["down"] > 0
                return found if tried and len(found) == len(ids) else None

            rows = await eventually(
                all_indexed_and_b_tried, "messages indexed on a while b refuses connections"
            )
            assert all(r.status != Status.DELIVERED for r in rows)
            proxy.faults.down = False
            await wait_delivered(relay.store, ids, 120)
        assert await chains.balance("b", investors[2].address) == before + 5 * 10**18 + 10
    finally:
        await chains.close()
        await proxy.stop()


async def test_reverted_delivery_is_recorded_retried_and_delivered(
    system: System, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guardian pauses the lane on b: deliveries fail with the reason, then succeed.

    The relayer's own retry is put an hour off, so the delivery after the unpause is the
    one ``retry_now`` brings forward, however long the steps between take on a busy
    machine (with the 5 s schedule the relayer could retry first, and retry_now found
    the message already in flight).
    """
    monkeypatch.setattr(backoff, "SCHEDULE", (3600.0,))
    chains = Chains(system)
    accounts = system.config.accounts
    assert accounts.guardian is not None
    bridge_b = system.deployment.chain("b").address("TokenBridge")
    bridge_abi = contracts.load("TokenBridge")
    a_id = system.config.chain("a").chain_id
    guardian = chains.wallet("b", accounts.guardian)
    owner = chains.wallet("b", accounts.deployer)
    try:
        before = await chains.balance("b", accounts.investors[1].address)
        await guardian.transact(bridge_b, bridge_abi.fn("pauseLane"), a_id)
        async with running_relayer(system, tmp_path / "r.db") as relay:
            [mid] = await send_many(
                chains, "a", "b", [(accounts.investors[0], accounts.investors[1].address, 123)]
            )

            async def failed() -> MessageRow | None:
                row = await relay.store.message(mid)
                return row if row is not None and row.status == Status.FAILED else None

            row = await eventually(failed, "the delivery to the paused lane failed")
            assert row.next_attempt_at > time.time() + 1800, "the relayer would retry by itself"
            assert row.last_error is not None
            assert f"LaneIsPaused(domain={a_id})" in row.last_error
            assert "\n" not in row.last_error
            assert row.attempts == 1
            assert await chains.balance("b", accounts.investors[1].address) == before

            shown = stbridge(
                system,
                "messages",
                "show",
                "0x" + mid.hex(),
                "-c",
                str(system.config_file(tmp_path / "c.toml", tmp_path / "r.db")),
            )
            assert "LaneIsPaused" in shown.stdout

            await owner.transact(bridge_b, bridge_abi.fn("unpauseLane"), a_id)
            assert await relay.store.retry_now(mid)
            await wait_delivered(relay.store, [mid], 120)
        assert await chains.balance("b", accounts.investors[1].address) == before + 123
    finally:
        await chains.close()
