"""Two relayers, one PostgreSQL store: the work is split, nothing is sent twice, and
when one dies with messages in hand the other takes them over within a lease period.

Both are real ``stbridge run`` processes on the anvil devnet, with their own keys
(their nonces would collide otherwise) and one store URL. What a relayer submitted
is read back from the store (``txs``, ``tx_messages``: which key carried which
message) and what was delivered from the destination chain (``Process`` logs).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eth_utils.crypto import keccak

from relayer.chain import contracts
from relayer.config import parse_key
from relayer.store import Store, relayer_owner
from relayer.store.postgres import PostgresStore
from tests.faultproxy import FaultProxy
from tests.helpers import write_config
from tests.integration.system import (
    Chains,
    System,
    random_amounts,
    relayer_process,
    send_many,
    wait_delivered,
)
from tests.pg import PostgresServer

pytestmark = [pytest.mark.integration, pytest.mark.anvil]

LEASE = 5.0  # relayer.lease_seconds for both relayers
SECOND_KEY = "0x" + keccak(b"stbridge test: the second relayer's key").hex()


@pytest.mark.parametrize("system", ["anvil"], indirect=True)
async def test_two_relayers_share_one_store(
    system: System, postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.database("two_relayers")
    keys = [system.raw["accounts"]["relayer"], SECOND_KEY]
    senders = [parse_key(k, {}).address for k in keys]
    chains = Chains(system)
    for chain in ("a", "b"):  # the second key needs gas on both chains
        await chains.rpcs[chain].request("anvil_setBalance", [senders[1], hex(10**22)])
    # each relayer reaches chain b through a proxy that can hold its replay check, which
    # it makes right after a claim: the test then kills it with the claim's leases in hand
    proxies = [FaultProxy(system.config.chain("b").rpc_url) for _ in keys]
    for proxy in proxies:
        await proxy.start()
    configs = [
        _config(system, tmp_path / f"relayer{i}.toml", url, k, proxies[i].url)
        for i, k in enumerate(keys)
    ]
    logs = [tmp_path / f"relayer{i}.log" for i in range(2)]
    store = await PostgresStore.connect(url, owner="test-reader")
    investors = system.config.accounts.investors
    people = [k.address for k in investors]
    try:
        with contextlib.ExitStack() as stack:
            procs = [
                stack.enter_context(relayer_process(system, config, log))
                for config, log in zip(configs, logs, strict=True)
            ]
            await _until_running(procs, logs, 60)
            await _drained(store, system, 120)  # what earlier tests left behind
            a0 = {p: await chains.balance("a", p) for p in people}
            b0 = {p: await chains.balance("b", p) for p in people}
            start_block = await chains.rpcs["b"].block_number()

            # --- both share the work, each message once
            amounts = random_amounts(240, seed=21, high=10**17)
            transfers = [(investors[i % 3], people[(i + 1) % 3], a) for i, a in enumerate(amounts)]
            first = await send_many(chains, "a", "b", transfers)
            await wait_delivered(store, first, 180)
            delivered_by = await _check_each_delivered_once(chains, url, system, first, start_block)
            shares = {s: sum(1 for x in delivered_by.values() if x == s) for s in senders}
            print(f"\n  240 transfers delivered by the two relayers: {list(shares.values())}")
            assert all(shares.values()), f"one relayer did nothing: {shares}"

            # --- kill -9 one relayer while it holds leases; the other takes them over
            more = random_amounts(120, seed=22, high=10**17)
            later = [(investors[i % 3], people[(i + 2) % 3], a) for i, a in enumerate(more)]
            sending = asyncio.create_task(send_many(chains, "a", "b", later))
            victim, leased, killed_at = await _kill_holding_leases(
                procs, proxies, url, senders, chains
            )
            second = await sending
            await wait_delivered(store, second, 180)
            carriers = await _carriers(url)
            survivor = senders[1 - victim]
            for message_id, lease_until in leased.items():
                took = [(sender, sent) for sender, _h, sent in carriers[message_id]]
                assert {sender for sender, _ in took} == {survivor}, took
                sent_at = min(sent for _, sent in took)
                assert sent_at >= lease_until - 0.01  # the live lease was respected
                assert sent_at - killed_at <= LEASE + 8, "not taken over within a lease period"
            waited = max(min(s for _, _h, s in carriers[m]) for m in leased) - killed_at
            print(
                f"  relayer {victim} killed holding {len(leased)} leases;"
                f" all taken over after {waited:.1f}s"
            )
            await _check_each_delivered_once(chains, url, system, first + second, start_block)
        for p in people:
            got = sum(a for _k, r, a in transfers + later if r == p)
            sent = sum(a for k, _r, a in transfers + later if k.address == p)
            assert await chains.balance("b", p) == b0[p] + got
            assert await chains.balance("a", p) == a0[p] - sent
    finally:
        for proxy in proxies:
            await proxy.stop()
        await store.close()
        await chains.close()


def _config(system: System, path: Path, url: str, key: str, b_rpc: str) -> Path:
    chains = [dict(c) for c in system.raw["chains"]]
    chains[1]["rpc_url"] = b_rpc
    raw = {
        **system.raw,
        "chains": chains,
        "relayer": {
            **system.raw["relayer"],
            "store": url,
            "lease_seconds": LEASE,
            "batch_max_messages": 10,  # small claims, so both relayers get a share
        },
        "accounts": {**system.raw["accounts"], "relayer": key},
    }
    return write_config(path, raw)


async def _until_running(
    procs: Sequence[subprocess.Popen[bytes]], logs: Sequence[Path], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc, log in zip(procs, logs, strict=True):
            assert proc.poll() is None, f"relayer exited: {log.read_text()[-2000:]}"
        if all("relayer running" in log.read_text() for log in logs):
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the relayers did not start in time")


async def _drained(store: Store, system: System, timeout: float) -> None:
    ids = [c.chain_id for c in system.config.chains]
    lanes = [(o, d) for o in ids for d in ids if o != d]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum([(await store.backlog(o, d))[0] for o, d in lanes]) == 0:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"the relayers did not drain in {timeout}s")


async def _carriers(url: str) -> dict[bytes, list[tuple[str, str, float]]]:
    """Every message's carrying transactions: (sender, hash, sent_at)."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cursor = await conn.execute(
            "SELECT m.message_id, t.sender, t.hash, t.sent_at FROM tx_messages m "
            "JOIN txs t ON t.hash = m.tx_hash"
        )
        out: dict[bytes, list[tuple[str, str, float]]] = defaultdict(list)
        for message_id, sender, tx_hash, sent_at in await cursor.fetchall():
            out[bytes(message_id)].append((sender, tx_hash, sent_at))
        return out


