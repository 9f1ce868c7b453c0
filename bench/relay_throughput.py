"""Relay throughput end to end, and the chain's own ceiling, on two anvil chains.

    .venv/bin/python -m bench.relay_throughput [--transfers 20000] [--rate 0]
        [--block-time 1] [--gas-limit 150000000] [--senders 40] [--drain 20000]
        [--ceiling 20000] [--peer 10000] [--runs 3] [--busy 0]

1. A devnet like a busy layer-2 (1 s blocks, 150M gas per block), stbridge deployed,
   ``--senders`` funded investors.
2. ``--transfers`` bridge sends a->b, pre-signed, pushed as fast as the node takes them
   (or at ``--rate`` per second), with ``stbridge run`` relaying. Measured from the
   dispatch block to the delivery block (block timestamps): transfers per second over
   the run, latency p50/p99, gas per delivered transfer, the relayer's CPU and peak RSS.
3. The drain: ``--drain`` more sends with the relayer stopped, then the relayer started
   on the backlog. A send costs about three times the gas of its delivery, so in step 2
   the dispatch chain bounds the rate; here the relayer alone does: deliveries per
   second from its first delivery block to its last.
4. The ceiling: ``--ceiling`` more sends with the relayer stopped, then the same
   deliveries pre-built (proofs, signatures, calldata) and sent straight to the node:
   the rate the chain itself delivers, so the relayer's share of the cost is seen.
   Also the ceiling by gas: the block's gas per second over the gas of one delivery.
5. The peer: ``--peer`` more sends delivered the way a Hyperlane-style relayer does, one
   ``process`` per message with its own proof and signatures (bench/peer.py): its
   transfers/s and gas per transfer beside ours, and the ratios.
6. Step 2 runs ``--runs`` times back to back, then steps 3 to 5 ``--runs`` times, all on
   the same chains (each flat-out relayer starts caught up); the report gives each run (drain,
   ceiling, their ratio, every drain block with its deliveries and share of the block's
   gas; the peer) and the median with the spread.
   ``--busy N`` runs N cores of CPU load (stress-ng) beside the whole measurement.

Prints a table and writes bench/reports/relay-<date>.md (relay-busyN-<date>.md with load).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_account import Account

from bench.harness import (
    Busy,
    Lab,
    RelayerProcess,
    add_run_options,
    build_lab,
    current_nonces,
    median_spread,
    percentile,
    presign_transfers,
    print_rows,
    provenance,
    push,
    require_py_spy,
    signed_checkpoint,
    summary,
    write_report,
)
from bench.peer import peer_drain
from chains import devnet
from relayer.chain import contracts
from relayer.chain.rpc import ChainRpc
from relayer.core.hashing import keccak256
from relayer.core.merkle import MessageTree
from relayer.core.message import decode_message, message_id


def hexdata(fn: Any, m: Any) -> str:
    return "0x" + fn.encode(m.origin, m.nonce).hex()


def count_delivered(
    store: Path, after_block: int | None = None, dispatched_after: int | None = None
) -> int:
    """Delivered transfers; with ``after_block``, only those delivered in a later block
    (a later run's relayer finds the ceiling's transfers delivered, in no block of its own);
    with ``dispatched_after``, only those dispatched in a later origin block (this run's)."""
    if not store.exists():
        return 0
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        return int(
            db.execute(
                "SELECT count(*) FROM messages WHERE status = 'delivered' AND kind = 1"
                " AND (? IS NULL OR delivered_block > ?) AND (? IS NULL OR dispatch_block > ?)",
                (after_block, after_block, dispatched_after, dispatched_after),
            ).fetchone()[0]
        )


async def wait_all_delivered(
    store: Path,
    expected: int,
    within: float,
    after_block: int | None = None,
    dispatched_after: int | None = None,
) -> None:
    deadline = time.monotonic() + within
    done = 0
    while time.monotonic() < deadline:
        done = await asyncio.to_thread(count_delivered, store, after_block, dispatched_after)
        if done >= expected:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"only {done} of {expected} transfers delivered in {within:g}s")


