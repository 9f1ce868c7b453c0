"""The peer: a backlog delivered the way a general-purpose relayer (Hyperlane's) delivers it.

    .venv/bin/python -m bench.peer [--transfers 10000] [--runs 3] [--busy 0]
        [--block-time 1] [--gas-limit 150000000] [--senders 40]

Hyperlane's relayer delivers every message by itself. For each one it checks the message
is not yet delivered, builds the metadata the recipient's security module asks for (for a
multisig module over the Merkle root: a checkpoint of the origin's tree, the validators'
signatures of it, and the message's own Merkle proof), asks the node to estimate the gas
of ``Mailbox.process(metadata, message)``, adds a fixed buffer (75,000 gas in its EVM
adapter), and submits one transaction for that one message. (Newer releases can pack
process calls into a multicall where a chain is configured for it; the default, and what
is measured here, is one transaction per message.)

The peer does the same on our Mailbox, whose single-message entry point is
``process(checkpoint, signatures, message, proof)``: the same signature checks and a proof
of one leaf, per message. On the lab of bench/harness.py (chains a->b), like the drain of
bench/relay_throughput.py: ``--transfers`` sends a->b with no relayer running, then the
peer reads the Dispatch logs, mirrors the tree, has the checkpoint signed by the lab's
validator keys, and sends one ``process`` per message from the relayer's key: nonces in
sequence, all in flight at once, the gas limit from ``eth_estimateGas`` of one plus the
buffer. Measured as the drain: transfers per second from the first delivery block to the
last (block timestamps, plus one block time), gas per transfer from the receipts, the
blocks used and how full; every message is checked delivered exactly once and every
recipient's balance credited.

The peer is measured at its best: every transaction is prepared and signed before the
first is sent (a Rust relayer signs in microseconds; Python's ~0.5 ms a signature would
otherwise count against it), the preparation is outside the measured span, and the first
is sent just after a block, so its first delivery block is a full one.

Prints the figures and writes bench/reports/peer-<date>.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account

from bench.harness import (
    Busy,
    Lab,
    add_run_options,
    build_lab,
    current_nonces,
    median_spread,
    presign_transfers,
    print_rows,
    provenance,
    push,
    signed_checkpoint,
    write_report,
)
from chains import devnet
from relayer.chain import contracts
from relayer.chain.rpc import ChainRpc
from relayer.core.bodies import Transfer, decode_body
from relayer.core.hashing import keccak256
from relayer.core.merkle import MessageTree, ProofError
from relayer.core.message import decode_message, message_id

HYPERLANE_GAS_BUFFER = 75_000
"""Gas Hyperlane's EVM adapter adds to the node's estimate of a ``process``."""

CEILING_MAX_FEE = 50 * 10**9
"""The max fee of the ceiling's pre-built deliveries (bench/relay_throughput.py): the peer
signs with at least as much, so price never separates the two."""

LOG_CHUNK_BLOCKS = 200
"""Blocks per eth_getLogs when reading the origin's Dispatch logs."""


@dataclass(frozen=True, slots=True)
class PeerDelivery:
    """One message with its own proof against the checkpoint: one ``process`` call."""

    nonce: int
    message: bytes
    proof: list[bytes]


def per_message_proofs(
    tree: MessageTree, messages: Sequence[bytes], index: int
) -> list[PeerDelivery]:
    """Each message with the proof of its one leaf against the checkpoint at ``index``.

    Raises ProofError when a message is not the tree's leaf at its nonce (the mirror and
    the origin disagree), or its nonce is past the checkpoint.
    """
    deliveries = []
    for raw in messages:
        nonce = decode_message(raw).nonce
        if nonce >= tree.count or tree.leaf(nonce) != message_id(raw):
            raise ProofError(f"message {nonce} is not the tree's leaf at {nonce}")
        deliveries.append(PeerDelivery(nonce, raw, tree.range_proof(nonce, nonce, index)))
    return deliveries