async def _check_each_delivered_once(
    chains: Chains, url: str, system: System, ids: Sequence[bytes], start_block: int
) -> dict[bytes, str]:
    """Each message: one Process on b, in a transaction of the one key that carried it;
    no mined transaction carried a message it did not deliver. Returns who delivered."""
    rpc = chains.rpcs["b"]
    mailbox = system.deployment.chain("b").address("Mailbox")
    logs = await rpc.logs([mailbox], start_block, await rpc.block_number())
    processed: dict[bytes, list[str]] = defaultdict(list)
    for event, values, raw in contracts.decode_logs(contracts.load("Mailbox"), logs):
        assert event.name != "ProcessFailed" or bytes(values["id"]) not in ids, values
        if event.name == "Process":
            processed[bytes(values["id"])].append(str(raw["transactionHash"]))
    carriers = await _carriers(url)
    hashes = sorted({h for i in ids for _s, h, _t in carriers[i]})
    answers = await rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
    receipts = dict(zip(hashes, answers, strict=True))
    delivered_by: dict[bytes, str] = {}
    for message_id in ids:
        where = processed[message_id]
        assert len(where) == 1, f"0x{message_id.hex()} processed in {where}"
        carried = carriers[message_id]
        assert len({sender for sender, _h, _t in carried}) == 1, f"sent by both relayers: {carried}"
        landed = [h for _s, h, _t in carried if receipts[h]]
        assert landed == processed[message_id], f"0x{message_id.hex()}: wasted in {landed}"
        delivered_by[message_id] = carried[0][0]
    return delivered_by


async def _kill_holding_leases(
    procs: Sequence[subprocess.Popen[bytes]],
    proxies: Sequence[FaultProxy],
    url: str,
    senders: Sequence[str],
    chains: Chains,
) -> tuple[int, dict[bytes, float], float]:
    """Hold each relayer's replay check, which follows its claim; kill -9 the first one
    held there, holding live leases on messages it has not submitted, and let the other
    go on. Returns which relayer died, its leased ids with their lease ends, and the
    time of the kill."""
    marker = contracts.load("Mailbox").fn("deliveredWord").selector.hex().encode()
    for proxy in proxies:
        proxy.hold(marker)
    try:
        held = [asyncio.create_task(p.holding.wait()) for p in proxies]
        try:
            done, _ = await asyncio.wait(held, timeout=90, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in held:
                task.cancel()
        assert done, "neither relayer claimed the messages sent"
        victim = next(i for i, task in enumerate(held) if task in done)
        os.kill(procs[victim].pid, signal.SIGSTOP)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            rows = await (
                await conn.execute(
                    "SELECT id, lease_until FROM messages WHERE lease_owner = %s "
                    "AND status IN ('pending', 'failed') AND lease_until > %s",
                    (relayer_owner(senders[victim]), time.time() + 0.5),
                )
            ).fetchall()
            assert rows, f"relayer {victim} asked the replay check holding no live lease"
            assert await _all_broadcast(conn, chains, senders[victim])
        os.kill(procs[victim].pid, signal.SIGKILL)
        killed_at = time.time()
        procs[victim].wait(10)
    finally:
        for proxy in proxies:
            proxy.release()
    return victim, {bytes(i): float(u) for i, u in rows}, killed_at


async def _all_broadcast(conn: psycopg.AsyncConnection[Any], chains: Chains, sender: str) -> bool:
    """Whether every transaction the relayer stored as pending reached its chain's node
    (one stored but not yet broadcast would wait for that relayer's restart)."""
    for chain in ("a", "b"):
        chain_id = chains.system.config.chain(chain).chain_id
        rows = await (
            await conn.execute(
                "SELECT hash FROM txs WHERE sender = %s AND chain_id = %s AND status = 'pending'",
                (sender, chain_id),
            )
        ).fetchall()
        if rows:
            found = await chains.rpcs[chain].batch(
                [("eth_getTransactionByHash", [h]) for (h,) in rows]
            )
            if not all(found):
                return False
    return True
