"""Transactions per second of the embedded node (``python -m chains.pyevm``).

Starts the node as a subprocess (as the devnet does), deploys the test token
(tests/fixtures/pyevm/Probe.json), pre-signs ERC-20-like transfers from several
senders, then pushes them over HTTP from concurrent keep-alive clients and
times until the last one is mined. Signing is outside the timed part. Also
times eth_blockNumber and eth_getLogs while the node is busy.

    .venv/bin/python bench/pyevm_throughput.py [--txs 600] [--senders 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from eth_abi.abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=600)
    parser.add_argument("--senders", type=int, default=6)
    parser.add_argument("--port", type=int, default=18599)
    args = parser.parse_args()
    keys = [Account.from_key(keccak(f"bench sender {i}".encode())) for i in range(args.senders + 1)]
    for label, block_time in (("automine", 0.0), ("interval 1s", 1.0)):
        node = start_node(block_time, args.port, keys)
        try:
            result = asyncio.run(measure(f"http://127.0.0.1:{args.port}", keys, args.txs))
        finally:
            node.terminate()
            node.wait(15)
        print(
            f"{label:12} {result['txs']:.0f} transfers in {result['total_s']:.2f}s "
            f"= {result['tx_per_s']:.0f} tx/s (submitted in {result['submit_s']:.2f}s; "
            f"blockNumber+getLogs under load {result['poll_ms']:.1f} ms)"
        )


if __name__ == "__main__":
    main()