def gas_limit(estimate: int) -> int:
    """The gas limit a Hyperlane-style relayer signs with: the node's estimate plus its
    buffer (never below the estimate: an under-priced ``process`` reverts)."""
    return estimate + HYPERLANE_GAS_BUFFER


def fees(base_fee: int, tip: int) -> tuple[int, int]:
    """(max fee, priority fee): room for the base fee to double, as ethers and our relayer
    sign, and at least the ceiling's max fee."""
    return max(2 * base_fee + tip, CEILING_MAX_FEE), tip


def expected_credits(messages: Sequence[bytes]) -> Counter[str]:
    """What each recipient is owed on the destination: the sum of its transfers' amounts."""
    owed: Counter[str] = Counter()
    for raw in messages:
        body = decode_body(decode_message(raw).body)
        if not isinstance(body, Transfer):
            raise ValueError(f"message {decode_message(raw).nonce} is not a transfer")
        owed[body.recipient] += body.amount
    return owed


def fill(gas_used: Sequence[int], limit: int) -> tuple[float, float]:
    """(lowest, mean) share of the block gas limit used, over every block but the last
    (the last holds what is left over, full or not)."""
    full = gas_used[:-1] or gas_used
    shares = [g / limit for g in full]
    return min(shares), statistics.fmean(shares)


