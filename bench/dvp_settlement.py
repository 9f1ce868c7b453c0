"""DvP settlement time: from the buyer's claim mined on chain a to the seller paid on chain b.

    .venv/bin/python -m bench.dvp_settlement [--trades 60] [--burst 20] [--block-time 1]

1. A devnet of its own (two anvil chains on free ports, 1 s blocks, a temp
   STBRIDGE_HOME), stbridge deployed and onboarded; the relayer runs in this process
   with the devnet config (1 confirmation, polling every 0.5 s).
2. Setup, not measured: for every trade the buyer (trader[1]) locks 100 dUSD on b for
   the seller (trader[0]) under a fresh hashlock, and the seller locks 1 ACME on a for
   the buyer under the same hashlock, expiries far off.
3. Measured, spaced: the buyer claims the asset legs one at a time, 0.4 to 2.2 s apart
   (random, so claims fall at every phase of the block clocks). For each trade: the block
   timestamp of the buyer's claim on a, and of the relayer's claim of the payment on b
   (the Claimed events); also the wall-clock moments a poller (every 50 ms) first saw
   each, for sub-second resolution.
4. Measured, burst: ``--burst`` more claims sent back to back, into the same block.

Prints the figures and writes bench/reports/dvp-settlement-<date>.md. Asserts nothing
about speed; it does fail if a seller is not paid (a benchmark that lost trades would lie).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Lab, build_lab, describe_machine, percentile, write_report
from chains import devnet
from relayer.chain import contracts
from relayer.chain.rpc import ChainRpc
from relayer.chain.wallet import Sent, Wallet
from relayer.daemon.relayer import Relayer
from relayer.dvp.protocol import hashlock_of
from relayer.store import open_store, relayer_owner
from relayer.telemetry.logging import configure_logging

HTLC = contracts.load("HashedTimelock")
ERC20 = contracts.load("PaymentToken")
PRICE = 100 * 10**6  # dUSD
AMOUNT = 10**18  # 1 ACME


@dataclass
class Trade:
    secret: bytes
    payment: bytes = b""  # lock ids
    asset: bytes = b""
    claim_tx: str = ""
    claimed_block_time: int = 0  # block timestamps
    paid_block_time: int = 0
    claim_seen: float = 0.0  # wall clock, first seen by the poller
    paid_seen: float = 0.0

    @property
    def blocks_latency(self) -> int:
        return self.paid_block_time - self.claimed_block_time

    @property
    def seen_latency(self) -> float:
        return self.paid_seen - self.claim_seen


class Desk:
    """The two traders' wallets and reads on both chains."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.rpc = {c.name: ChainRpc(c) for c in lab.config.chains}
        seller, buyer = lab.config.accounts.traders[:2]
        self.seller, self.buyer = seller, buyer
        self.seller_a = Wallet(self.rpc["a"], seller)
        self.buyer_a = Wallet(self.rpc["a"], buyer)
        self.buyer_b = Wallet(self.rpc["b"], buyer)
        self.htlc = {n: lab.deployment.chain(n).address("HashedTimelock") for n in ("a", "b")}
        self.acme = lab.deployment.tokens[0].addresses["a"]
        self.dusd = lab.deployment.payment_token["b"]

    async def close(self) -> None:
        for rpc in self.rpc.values():
            await rpc.close()

    async def open_trades(self, count: int) -> list[Trade]:
        """Both legs of ``count`` trades, pipelined (a few blocks in all)."""
        trades = [Trade(secret=os.urandom(32)) for _ in range(count)]
        now = (await self.rpc["a"].block("latest")).timestamp
        t_a, t_b = now + 1_800, now + 1_860
        for wallet, token, htlc in ((self.buyer_b, self.dusd, self.htlc["b"]),
                                    (self.seller_a, self.acme, self.htlc["a"])):  # fmt: skip
            await wallet.transact(token, ERC20.fn("approve"), htlc, 2**255)
        sent = [
            await self.buyer_b.send(self.htlc["b"], HTLC.fn("lock").encode(
                self.dusd, self.seller.address, PRICE, hashlock_of(t.secret), t_b),
                what="lock payment", gas=300_000)
            for t in trades
        ]  # fmt: skip
        for trade, receipt in zip(trades, await self.buyer_b.wait(sent), strict=True):
            trade.payment = _lock_id(receipt)
        sent = [
            await self.seller_a.send(self.htlc["a"], HTLC.fn("lock").encode(
                self.acme, self.buyer.address, AMOUNT, hashlock_of(t.secret), t_a),
                what="lock asset", gas=400_000)
            for t in trades
        ]  # fmt: skip
        for trade, receipt in zip(trades, await self.seller_a.wait(sent), strict=True):
            trade.asset = _lock_id(receipt)
        return trades

    async def claim(self, trade: Trade) -> Sent:
        data = HTLC.fn("claim").encode(trade.asset, trade.secret)
        sent = await self.buyer_a.send(self.htlc["a"], data, what="claim", gas=200_000)
        trade.claim_tx = sent.hash
        return sent