def delivery_stats(store: Path, dispatched_after: int) -> dict[str, Any]:
    """The transfers dispatched after origin block ``dispatched_after`` (this run's)."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT dispatched_at, delivered_at, dispatch_block, delivered_block FROM messages "
            "WHERE status = 'delivered' AND kind = 1 AND delivered_at IS NOT NULL"
            " AND dispatch_block > ?",
            (dispatched_after,),
        ).fetchall()
        txs = [
            r[0]
            for r in db.execute(
                "SELECT DISTINCT deliver_tx FROM messages WHERE status = 'delivered'"
                " AND kind = 1 AND dispatch_block > ? AND deliver_tx IS NOT NULL",
                (dispatched_after,),
            )
        ]
    latencies = [d - s for s, d, _b0, _b1 in rows if d and s]
    first, last = min(r[0] for r in rows), max(r[1] for r in rows)
    dispatched = sorted(r[0] for r in rows)
    delivered = sorted(r[1] for r in rows)
    return {
        "rows": rows,
        "latencies": latencies,
        "span": last - first,
        "txs": txs,
        "dispatch_rate": steady_rate(dispatched),
        "delivery_rate": steady_rate(delivered),
    }


def steady_rate(times: list[float]) -> float:
    """Events per second between the 10th and the 90th percentile of their times: the
    sustained rate, without the ramp at the start and the tail at the end."""
    if len(times) < 10:
        return float("nan")
    low, high = percentile(times, 10), percentile(times, 90)
    if high <= low:
        return float("nan")  # all in one block: too few blocks to tell a sustained rate
    inside = sum(1 for t in times if low <= t <= high)
    return inside / (high - low)


async def gas_of(url: str, chain: Any, txs: list[str]) -> tuple[int, int]:
    rpc = ChainRpc(chain)
    try:
        total, messages = 0, 0
        process = contracts.load("Mailbox").event("Process")
        for first in range(0, len(txs), 100):
            receipts = await rpc.batch(
                [("eth_getTransactionReceipt", [h]) for h in txs[first : first + 100]]
            )
            for receipt in receipts:
                total += int(receipt["gasUsed"], 16)
                messages += sum(
                    1
                    for log in receipt["logs"]
                    if bytes.fromhex(log["topics"][0][2:]) == process.topic
                )
        return total, messages
    finally:
        await rpc.close()


async def wait_mined(rpc: ChainRpc, raws: list[bytes], senders: int) -> None:
    """Until the last send of every sender is mined (round robin: the last ``senders``)."""
    hashes = ["0x" + keccak256(raw).hex() for raw in raws[-senders:]]
    deadline = time.monotonic() + 300
    while not all(await rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])):
        if time.monotonic() > deadline:
            raise RuntimeError("dispatches not mined within 300 s")
        await asyncio.sleep(0.2)


FULL = 0.90  # a drain block counts as full at 90% of the block's gas limit


async def block_fill(
    rpc: ChainRpc, first: int, last: int, deliveries: dict[int, int]
) -> list[dict[str, int]]:
    """Every block from ``first`` to ``last`` (empty ones too): deliveries, transactions,
    gas used and the block's gas limit, as the chain reports them."""
    numbers = list(range(first, last + 1))
    raws = await rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
    return [
        {
            "number": n,
            "deliveries": deliveries.get(n, 0),
            "txs": len(raw["transactions"]),
            "gas_used": int(raw["gasUsed"], 16),
            "gas_limit": int(raw["gasLimit"], 16),
        }
        for n, raw in zip(numbers, raws, strict=True)
    ]


def fill(block: dict[str, int]) -> float:
    return block["gas_used"] / max(block["gas_limit"], 1)


def describe_block(block: dict[str, int]) -> str:
    return (
        f"block {block['number']}: {block['deliveries']:5d} deliveries, {block['txs']:3d} txs, "
        f"gas used {block['gas_used']:,} ({fill(block):.0%} of {block['gas_limit']:,})"
    )


def all_but_last_full(blocks: list[dict[str, int]]) -> bool:
    """Whether every block but the last is at least ``FULL`` of its gas limit."""
    return all(fill(b) >= FULL for b in blocks[:-1])


def fill_list(blocks: list[dict[str, int]]) -> str:
    """``4,700 (99%), 4,700 (99%), 1,200 (25%)``: deliveries and gas share per block."""
    return ", ".join(f"{b['deliveries']:,} ({fill(b):.0%})" for b in blocks)