async def _wait_receipt(rpc: ChainRpc, tx_hash: str, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while await rpc.receipt(tx_hash) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not mined within {within:g} s")
        await asyncio.sleep(0.2)


async def _next_block(rpc: ChainRpc, within: float) -> None:
    """Return as soon as the node has a block it did not have when called."""
    head = await rpc.block_number()
    deadline = time.monotonic() + within
    while await rpc.block_number() == head:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no new block on {rpc.chain.name} within {within:g} s")
        await asyncio.sleep(0.02)


async def _dispatched(lab: Lab, rpc: ChainRpc, head: int) -> list[bytes]:
    """Every message the origin's mailbox dispatched up to ``head``, in nonce order."""
    mailbox = lab.deployment.chain("a").address("Mailbox")
    dispatch = contracts.load("Mailbox").event("Dispatch")
    topic = ["0x" + dispatch.topic.hex()]
    messages: list[bytes] = []
    for first in range(lab.deployment.chain("a").start_block, head + 1, LOG_CHUNK_BLOCKS):
        last = min(first + LOG_CHUNK_BLOCKS - 1, head)
        messages += [
            bytes(dispatch.decode(log)["message"])
            for log in await rpc.logs(mailbox, first, last, topic)
        ]
    return messages


async def _calls(rpc: ChainRpc, to: str, datas: Sequence[bytes]) -> list[bytes]:
    answers: list[Any] = []
    for first in range(0, len(datas), 500):
        answers += await rpc.batch(
            [("eth_call", [{"to": to, "data": "0x" + d.hex()}, "latest"])
             for d in datas[first : first + 500]]
        )  # fmt: skip
    return [bytes.fromhex(str(a)[2:]) for a in answers]


async def _balances(rpc: ChainRpc, token: str, holders: Sequence[str]) -> list[int]:
    balance_of = contracts.load("SecurityToken").fn("balanceOf")
    answers = await _calls(rpc, token, [balance_of.encode(h) for h in holders])
    return [int.from_bytes(a, "big") for a in answers]


async def peer_drain(lab: Lab, count: int) -> dict[str, float]:
    """Dispatch ``count`` transfers a->b with no relayer running, then deliver them the
    peer's way (one ``process`` per message) and measure it as the drain is measured."""
    a, b = lab.config.chain("a"), lab.config.chain("b")
    rpc_a, rpc_b = ChainRpc(a), ChainRpc(b)
    try:
        first_nonce = int(
            await rpc_a.request(
                "eth_call",
                [{"to": lab.deployment.chain("a").address("Mailbox"),
                  "data": "0x" + contracts.load("Mailbox").fn("count").encode().hex()},
                 "latest"],
            ),
            16,
        )  # fmt: skip
        raws = presign_transfers(
            lab, count, origin="a", destination="b", nonces=await current_nonces(lab, "a")
        )
        await push(a.rpc_url, raws)
        for raw in raws[-len(lab.senders) :]:  # round robin: each sender's last send
            await _wait_receipt(rpc_a, "0x" + keccak256(raw).hex(), 300, "the dispatches")
        return await _deliver(lab, rpc_a, rpc_b, first_nonce, count)
    finally:
        await rpc_a.close()
        await rpc_b.close()


async def _deliver(
    lab: Lab, rpc_a: ChainRpc, rpc_b: ChainRpc, first_nonce: int, count: int
) -> dict[str, float]:
    a, b = lab.config.chain("a"), lab.config.chain("b")
    mailbox = contracts.load("Mailbox")
    mailbox_a = lab.deployment.chain("a").address("Mailbox")
    mailbox_b = lab.deployment.chain("b").address("Mailbox")
    preparing = time.monotonic()

    # index: the origin's messages, and the tree mirrored from them
    head = await rpc_a.block_number()
    messages = await _dispatched(lab, rpc_a, head)
    tree = MessageTree()
    for raw in messages:
        tree.append(message_id(raw))
    on_chain = await rpc_a.call(mailbox_a, mailbox.fn("root").encode(), head)
    if on_chain != tree.root():
        raise RuntimeError("the mirrored tree's root is not the origin mailbox's")
    ours = [raw for raw in messages[first_nonce:] if decode_message(raw).destination == b.chain_id]
    if len(ours) != count:
        raise RuntimeError(f"{len(ours)} of the {count} dispatched transfers found in the logs")

    # the checkpoint, signed by the lab's validators (as the validators would publish it)
    index = tree.count - 1
    _checkpoint, signatures = signed_checkpoint(lab, a.chain_id, mailbox_a, tree.root(), index)

    # per message: not yet delivered, its own proof, its own process call
    delivered_fn = mailbox.fn("delivered")
    deliveries = per_message_proofs(tree, ours, index)
    done = await _calls(
        rpc_b, mailbox_b, [delivered_fn.encode(a.chain_id, d.nonce) for d in deliveries]
    )
    if any(int.from_bytes(x, "big") for x in done):
        raise RuntimeError("some of the peer's messages were delivered before it started")
    process = mailbox.fn("process")
    calldata = [
        process.encode((a.chain_id, tree.root(), index), signatures, d.message, d.proof)
        for d in deliveries
    ]
    relayer = lab.config.accounts.relayer
    estimate = int(
        await rpc_b.request(
            "eth_estimateGas",
            [{"from": relayer.address, "to": mailbox_b, "data": "0x" + calldata[0].hex()}],
        ),
        16,
    )
    limit = gas_limit(estimate)
    latest = await rpc_b.block("latest")
    tip = max(int(await rpc_b.request("eth_maxPriorityFeePerGas"), 16), 1)
    max_fee, priority_fee = fees(latest.base_fee or 0, tip)
    nonce = await rpc_b.nonce(relayer.address, "pending")
    signed = []
    for i, data in enumerate(calldata):
        tx = {
            "type": 2, "chainId": b.chain_id, "nonce": nonce + i, "gas": limit,
            "maxFeePerGas": max_fee, "maxPriorityFeePerGas": priority_fee,
            "to": mailbox_b, "value": 0, "data": data,
        }  # fmt: skip
        signed.append(bytes(Account.sign_transaction(tx, relayer.secret()).raw_transaction))
    recipients = sorted(expected_credits(ours))
    token_b = lab.deployment.tokens[0].addresses["b"]
    before = await _balances(rpc_b, token_b, recipients)
    preparing = time.monotonic() - preparing

    # submit: every transaction in flight, as fast as the node takes them, from just after
    # a block (so the first delivery block is not, by chance, a sliver the span counts whole)
    await _next_block(rpc_b, within=10 * b.block_time + 10)
    started = time.monotonic()
    await push(b.rpc_url, signed, batch=100)
    hashes = ["0x" + keccak256(raw).hex() for raw in signed]
    try:  # one sender, nonces in sequence: the last mined means all are
        await _wait_receipt(rpc_b, hashes[-1], max(300, count / 20), "the peer's last delivery")
    except RuntimeError as exc:
        base = (await rpc_b.block("latest")).base_fee or 0
        raise RuntimeError(f"{exc} (base fee {base:,} wei, signed max fee {max_fee:,})") from exc
    wall = time.monotonic() - started
    receipts: list[Any] = []
    for first in range(0, len(hashes), 500):
        receipts += await rpc_b.batch(
            [("eth_getTransactionReceipt", [h]) for h in hashes[first : first + 500]]
        )
    return await _measure(lab, rpc_b, ours, receipts, recipients, before) | {
        "gas_limit": limit,
        "prepare_seconds": preparing,
        "wall_seconds": wall,
    }


async def _measure(
    lab: Lab,
    rpc_b: ChainRpc,
    ours: Sequence[bytes],
    receipts: Sequence[Any],
    recipients: Sequence[str],
    before: Sequence[int],
) -> dict[str, float]:
    """The drain's figures from the receipts, after checking every message was delivered
    exactly once and every recipient credited what it was sent."""
    a, b = lab.config.chain("a"), lab.config.chain("b")
    mailbox = contracts.load("Mailbox")
    mailbox_b = lab.deployment.chain("b").address("Mailbox")
    failed = [r for r in receipts if not r or int(r["status"], 16) != 1]
    if failed:
        raise RuntimeError(f"{len(failed)} of the peer's {len(receipts)} deliveries failed")
    event = mailbox.event("Process")
    processed: Counter[int] = Counter()
    for r in receipts:
        for log in r["logs"]:
            if (
                log["address"].lower() == mailbox_b.lower()
                and bytes.fromhex(log["topics"][0][2:]) == event.topic
            ):
                values = event.decode(log)
                if values["origin"] == a.chain_id:
                    processed[values["nonce"]] += 1
    nonces = [decode_message(raw).nonce for raw in ours]
    if set(processed) != set(nonces) or any(n != 1 for n in processed.values()):
        twice = sum(1 for n in processed.values() if n > 1)
        missing = len(set(nonces) - set(processed))
        raise RuntimeError(f"deliveries not exactly once: {missing} missing, {twice} twice")
    done = await _calls(
        rpc_b, mailbox_b, [mailbox.fn("delivered").encode(a.chain_id, n) for n in nonces]
    )
    if not all(int.from_bytes(x, "big") for x in done):
        raise RuntimeError("the mailbox does not mark every peer delivery delivered")
    owed = expected_credits(ours)
    after = await _balances(rpc_b, lab.deployment.tokens[0].addresses["b"], recipients)
    wrong = [r for r, x, y in zip(recipients, before, after, strict=True) if y - x != owed[r]]
    if wrong:
        raise RuntimeError(f"{len(wrong)} recipient(s) not credited what they were sent")

    per_block = Counter(int(r["blockNumber"], 16) for r in receipts)
    numbers = range(min(per_block), max(per_block) + 1)
    blocks = await rpc_b.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
    gas_used = [int(blk["gasUsed"], 16) for blk in blocks]
    for n, blk, used in zip(numbers, blocks, gas_used, strict=True):
        print(
            f"    block {n}: {per_block.get(n, 0):5d} deliveries, "
            f"gas used {used:,} ({used / b.gas_limit:.0%}), "
            f"base fee {int(blk.get('baseFeePerGas', '0x0'), 16):,} wei"
        )
    stamps = [int(blk["timestamp"], 16) for blk in blocks]
    chain_seconds = stamps[-1] - stamps[0] + b.block_time  # as the drain and the ceiling
    lowest, mean = fill(gas_used, b.gas_limit)
    gas = sum(int(r["gasUsed"], 16) for r in receipts)
    return {
        "transfers": len(receipts),
        "per_second": len(receipts) / chain_seconds,
        "gas_per_transfer": gas / len(receipts),
        "blocks": len(numbers),
        "chain_seconds": chain_seconds,
        "fill_lowest": lowest,
        "fill_mean": mean,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--transfers", type=int, default=10_000, help="backlog the peer delivers, per run"
    )
    parser.add_argument("--block-time", type=float, default=1.0)
    parser.add_argument("--gas-limit", type=int, default=150_000_000)
    parser.add_argument("--senders", type=int, default=40)
    add_run_options(parser)
    args = parser.parse_args()
    for name in ("transfers", "runs", "senders", "gas_limit"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be 1 or more")
    if args.block_time <= 0:
        parser.error("--block-time must be above 0")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    runs: list[dict[str, float]] = []
    with Busy(args.busy) as busy:
        header = provenance(args, busy=busy)
        with tempfile.TemporaryDirectory(prefix="stbridge-peer-") as tmp:
            print(f"two anvil chains, {args.block_time:g} s blocks, {args.gas_limit:,} gas …")
            lab = build_lab(
                Path(tmp), block_time=args.block_time, gas_limit=args.gas_limit,
                senders=args.senders,
            )  # fmt: skip
            try:
                for run in range(args.runs):
                    print(f"run {run + 1}/{args.runs}: the peer delivers {args.transfers:,} …")
                    result = asyncio.run(peer_drain(lab, args.transfers))
                    print(
                        f"  {result['per_second']:,.0f} transfers/s, "
                        f"{result['gas_per_transfer']:,.0f} gas each, {result['blocks']:.0f} blocks"
                    )
                    runs.append(result)
            finally:
                devnet.down(lab.home)
    report(runs, args, header)


def report(runs: Sequence[dict[str, float]], args: argparse.Namespace, header: list[str]) -> None:
    def col(key: str) -> list[float]:
        return [r[key] for r in runs]

    pct, sec = "{:.0%}", "{:.1f} s"
    rows = [
        ("transfers delivered per run", f"{args.transfers:,}, one `process` transaction each"),
        ("transfers per second (first to last delivery block)", median_spread(col("per_second"))),
        ("gas per transfer (receipts)", median_spread(col("gas_per_transfer"))),
        ("chain's bound for it (block gas per second / gas per transfer)",
         median_spread([args.gas_limit / args.block_time / g for g in col("gas_per_transfer")])),
        ("blocks used", median_spread(col("blocks"))),
        ("fullness of every block but the last, lowest", median_spread(col("fill_lowest"), pct)),
        ("fullness of every block but the last, mean", median_spread(col("fill_mean"), pct)),
        ("gas limit signed per transaction (estimate + 75,000)", median_spread(col("gas_limit"))),
        ("preparation: index, proofs, signing (not in the span)",
         median_spread(col("prepare_seconds"), sec)),
        ("first send to last receipt (wall clock)", median_spread(col("wall_seconds"), sec)),
    ]  # fmt: skip
    figures = {
        "peer_per_second": statistics.median(col("per_second")),
        "peer_gas_per_transfer": statistics.median(col("gas_per_transfer")),
    }
    print_rows(rows)
    lines = [
        *header,
        f"Two anvil chains, {args.block_time:g} s blocks, {args.gas_limit:,} gas per block; "
        f"{args.senders} senders dispatch the backlog a->b with no relayer running, then the "
        "peer delivers it the way Hyperlane's relayer does: one `Mailbox.process(checkpoint, "
        "signatures, message, proof)` per message, its own proof and the validators' "
        "signatures in each, every transaction prepared and signed before the first is sent "
        "(the peer at its best). Every message checked delivered exactly once, every "
        "recipient credited.",
        "",
        "| measure | value |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in rows],
        "",
        *[
            f"- run {i}: {r['per_second']:,.0f}/s, {r['transfers']:,.0f} in {r['blocks']:.0f} "
            f"blocks, {r['chain_seconds']:.0f} s (last block's timestamp - first's + a block time)"
            for i, r in enumerate(runs, 1)
        ],
    ]  # fmt: skip
    name = f"peer-busy{args.busy}" if args.busy else "peer"
    path = write_report(name, "The peer: one process per message", lines, figures=figures)
    print(f"\nreport: {path}")


if __name__ == "__main__":
    main()
