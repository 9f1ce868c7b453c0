"""Transactions per second of the embedded node (``python -m chains.pyevm``).

Starts the node as a subprocess (as the devnet does), deploys the test token
(tests/fixtures/pyevm/Probe.json), pre-signs ERC-20-like transfers from several
senders, then pushes them over HTTP from concurrent keep-alive clients and
times until the last one is mined. Signing is outside the timed part. Also
times eth_blockNumber and eth_getLogs while the node is busy.

    .venv/bin/python -m bench.pyevm_throughput [--txs 600] [--senders 6] [--runs 3]
        [--busy N] [--profile FILE]

Each of ``--runs`` runs starts a fresh node per mode (automine, 1 s interval); the
figures are the median with the spread. ``--profile FILE`` samples the node with
py-spy during the last run of each mode and says where its time goes (executing the
transactions in py-evm, recovering their signatures, sealing blocks, answering
JSON-RPC), which is what bounds the figures. Writes
bench/reports/pyevm-throughput[-busy<N>]-<date>.md (and its .json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from eth_abi.abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from bench.harness import (
    Busy,
    add_run_options,
    median_spread,
    print_rows,
    provenance,
    require_py_spy,
    write_report,
)
from chains.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "fixtures" / "pyevm" / "Probe.json"
CHAIN_ID = 65099
GWEI = 10**9


class Client:
    """A minimal JSON-RPC client on one keep-alive aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url, self.calls = session, url, 0

    async def call(self, method: str, *params: Any) -> Any:
        self.calls += 1
        body = {"jsonrpc": "2.0", "id": self.calls, "method": method, "params": list(params)}
        async with self.session.post(self.url, json=body) as response:
            answer = await response.json()
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']['message']}")
        return answer["result"]

    async def receipt(self, tx_hash: str) -> dict[str, Any]:
        async with asyncio.timeout(120):
            while (found := await self.call("eth_getTransactionReceipt", tx_hash)) is None:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        return found


def sign(key: LocalAccount, nonce: int, to: str | None, data: bytes, gas: int) -> str:
    tx: dict[str, Any] = {"nonce": nonce, "data": data, "gas": gas, "value": 0}
    tx.update(chainId=CHAIN_ID, maxFeePerGas=100 * GWEI, maxPriorityFeePerGas=GWEI)
    if to is not None:
        tx["to"] = to_checksum_address(to)
    return "0x" + bytes(key.sign_transaction(tx).raw_transaction).hex()


def transfer_data(to: str, amount: int) -> bytes:
    return keccak(text="transfer(address,uint256)")[:4] + encode(
        ["address", "uint256"], [to, amount]
    )