async def watch(desk: Desk, trades: list[Trade], within: float) -> None:
    """Poll every 50 ms: when each claim's receipt and each payment's settlement appear."""
    deadline = time.monotonic() + within
    state = HTLC.fn("getLock")
    while any(t.paid_seen == 0 for t in trades):
        if time.monotonic() > deadline:
            unpaid = sum(1 for t in trades if t.paid_seen == 0)
            raise RuntimeError(f"{unpaid} seller(s) not paid within {within:g}s")
        waiting = [t for t in trades if t.claim_tx and t.claim_seen == 0]
        if waiting:
            receipts = await desk.rpc["a"].batch(
                [("eth_getTransactionReceipt", [t.claim_tx]) for t in waiting]
            )
            now = time.time()
            for trade, receipt in zip(waiting, receipts, strict=True):
                if receipt:
                    assert int(receipt["status"], 16) == 1, f"claim {trade.claim_tx} reverted"
                    trade.claim_seen = now
        claimed = [t for t in trades if t.claim_seen and t.paid_seen == 0]
        if claimed:
            calls = [("eth_call", [{"to": desk.htlc["b"], "data": "0x" + state.encode(
                t.payment).hex()}, "latest"]) for t in claimed]  # fmt: skip
            answers = await desk.rpc["b"].batch(calls)
            now = time.time()
            for trade, answer in zip(claimed, answers, strict=True):
                (lock,) = state.decode(bytes.fromhex(answer[2:]))
                if int(lock[2]) == 2:  # Claimed
                    trade.paid_seen = now
        await asyncio.sleep(0.05)


async def block_times(desk: Desk, trades: list[Trade]) -> None:
    """The block timestamps of every trade's two Claimed events."""
    claimed = "0x" + HTLC.event("Claimed").topic.hex()
    for chain, attr, lock in (("a", "claimed_block_time", "asset"),
                              ("b", "paid_block_time", "payment")):  # fmt: skip
        rpc = desk.rpc[chain]
        start = desk.lab.deployment.chain(chain).start_block
        logs = await rpc.logs(desk.htlc[chain], start, await rpc.block_number(), [claimed])
        by_lock = {bytes.fromhex(log["topics"][1][2:]): int(log["blockNumber"], 16) for log in logs}
        stamps: dict[int, int] = {}
        for trade in trades:
            number = by_lock[getattr(trade, lock)]
            if number not in stamps:
                stamps[number] = (await rpc.block(number)).timestamp
            setattr(trade, attr, stamps[number])


async def run(lab: Lab, spaced: int, burst: int, store_path: Path) -> dict[str, list[Trade]]:
    store = await open_store(
        f"sqlite:///{store_path}", owner=relayer_owner(lab.config.accounts.relayer.address)
    )
    relayer = Relayer(lab.config, lab.deployment, store, serve_telemetry=False)
    task = asyncio.create_task(relayer.run())
    desk = Desk(lab)
    try:
        await asyncio.wait_for(relayer.started.wait(), 60)
        trades = await desk.open_trades(spaced + burst)
        await asyncio.sleep(3)  # the relayer indexes the locks
        spaced_trades, burst_trades = trades[:spaced], trades[spaced:]
        watcher = asyncio.create_task(watch(desk, spaced_trades, 120 + spaced * 3))
        rng = random.Random(7)
        for trade in spaced_trades:
            await desk.claim(trade)
            await asyncio.sleep(rng.uniform(0.4, 2.2))
        await watcher
        if burst_trades:
            watcher = asyncio.create_task(watch(desk, burst_trades, 120))
            for trade in burst_trades:
                await desk.claim(trade)
            await watcher
        await block_times(desk, trades)
        return {"spaced": spaced_trades, "burst": burst_trades}
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await desk.close()
        await store.close()