async def next_block(rpc: ChainRpc, within: float = 60.0) -> int:
    """Wait until the chain seals a new block; its number. Polled every 20 ms, so what is
    sent right after lands in the pool at the start of a block interval."""
    start = await rpc.block_number()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        number = await rpc.block_number()
        if number > start:
            return number
    raise RuntimeError(f"no new block within {within:g} s")


async def drain(
    lab: Lab, work: Path, config_file: Path, store: Path, count: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Dispatch ``count`` transfers with the relayer stopped, then start it and measure
    how fast it delivers the backlog: its own rate, not bounded by the dispatch chain."""
    a, b = lab.config.chain("a"), lab.config.chain("b")
    nonces = await current_nonces(lab, "a")
    raws = presign_transfers(lab, count, origin="a", destination="b", nonces=nonces)
    rpc_a, rpc_b = ChainRpc(a), ChainRpc(b)
    try:
        await push(a.rpc_url, raws)
        await wait_mined(rpc_a, raws, len(lab.senders))
        head = await rpc_b.block(await rpc_b.block_number())
        profile = args.profile.with_suffix(".drain.txt") if args.profile else None
        relayer = RelayerProcess(lab, config_file, work / "relayer-drain.log", profile=profile)
        try:
            await wait_all_delivered(
                store, count, within=max(300, count / 20), after_block=head.number
            )
            usage = relayer.stop()
        finally:
            relayer.stop()
            if args.keep_log:
                args.keep_log.with_suffix(".drain.log").write_bytes(
                    (work / "relayer-drain.log").read_bytes()
                )
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            (first, last, blocks) = db.execute(
                "SELECT min(delivered_at), max(delivered_at), count(DISTINCT delivered_block)"
                " FROM messages WHERE status = 'delivered' AND kind = 1 AND delivered_block > ?",
                (head.number,),
            ).fetchone()
            per_block = db.execute(
                "SELECT delivered_block, count(*) FROM messages WHERE status = 'delivered'"
                " AND kind = 1 AND delivered_block > ? GROUP BY delivered_block",
                (head.number,),
            ).fetchall()
        counts = dict(per_block)
        drain_blocks = await block_fill(
            rpc_b, min(counts, default=head.number + 1), max(counts, default=head.number), counts
        )
        for blk in drain_blocks:
            print(f"    {describe_block(blk)}")
        seconds = max(last - first + b.block_time, b.block_time)
        return {
            "transfers": count,
            "blocks": blocks,
            "per_second": count / seconds,
            "from_start": last - head.timestamp,
            "cpu_seconds": usage.cpu_seconds,
            "block_list": drain_blocks,
            "all_full": all_but_last_full(drain_blocks),
            # the relayer's own batches on a backlog (only its deliveries go to chain b here)
            "gas_per_transfer": sum(blk["gas_used"] for blk in drain_blocks)
            / max(sum(blk["deliveries"] for blk in drain_blocks), 1),
        }
    finally:
        await rpc_a.close()
        await rpc_b.close()


async def ceiling(lab: Lab, count: int) -> dict[str, Any]:
    """Dispatch ``count`` transfers with no relayer, then deliver them with pre-built batches."""
    a, b = lab.config.chain("a"), lab.config.chain("b")
    nonces = await current_nonces(lab, "a")
    raws = presign_transfers(lab, count, origin="a", destination="b", nonces=nonces)
    await push(a.rpc_url, raws)
    rpc_a, rpc_b = ChainRpc(a), ChainRpc(b)
    try:
        await wait_mined(rpc_a, raws, len(lab.senders))
        mailbox_a = lab.deployment.chain("a").address("Mailbox")
        mailbox_b = lab.deployment.chain("b").address("Mailbox")
        mailbox = contracts.load("Mailbox")
        dispatch = mailbox.event("Dispatch")
        start = lab.deployment.chain("a").start_block
        head = await rpc_a.block_number()
        logs = await rpc_a.logs(mailbox_a, start, head, ["0x" + dispatch.topic.hex()])
        messages = [bytes(dispatch.decode(log)["message"]) for log in logs]
        tree = MessageTree()
        for raw in messages:
            tree.append(message_id(raw))
        index = tree.count - 1
        _checkpoint, signatures = signed_checkpoint(lab, a.chain_id, mailbox_a, tree.root(), index)
        delivered_fn = mailbox.fn("delivered")
        wanted = [decode_message(raw) for raw in messages]
        wanted = [m for m in wanted if m.destination == b.chain_id]
        answers: list[Any] = []
        for first in range(0, len(wanted), 500):
            answers += await rpc_b.batch(
                [
                    (
                        "eth_call",
                        [{"to": mailbox_b, "data": hexdata(delivered_fn, m)}, "latest"],
                    )
                    for m in wanted[first : first + 500]
                ]
            )  # fmt: skip
        pending = [
            m.encode() for m, done in zip(wanted, answers, strict=True) if int(done, 16) == 0
        ]
        batch_fn = mailbox.fn("processBatch")
        relayer = lab.config.accounts.relayer
        nonce = await rpc_b.nonce(relayer.address, "pending")
        calldata = []
        for first in range(0, len(pending), 100):
            chunk = pending[first : first + 100]
            start = decode_message(chunk[0]).nonce
            proof = tree.range_proof(start, start + len(chunk) - 1, index)
            calldata.append(
                batch_fn.encode((a.chain_id, tree.root(), index), signatures, chunk, proof)
            )
        # each batch's gas from the node's estimate, as the relayer's own first batches: a
        # fixed per-message figure is too little for deliveries that write fresh storage (the
        # first credit of a recipient on a chain no relayer has served yet), which reverted
        estimates: list[Any] = []
        for first in range(0, len(calldata), 5):  # anvil refuses a request body of a few MB
            estimates += await rpc_b.batch(
                [
                    (
                        "eth_estimateGas",
                        [{"from": relayer.address, "to": mailbox_b, "data": "0x" + data.hex()}],
                    )
                    for data in calldata[first : first + 5]
                ]
            )  # fmt: skip
        signed = []
        for data, estimate in zip(calldata, estimates, strict=True):
            tx = {
                "type": 2, "chainId": b.chain_id, "nonce": nonce,
                "gas": int(estimate, 16) * 11 // 10,
                "maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10**9,
                "to": mailbox_b, "value": 0,
                "data": data,
            }  # fmt: skip
            nonce += 1
            signed.append(bytes(Account.sign_transaction(tx, relayer.secret()).raw_transaction))
        # right after a block is sealed, so the first block is not cut short by when the
        # push happened to start: the chain's best, which the relayer's drain is held to
        await next_block(rpc_b)
        started = time.monotonic()
        await push(b.rpc_url, signed, batch=5)
        hashes = ["0x" + keccak256(raw).hex() for raw in signed]
        receipts: list[Any] = []
        deadline = time.monotonic() + 300
        while True:
            receipts = []
            for first in range(0, len(hashes), 200):
                receipts += await rpc_b.batch(
                    [("eth_getTransactionReceipt", [h]) for h in hashes[first : first + 200]]
                )
            if all(receipts):
                break
            if time.monotonic() > deadline:
                missing = sum(1 for r in receipts if not r)
                raise RuntimeError(f"{missing} of {len(hashes)} pre-built deliveries never mined")
            await asyncio.sleep(0.2)
        failed = [r for r in receipts if int(r["status"], 16) != 1]
        if failed:
            raise RuntimeError(f"{len(failed)} pre-built deliveries reverted")
        elapsed = time.monotonic() - started
        blocks = {int(r["blockNumber"], 16) for r in receipts}
        first_block = await rpc_b.block(min(blocks))
        last_block = await rpc_b.block(max(blocks))
        # as for the drain: from the first block holding a delivery through the last
        chain_seconds = last_block.timestamp - first_block.timestamp + b.block_time
        gas = sum(int(r["gasUsed"], 16) for r in receipts)
        per_block: dict[int, int] = {}
        for receipt in receipts:
            number = int(receipt["blockNumber"], 16)
            per_block[number] = per_block.get(number, 0) + sum(
                1
                for log in receipt["logs"]
                if bytes.fromhex(log["topics"][0][2:]) == mailbox.event("Process").topic
            )
        ceiling_blocks = await block_fill(rpc_b, min(blocks), max(blocks), per_block)
        return {
            "block_list": ceiling_blocks,
            "transfers": len(pending),
            "wall_seconds": elapsed,
            "chain_seconds": chain_seconds,
            "per_second": len(pending) / chain_seconds,
            "gas_per_transfer": gas / max(len(pending), 1),
            "blocks": len(blocks),
        }
    finally:
        await rpc_a.close()
        await rpc_b.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transfers", type=int, default=20_000)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="transfers per second (0: flat out)"
    )
    parser.add_argument("--block-time", type=float, default=1.0)
    parser.add_argument("--gas-limit", type=int, default=150_000_000)
    parser.add_argument("--senders", type=int, default=40)
    parser.add_argument(
        "--ceiling", type=int, default=20_000, help="transfers for the ceiling run (0: skip)"
    )
    parser.add_argument(
        "--drain", type=int, default=20_000, help="backlog for the drain run (0: skip)"
    )
    parser.add_argument(
        "--peer", type=int, default=10_000,
        help="backlog the peer (one process per message, bench/peer.py) delivers (0: skip)",
    )  # fmt: skip
    parser.add_argument("--batch", type=int, default=100, help="relayer.batch_max_messages")
    parser.add_argument("--keep-log", type=Path, help="copy the relayer's log here")
    parser.add_argument(
        "--profile", type=Path, help="write py-spy's collapsed stacks of the relayer here"
    )
    add_run_options(parser)
    args = parser.parse_args()
    if args.runs < 1:
        raise SystemExit(f"--runs {args.runs}: give 1 or more")
    if args.profile:
        require_py_spy()
    busy = Busy(args.busy)  # stops here, in one line, when stress-ng is missing
    header = provenance(args, busy=busy)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    # a SIGTERM (timeout, CI cancelling) unwinds like Ctrl-C: chains and load are stopped
    signal.signal(signal.SIGTERM, _interrupted)

    results: list[dict[str, Any]] = []
    with busy, tempfile.TemporaryDirectory(prefix="stbridge-bench-") as tmp:
        work = Path(tmp)
        print(f"starting two anvil chains ({args.block_time:g} s blocks, {args.gas_limit:,} gas) …")
        lab = build_lab(
            work, block_time=args.block_time, gas_limit=args.gas_limit, senders=args.senders
        )
        try:
            # the flat-out runs first, back to back: each relayer then starts on a store
            # that is caught up (a flat-out run after a drain, a ceiling and a peer would
            # start tens of thousands of messages behind, and measure that catch-up)
            load = "" if not args.busy else " (busy)"
            for index in range(args.runs):
                print(f"flat-out run {index + 1} of {args.runs}{load} …")
                results.append(asyncio.run(run(lab, work, args, index, backlog=False)))
            for index in range(args.runs):
                print(f"backlog run {index + 1} of {args.runs}{load} …")
                results[index].update(asyncio.run(run(lab, work, args, index, flat=False)))
        finally:
            devnet.down(lab.home)
    print_and_report(results, args, header)


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


async def run(
    lab: Lab,
    work: Path,
    args: argparse.Namespace,
    index: int = 0,
    *,
    flat: bool = True,
    backlog: bool = True,
) -> dict[str, Any]:
    """One run on the lab's chains: the flat-out relay (``flat``), then (``backlog``) the
    drain, the ceiling and the peer, each measured on the same chains."""
    store = work / "relayer.db"
    config_file = lab.relayer_config_file(
        work / "relayer.toml",
        store,
        batch_max_messages=args.batch,
        batch_gas_budget=args.gas_limit // 3,
        poll_interval=0.2,
    )  # fmt: skip
    results: dict[str, Any] = {}
    if flat and args.transfers:
        results.update(await flat_out(lab, work, config_file, store, args))
    if not backlog:
        return results
    if args.drain:
        print(f"measuring the relayer draining a backlog of {args.drain:,} …")
        results["drain"] = await drain(lab, work, config_file, store, args.drain, args)
    if args.ceiling:
        print(f"measuring the chain's ceiling with {args.ceiling:,} pre-built deliveries …")
        results["ceiling"] = await ceiling(lab, args.ceiling)
    if args.peer:
        # a Hyperlane-style relayer (one process per message) on the same chains, same run
        print(f"measuring the peer (one process per message) with {args.peer:,} …")
        results["peer"] = await peer_drain(lab, args.peer)
    return results


async def flat_out(
    lab: Lab, work: Path, config_file: Path, store: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """``--transfers`` sends pushed flat out (or at ``--rate``) with the relayer running."""
    a = lab.config.chain("a")
    nonces = await current_nonces(lab, "a")
    print(f"signing {args.transfers:,} transfers …")
    signing = time.monotonic()
    raws = presign_transfers(lab, args.transfers, origin="a", destination="b", nonces=nonces)
    signing = time.monotonic() - signing
    rpc_a = ChainRpc(a)
    try:
        head = await rpc_a.block_number()  # this run's transfers are dispatched after it
    finally:
        await rpc_a.close()
    relayer = RelayerProcess(lab, config_file, work / "relayer.log", profile=args.profile)
    try:
        await asyncio.sleep(3)
        print("dispatching …")
        push_seconds = await push(a.rpc_url, raws, rate=args.rate or None)
        sampler = asyncio.create_task(_sample(relayer))
        await wait_all_delivered(
            store, args.transfers, within=max(300, args.transfers / 20), dispatched_after=head
        )
        sampler.cancel()
        usage = relayer.stop()
    finally:
        relayer.stop()
        if args.keep_log:
            args.keep_log.write_bytes((work / "relayer.log").read_bytes())
    stats = delivery_stats(store, head)
    gas, delivered_in_txs = await gas_of(
        lab.config.chain("b").rpc_url, lab.config.chain("b"), stats["txs"]
    )
    results: dict[str, Any] = {
        "transfers": args.transfers,
        "signing_seconds": signing,
        "push_seconds": push_seconds,
        "span_seconds": stats["span"],
        "per_second": args.transfers / max(stats["span"], 1e-9),
        "dispatch_rate": stats["dispatch_rate"],
        "delivery_rate": stats["delivery_rate"],
        "latencies": stats["latencies"],
        "gas_per_transfer": gas / max(delivered_in_txs, 1),
        "cpu_seconds": usage.cpu_seconds,
        "peak_rss_mb": usage.peak_rss_mb,
        "batches": len(stats["txs"]),
    }
    print(
        f"relayed {args.transfers:,}: sustained {results['delivery_rate']:.0f}/s, "
        f"latency {summary(results['latencies'])} s, "
        f"gas/transfer {results['gas_per_transfer']:,.0f}, "
        f"CPU {usage.cpu_seconds:.1f} s, peak RSS {usage.peak_rss_mb:.0f} MB"
    )
    return results


async def _sample(relayer: RelayerProcess) -> None:
    while True:
        relayer.sample()
        await asyncio.sleep(1)


def print_and_report(
    results: list[dict[str, Any]], args: argparse.Namespace, header: list[str]
) -> None:
    first = results[0]
    rows = flat_out_rows(first, args) if "transfers" in first else []
    if "ceiling" in first:
        c = first["ceiling"]
        if "delivery_rate" in first:
            rows += [
                (
                    "flat-out sustained delivery / measured ceiling",
                    f"{first['delivery_rate'] / c['per_second']:.0%} "
                    "(bounded by the dispatch chain)",
                ),
            ]
    drain_lines, figures = drain_section(results, args)
    flat_lines = flat_out_medians(results, figures)
    peer_lines = peer_section(results, figures)
    if rows:
        print_rows(rows)
    print()
    for line in [*flat_lines, *drain_lines, *peer_lines]:
        print(f"  {line}")
    settings = (
        f"two anvil 1.7.1 chains, {args.block_time:g} s blocks, {args.gas_limit:,} gas per block, "
        f"{args.senders} senders, relayer batch {args.batch}, SQLite store"
    )
    lines = [*header, f"Settings: {settings}.", ""]
    if rows:
        lat = first["latencies"]
        lines += ["## Flat out (the first run in detail)", "", "| measure | value |",
                  "| --- | --- |"]  # fmt: skip
        lines += [f"| {k} | {v} |" for k, v in rows]
        lines += ["", f"p50 latency {percentile(lat, 50):.2f} s, p99 {percentile(lat, 99):.2f} s "
                  f"(block time {args.block_time:g} s).", ""]  # fmt: skip
    lines += [*flat_lines, *drain_lines, *peer_lines]
    name = f"relay-rate{args.rate:g}" if args.rate else "relay"
    if args.busy:
        name += f"-busy{args.busy}"
    path = write_report(name, "Relay throughput", lines, figures=figures)
    print(f"\nreport: {path}")


def flat_out_medians(results: list[dict[str, Any]], figures: dict[str, float]) -> list[str]:
    """The flat-out figures of every run: the median and its spread."""
    runs = [r for r in results if "delivery_rate" in r]
    if not runs:
        return []
    p99 = [percentile(r["latencies"], 99) for r in runs]
    figures["flat_out_per_second"] = statistics.median(r["delivery_rate"] for r in runs)
    figures["flat_out_p99_seconds"] = statistics.median(p99)
    return [
        f"## Flat out, every run ({len(runs)})",
        "",
        "| figure | median (min-max) |",
        "| --- | --- |",
        f"| sustained delivery rate (10th-90th percentile) | "
        f"{median_spread([r['delivery_rate'] for r in runs])} |",
        f"| transfers per second, end to end | {median_spread([r['per_second'] for r in runs])} |",
        f"| latency p99, dispatch block -> delivery block (s) | {median_spread(p99, '{:.2f}')} |",
        f"| latency max (s) | {median_spread([max(r['latencies']) for r in runs], '{:.2f}')} |",
        f"| gas per delivered transfer | {median_spread([r['gas_per_transfer'] for r in runs])} |",
        f"| relayer CPU (s) | {median_spread([r['cpu_seconds'] for r in runs], '{:.1f}')} |",
        f"| relayer peak RSS (MB) | {median_spread([r['peak_rss_mb'] for r in runs])} |",
        "",
    ]


def peer_section(results: list[dict[str, Any]], figures: dict[str, float]) -> list[str]:
    """The peer (one ``process`` per message) beside our drain, run by run, and the ratios."""
    runs = [r for r in results if "peer" in r]
    if not runs:
        return []
    lines = [
        f"## A peer beside us: one `process` per message ({len(runs)} runs, bench/peer.py)",
        "",
        "A Hyperlane-style relayer: each message its own transaction with its own proof and "
        "the checkpoint's signatures, every transaction signed before the first is sent and "
        "sent right after a block (its best case); measured as the drain is.",
        "",
        "| run | peer/s | peer gas per transfer | our drain/s | ours / peer, rate "
        "| our gas per transfer (the drain's batches) | ours / peer, gas |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    rates, gas, rate_ratio, gas_ratio = [], [], [], []
    for n, r in enumerate(runs, 1):
        p = r["peer"]
        rates.append(p["per_second"])
        gas.append(p["gas_per_transfer"])
        ours = r.get("drain", {}).get("per_second")
        our_gas = r.get("drain", {}).get("gas_per_transfer")
        if ours:
            rate_ratio.append(ours / p["per_second"])
        if our_gas:
            gas_ratio.append(our_gas / p["gas_per_transfer"])
        lines.append(
            f"| {n} | {p['per_second']:,.0f} | {p['gas_per_transfer']:,.0f} | "
            + (f"{ours:,.0f} | {ours / p['per_second']:.2f} |" if ours else "- | - |")
            + (
                f" {our_gas:,.0f} | {our_gas / p['gas_per_transfer']:.2f} |"
                if our_gas
                else " - | - |"
            )
        )
    lines += [
        "",
        f"Median: the peer {median_spread(rates)} transfers/s at {median_spread(gas)} gas each; "
        f"ours / peer {median_spread(rate_ratio, '{:.2f}')} in rate and "
        f"{median_spread(gas_ratio, '{:.2f}')} in gas per transfer.",
        "",
    ]
    figures["peer_per_second"] = statistics.median(rates)
    figures["peer_gas_per_transfer"] = statistics.median(gas)
    if rate_ratio:
        figures["ours_over_peer_rate"] = statistics.median(rate_ratio)
    if gas_ratio:
        figures["ours_over_peer_gas"] = statistics.median(gas_ratio)
    return lines


def flat_out_rows(r: dict[str, Any], args: argparse.Namespace) -> list[tuple[str, str]]:
    lat = r["latencies"]
    return [
        ("transfers relayed", f"{r['transfers']:,}"),
        ("dispatch rate asked", "flat out" if not args.rate else f"{args.rate:g}/s"),
        ("first dispatch to last delivery (chain time)", f"{r['span_seconds']:.1f} s"),
        ("transfers per second, end to end (all / span)", f"{r['per_second']:.0f}"),
        ("sustained delivery rate (10th-90th percentile)", f"{r['delivery_rate']:.0f}/s"),
        ("sustained dispatch rate on chain a, for scale", f"{r['dispatch_rate']:.0f}/s"),
        ("latency dispatch block -> delivery block", f"{summary(lat)} s"),
        ("gas per delivered transfer (batches, full tx)", f"{r['gas_per_transfer']:,.0f}"),
        ("delivery transactions", f"{r['batches']:,}"),
        (
            "relayer CPU",
            f"{r['cpu_seconds']:.1f} s "
            f"({r['cpu_seconds'] / max(r['span_seconds'], 1):.0%} of a core)",
        ),
        ("relayer peak RSS", f"{r['peak_rss_mb']:.0f} MB"),
    ]


def drain_section(
    results: list[dict[str, Any]], args: argparse.Namespace
) -> tuple[list[str], dict[str, float]]:
    """Per run and the median with its spread: the drain, the ceiling, their ratio, and
    how full each drain block is; plus the headline figures for the report's sidecar."""
    runs = [r for r in results if "drain" in r or "ceiling" in r]
    if not runs:
        return [], {}
    lines = [
        f"## Draining a backlog of {args.drain:,} against the chain's ceiling "
        f"({len(runs)} run{'s' if len(runs) > 1 else ''})",
        "",
        "Each run: the backlog dispatched with the relayer stopped, then the relayer started "
        "on it (drain: deliveries per second from its first delivery block through its "
        "last); then as many deliveries pre-built and pushed to the node right after a block "
        "(ceiling), on the same chains. A block is full at "
        f"{FULL:.0%} of its gas limit; the last block of a drain holds what is left.",
        "",
        "| run | drain/s | ceiling/s | drain / ceiling | drain blocks: deliveries (% of block gas) "
        "| all but the last >= 90% full | ceiling blocks |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    rates, ceilings, ratios, counts, gas_each = [], [], [], [], []
    verdicts = []
    for n, r in enumerate(runs, 1):
        d, c = r.get("drain"), r.get("ceiling")
        ratio = d["per_second"] / c["per_second"] if d and c else float("nan")
        if d:
            rates.append(d["per_second"])
            counts.append(float(len(d["block_list"])))
            verdicts.append(d["all_full"])
        if c:
            ceilings.append(c["per_second"])
            gas_each.append(c["gas_per_transfer"])
        if d and c:
            ratios.append(ratio)
        lines.append(f"| {n} | {d['per_second']:,.0f} |" if d else f"| {n} | - |")
        lines[-1] += f" {c['per_second']:,.0f} |" if c else " - |"
        lines[-1] += f" {ratio:.0%} |" if d and c else " - |"
        lines[-1] += (
            f" {len(d['block_list'])}: {fill_list(d['block_list'])} | "
            f"{'yes' if d['all_full'] else 'no'} |"
            if d
            else " - | - |"
        )
        lines[-1] += f" {len(c['block_list'])}: {fill_list(c['block_list'])} |" if c else " - |"
    lines += [
        "",
        "| figure | median (min-max) |",
        "| --- | --- |",
        f"| drain, deliveries per second | {median_spread(rates)} |",
        f"| ceiling, deliveries per second | {median_spread(ceilings)} |",
        f"| drain / ceiling | {median_spread([x * 100 for x in ratios], '{:.0f}%')} |",
        f"| drain blocks | {median_spread(counts)} |",
        f"| ceiling, gas per transfer | {median_spread(gas_each)} |",
        f"| ceiling by gas (block gas per second / gas per transfer) | "
        f"{median_spread([args.gas_limit / args.block_time / g for g in gas_each])} |",
        f"| runs with every drain block but the last >= 90% full | "
        f"{sum(verdicts)} of {len(verdicts)} |",
        "",
    ]
    if ratios:
        ok = statistics.median(ratios) >= 0.9 and all(verdicts)
        lines += [
            f"Goal (drain >= 90% of the ceiling in the median, every drain block but the last "
            f">= 90% full): {'met' if ok else 'not met'}"
            + (f" with {args.busy} core(s) of load beside it." if args.busy else "."),
            "",
        ]
    figures: dict[str, float] = {}
    if rates:
        figures["drain_per_second"] = statistics.median(rates)
        figures["drain_blocks"] = statistics.median(counts)
    if ceilings:
        figures["ceiling_per_second"] = statistics.median(ceilings)
    if ratios:
        figures["drain_over_ceiling"] = statistics.median(ratios)
    return lines, figures


if __name__ == "__main__":
    main()