def start_node(block_time: float, port: int, keys: list[LocalAccount]) -> subprocess.Popen[str]:
    """The node as the devnet starts it, every key funded; returns once it is ready."""
    funds = [f"--fund={k.address}={10**24}" for k in keys]
    args = ["--chain-id", str(CHAIN_ID), "--port", str(port), "--block-time", str(block_time)]
    node = subprocess.Popen(
        [sys.executable, "-m", "chains.pyevm", *args, "--log-level", "warning", *funds],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    if node.stdout is None or not node.stdout.readline().startswith("pyevm ready"):
        node.kill()
        raise RuntimeError("the node did not start")
    return node


async def measure(url: str, keys: list[LocalAccount], txs: int) -> dict[str, float]:
    """Deploy the token, fund the senders, then time the transfers."""
    owner, senders = keys[-1], keys[:-1]
    async with aiohttp.ClientSession() as session:
        client = Client(session, url)
        artifact = json.loads(PROBE.read_text())
        code = bytes.fromhex(artifact["bytecode"][2:]) + encode(["uint256"], [10**30])
        deployed = await client.call(
            "eth_sendRawTransaction", sign(owner, 0, None, code, 2_000_000)
        )
        token = (await client.receipt(deployed))["contractAddress"]
        funding = []
        for i, key in enumerate(senders):
            raw = sign(owner, 1 + i, token, transfer_data(key.address, 10**20), 80_000)
            funding.append(await client.call("eth_sendRawTransaction", raw))
        for tx_hash in funding:
            await client.receipt(tx_hash)
        per_sender = txs // len(senders)
        to_owner = transfer_data(owner.address, 1)
        signed = [[sign(k, n, token, to_owner, 80_000) for n in range(per_sender)] for k in senders]
        clients = [Client(session, url) for _ in senders]
        started = time.perf_counter()
        hashes = await asyncio.gather(
            *(_push(c, batch) for c, batch in zip(clients, signed, strict=True))
        )
        sent = time.perf_counter()
        polls = asyncio.create_task(_poll(client, token))
        for batch in hashes:
            await client.receipt(batch[-1])
        mined = time.perf_counter()
        latency = await _stop(polls)
        total = per_sender * len(senders)
        return {
            "txs": total,
            "submit_s": sent - started,
            "total_s": mined - started,
            "tx_per_s": total / (mined - started),
            "poll_ms": latency * 1000,
        }


async def _push(client: Client, batch: list[str]) -> list[str]:
    return [await client.call("eth_sendRawTransaction", raw) for raw in batch]


async def _poll(client: Client, token: str) -> float:
    """Mean latency of an eth_blockNumber + eth_getLogs pair while the node works."""
    rounds, spent = 0, 0.0
    try:
        while True:
            t = time.perf_counter()
            head = await client.call("eth_blockNumber")
            await client.call(
                "eth_getLogs", {"fromBlock": "0x0", "toBlock": head, "address": token}
            )
            spent += time.perf_counter() - t
            rounds += 1
            await asyncio.sleep(0.05)
    except asyncio.CancelledError:
        return spent / max(rounds, 1)


async def _stop(task: asyncio.Task[float]) -> float:
    task.cancel()
    return await task


MODES = (("automine", 0.0), ("interval 1s", 1.0))

# where a sample of the node's stack is counted, first match wins (py-spy raw stacks:
# "function (file:line)" frames, root first)
CATEGORIES = (
    ("recovering transaction signatures (secp256k1)",
     ("ecdsa_recover", "recover_public_key", "coincurve", "eth_keys", "get_sender", "sender (")),
    ("sealing and storing blocks (state root, block and receipt tries)",
     ("seal_block", "_seal (", "record_block", "persist", "make_state_root")),
    ("executing transactions in py-evm (EVM, state)",
     ("fill_block", "_fill (", "apply_transaction", "apply_all_transactions", "/eth/vm/")),
    ("eth_call and eth_estimateGas", ("execution.py",)),
    ("trie and RLP work seen without its caller (py-spy's partial stacks)",
     ("/trie/", "hexary", "nibbles", "/rlp/", "serializable.py", "lists.py")),
    ("JSON-RPC and HTTP (aiohttp, JSON, sockets)",
     ("aiohttp", "methods.py", "serialize.py", "dispatch.py", "json", "_SelectorSocketTransport")),
    ("the event loop waiting", ("EpollSelector.select", "_read_from_self")),
)  # fmt: skip


def profile_summary(path: Path) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Shares of the node's samples by category and by leaf function (self time)."""
    by_category: Counter[str] = Counter()
    by_leaf: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        name = next(
            (label for label, words in CATEGORIES if any(w in stack for w in words)), "other"
        )
        by_category[name] += n
        by_leaf[stack.rsplit(";", 1)[-1]] += n
    total = sum(by_category.values()) or 1
    return (
        [(k, v / total) for k, v in by_category.most_common()],
        [(k, v / total) for k, v in by_leaf.most_common(8)],
    )


def run_mode(
    block_time: float, keys: list[LocalAccount], txs: int, profile: Path | None
) -> dict[str, float]:
    port = free_port()
    node = start_node(block_time, port, keys)
    spy: subprocess.Popen[bytes] | None = None
    try:
        if profile is not None:
            spy = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(node.pid),
                 "--rate", "200", "--format", "raw", "--output", str(profile), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        return asyncio.run(measure(f"http://127.0.0.1:{port}", keys, txs))
    finally:
        node.terminate()
        node.wait(15)
        if spy is not None:
            spy.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--txs", type=int, default=600)
    parser.add_argument("--senders", type=int, default=6)
    parser.add_argument(
        "--profile", type=Path, help="py-spy the node in each mode's last run (FILE.<mode>.txt)"
    )
    add_run_options(parser)
    args = parser.parse_args()
    if args.txs < args.senders or args.senders < 1 or args.runs < 1:
        raise SystemExit("--senders must be 1 or more and --txs at least --senders; --runs >= 1")
    if args.profile:
        require_py_spy()
    busy = Busy(args.busy)
    header = provenance(args, busy=busy)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    keys = [Account.from_key(keccak(f"bench sender {i}".encode())) for i in range(args.senders + 1)]
    results: dict[str, list[dict[str, float]]] = {label: [] for label, _ in MODES}
    with busy:
        for k in range(1, args.runs + 1):
            for label, block_time in MODES:
                profile = None
                if args.profile and k == args.runs:  # the last run of each mode
                    profile = args.profile.with_suffix(f".{label.split()[0]}.txt")
                result = run_mode(block_time, keys, args.txs, profile)
                results[label].append(result)
                print(
                    f"run {k} {label:12} {result['txs']:.0f} transfers in "
                    f"{result['total_s']:.2f}s = {result['tx_per_s']:.0f} tx/s (submitted in "
                    f"{result['submit_s']:.2f}s; blockNumber+getLogs under load "
                    f"{result['poll_ms']:.1f} ms)"
                )
    report(results, args, header)


def report(
    results: dict[str, list[dict[str, float]]], args: argparse.Namespace, header: list[str]
) -> None:
    rows = []
    for label, runs in results.items():
        rows += [
            (f"{label}: transfers per second", median_spread([r["tx_per_s"] for r in runs])),
            (f"{label}: submitting them (s)",
             median_spread([r["submit_s"] for r in runs], "{:.2f}")),
            (f"{label}: eth_blockNumber + eth_getLogs meanwhile (ms)",
             median_spread([r["poll_ms"] for r in runs], "{:.1f}")),
        ]  # fmt: skip
    print_rows(rows)
    lines = [
        *header,
        f"{args.txs:,} ERC-20-like transfers (tests/fixtures/pyevm/Probe.json) from "
        f"{args.senders} senders, pre-signed, pushed over HTTP by one keep-alive client per "
        "sender; timed from the first push to the last receipt. A fresh node "
        "(`python -m chains.pyevm`, as the devnet starts it) per mode and run.",
        "",
        "| measure | value |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in rows),
    ]
    for label, _ in MODES if args.profile else ():
        stacks = args.profile.with_suffix(f".{label.split()[0]}.txt")
        if not stacks.exists():
            continue
        categories, leaves = profile_summary(stacks)
        section = [
            "",
            f"## What bounds it: {label}",
            "",
            f"py-spy sampled the node (200 Hz, non-blocking; raw stacks in {stacks.name}) "
            f"during the last {label} run; the share of its samples by what the stack was "
            "doing, first match from the top:",
            "",
            "| where the node's time goes | share |",
            "| --- | --- |",
            *(f"| {k} | {v:.0%} |" for k, v in categories),
            "",
            "The functions the samples were in (self time):",
            "",
            "| function | share |",
            "| --- | --- |",
            *(f"| `{k}` | {v:.0%} |" for k, v in leaves),
        ]
        lines += section
        print("\n".join(section))
    figures = {
        f"{label.split()[0]}_tx_per_s": statistics.median(r["tx_per_s"] for r in runs)
        for label, runs in results.items()
    }
    figures["automine_poll_ms"] = statistics.median(r["poll_ms"] for r in results["automine"])
    name = "pyevm-throughput" + (f"-busy{args.busy}" if args.busy else "")
    path = write_report(name, "Embedded chain (py-evm) throughput", lines, figures=figures)
    print(f"\nreport: {path}")


if __name__ == "__main__":
    main()