def _lock_id(receipt: dict[str, object]) -> bytes:
    for event, values, _raw in contracts.decode_logs(HTLC, receipt["logs"]):  # type: ignore[arg-type]
        if event.name == "Locked":
            return bytes(values["lockId"])
    raise RuntimeError("a lock emitted no Locked event")


def describe(name: str, trades: list[Trade]) -> list[str]:
    blocks = [float(t.blocks_latency) for t in trades]
    seen = [t.seen_latency for t in trades]
    spread = Counter(t.blocks_latency for t in trades)
    return [
        f"| {name} | {len(trades)} | {percentile(blocks, 50):.1f} | {percentile(blocks, 99):.1f} "
        f"| {max(blocks):.0f} | {percentile(seen, 50):.2f} | {percentile(seen, 99):.2f} "
        f"| {max(seen):.2f} | {', '.join(f'{k} s: {v}' for k, v in sorted(spread.items()))} |"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=60, help="claims spaced apart")
    parser.add_argument("--burst", type=int, default=20, help="claims sent at once")
    parser.add_argument("--block-time", type=float, default=1.0)
    args = parser.parse_args()
    configure_logging("console", "warning")
    with tempfile.TemporaryDirectory(prefix="stbridge-dvp-bench-") as tmp:
        started = time.monotonic()
        lab = build_lab(Path(tmp), block_time=args.block_time)
        try:
            results = asyncio.run(run(lab, args.trades, args.burst, Path(tmp) / "relayer.db"))
        finally:
            devnet.down(lab.home)
        elapsed = time.monotonic() - started
    header = [
        "| claims | trades | p50 (blocks' time, s) | p99 | max | p50 (observed, s) | p99 | max "
        "| distribution (block time delta: trades) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    table = header + [
        line for name, trades in results.items() if trades for line in describe(name, trades)
    ]
    chain = lab.config.chains[0]
    lines = [
        "From the buyer's claim mined on chain a (the secret revealed) to the relayer's claim "
        "of the payment mined on chain b (the seller paid). *Blocks' time*: the difference "
        "of the two blocks' timestamps (whole seconds, as the chains keep them). *Observed*: "
        "the wall-clock moments a 50 ms poller first saw the claim's receipt and the "
        "payment lock claimed.",
        "",
        *table,
        "",
        "Where the time goes: the relayer's indexer reads only confirmed logs, so it sees the "
        "claim once the next block of a is out (1 confirmation), within one poll; the "
        "watcher then sends its claim at once, and it is mined in the next block of b. Two "
        "chains started together tick together, so that is the second block after the "
        "buyer's claim. More confirmations, a longer poll or slower blocks add to it; the "
        "margin the tools demand (`[dvp] margin_seconds`, 42 s by default on this devnet) "
        "is the budget it must fit in.",
        "",
        "Settings: two anvil chains (Foundry 1.7.1), block time "
        f"{chain.block_time:g} s, {chain.confirmations} confirmation(s); the relayer in the "
        "benchmark's process with the devnet config (`relayer.poll_interval` "
        f"{lab.config.relayer.poll_interval:g} s, SQLite store); spaced claims 0.4 to 2.2 s "
        "apart (seeded), the burst sent back to back; 1 ACME against 100 dUSD per trade; "
        f"{describe_machine()}, a machine shared with other work. Run time {elapsed:.0f} s.",
        "",
        "    .venv/bin/python -m bench.dvp_settlement "
        f"--trades {args.trades} --burst {args.burst} --block-time {args.block_time:g}",
    ]
    print("\n".join(table))
    path = write_report("dvp-settlement", "DvP settlement time", lines)
    print(f"report: {path}")


if __name__ == "__main__":
    main()
