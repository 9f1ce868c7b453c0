"""Transfers relayed between two real chains: both directions, at volume, across restarts."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from relayer.store import Status
from relayer.store.sqlite import SqliteStore
from tests.integration.system import (
    Chains,
    System,
    random_amounts,
    relayer_process,
    running_relayer,
    send_many,
    wait_delivered,
)

pytestmark = pytest.mark.integration


async def test_lock_mint_burn_unlock(system: System, tmp_path: Path) -> None:
    chains = Chains(system)
    accounts = system.config.accounts
    alice, bob = accounts.investors[0], accounts.investors[1]
    try:
        before_a = await chains.balance("a", alice.address)
        before_b = await chains.balance("b", bob.address)
        escrow = system.deployment.chain("a").address("TokenBridge")
        escrow_before = await chains.balance("a", escrow)
        supply_before = await chains.supply("b")
        async with running_relayer(system, tmp_path / "r.db") as relay:
            [out] = await send_many(chains, "a", "b", [(alice, bob.address, 7 * 10**18 + 3)])
            await wait_delivered(relay.store, [out], 120)
            assert await chains.balance("a", alice.address) == before_a - (7 * 10**18 + 3)
            assert await chains.balance("b", bob.address) == before_b + 7 * 10**18 + 3
            assert await chains.balance("a", escrow) == escrow_before + 7 * 10**18 + 3
            assert await chains.supply("b") == supply_before + 7 * 10**18 + 3

            [back] = await send_many(chains, "b", "a", [(bob, alice.address, 2 * 10**18 + 1)])
            await wait_delivered(relay.store, [back], 120)
            assert await chains.balance("b", bob.address) == before_b + 5 * 10**18 + 2
            assert await chains.balance("a", alice.address) == before_a - 5 * 10**18 - 2
            assert await chains.balance("a", escrow) == escrow_before + 5 * 10**18 + 2
            assert await chains.supply("b") == supply_before + 5 * 10**18 + 2
            row = await relay.store.message(back)
            assert row is not None
            assert row.deliver_tx
            assert row.attempts == 0
    finally:
        await chains.close()


async def test_two_hundred_transfers_both_ways_add_up_to_the_wei(
    system: System, tmp_path: Path
) -> None:
    chains = Chains(system)
    investors = system.config.accounts.investors
    people = [k.address for k in investors]
    escrow = system.deployment.chain("a").address("TokenBridge")
    try:
        a0 = {p: await chains.balance("a", p) for p in people}
        b0 = {p: await chains.balance("b", p) for p in people}
        escrow0 = await chains.balance("a", escrow)
        supply0 = await chains.supply("b")
        out_amounts = random_amounts(120, seed=1)
        back_amounts = random_amounts(80, seed=2, high=10**17)
        out = [
            (investors[i % 3], people[(i + 1) % 3], amount) for i, amount in enumerate(out_amounts)
        ]
        back = [
            (investors[i % 3], people[(i + 2) % 3], amount) for i, amount in enumerate(back_amounts)
        ]
        async with running_relayer(system, tmp_path / "r.db") as relay:
            ids = await send_many(chains, "a", "b", out)
            await wait_delivered(relay.store, ids, 180)
            ids_back = await send_many(chains, "b", "a", back)
            await wait_delivered(relay.store, ids_back, 180)
            assert len(set(ids)) == 120
            assert len(set(ids_back)) == 80
        for p in people:
            sent_out = sum(a for k, _r, a in out if k.address == p)
            got_out = sum(a for _k, r, a in out if r == p)
            sent_back = sum(a for k, _r, a in back if k.address == p)
            got_back = sum(a for _k, r, a in back if r == p)
            assert await chains.balance("a", p) == a0[p] - sent_out + got_back
            assert await chains.balance("b", p) == b0[p] + got_out - sent_back
        moved = sum(out_amounts) - sum(back_amounts)
        assert await chains.balance("a", escrow) == escrow0 + moved
        assert await chains.supply("b") == supply0 + moved
    finally:
        await chains.close()


async def test_relayer_killed_mid_run_loses_nothing(system: System, tmp_path: Path) -> None:
    """kill -9 while transfers are in flight; the restarted relayer delivers each exactly once."""
    chains = Chains(system)
    investors = system.config.accounts.investors
    people = [k.address for k in investors]
    store_path = tmp_path / "relayer.db"
    config_file = system.config_file(tmp_path / "relayer.toml", store_path)
    log = tmp_path / "relayer.log"
    try:
        b0 = {p: await chains.balance("b", p) for p in people}
        amounts = random_amounts(60, seed=3)
        transfers = [(investors[i % 3], people[(i + 1) % 3], a) for i, a in enumerate(amounts)]
        with relayer_process(system, config_file, log) as proc:
            ids = await send_many(chains, "a", "b", transfers[:30])
            await _wait_some_submitted(store_path, 5, 60)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        ids += await send_many(chains, "a", "b", transfers[30:])
        with relayer_process(system, config_file, log):
            store = SqliteStore(store_path)
            try:
                await wait_delivered(store, ids, 180)
            finally:
                await store.close()
        for p in people:
            got = sum(a for _k, r, a in transfers if r == p)
            assert await chains.balance("b", p) == b0[p] + got
        store = SqliteStore(store_path)
        try:
            rows = [await store.message(i) for i in ids]
            assert all(r is not None and r.status == Status.DELIVERED for r in rows)
        finally:
            await store.close()
    finally:
        await chains.close()


async def _wait_some_submitted(store_path: Path, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store_path.exists():
            store = SqliteStore(store_path)
            try:
                rows = await store.messages(limit=1000)
            finally:
                await store.close()
            moving = [r for r in rows if r.status in (Status.SUBMITTED, Status.DELIVERED)]
            if len(moving) >= count:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the relayer did not submit {count} messages in {timeout}s")
