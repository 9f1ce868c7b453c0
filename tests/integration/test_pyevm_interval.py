"""Interval mining: transactions wait in the pool and go into the next block, as gas allows."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from eth_utils import keccak
from web3 import AsyncHTTPProvider, AsyncWeb3

from chains.pyevm import ThreadedNode
from tests.fixtures.pyevm.support import CHAIN_ID, GWEI, account, funded_config, post, rpc
from tests.waiting import eventually

pytestmark = pytest.mark.integration

BLOCK_TIME = 0.5


@pytest.fixture(scope="module")
def node() -> Iterator[ThreadedNode]:
    # room for exactly four plain transfers per block
    with ThreadedNode(
        funded_config(block_time=BLOCK_TIME, gas_limit=4 * 21_000 + 20_000)
    ) as running:
        yield running


@pytest.fixture
async def w3(node: ThreadedNode) -> AsyncIterator[AsyncWeb3]:
    web3 = AsyncWeb3(AsyncHTTPProvider(node.url))
    yield web3
    await web3.provider.disconnect()


def transfer(n: int, nonce: int, *, to: str | None = None) -> bytes:
    sender = account(n)
    tx = {"to": to or account(3).address, "value": 1, "gas": 21_000, "nonce": nonce}
    tx.update(chainId=CHAIN_ID, maxFeePerGas=100 * GWEI, maxPriorityFeePerGas=GWEI)
    return bytes(sender.sign_transaction(tx).raw_transaction)


def batch(url: str, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    """One JSON-RPC batch: the node runs it in one go, so no block is mined midway."""
    body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    _, answers = post(url, json.dumps(body))
    return [answer.get("result", answer.get("error")) for answer in answers]


async def test_transaction_is_pending_then_mined_in_the_next_block(
    w3: AsyncWeb3, node: ThreadedNode
) -> None:
    sender = account(0).address
    nonce = await w3.eth.get_transaction_count(sender)
    raw = transfer(0, nonce)
    tx_hash = "0x" + keccak(raw).hex()
    sent, tx, receipt, pending_nonce, latest_nonce, pending_block, head = batch(
        node.url,
        [
            ("eth_sendRawTransaction", ["0x" + raw.hex()]),
            ("eth_getTransactionByHash", [tx_hash]),
            ("eth_getTransactionReceipt", [tx_hash]),
            ("eth_getTransactionCount", [sender, "pending"]),
            ("eth_getTransactionCount", [sender, "latest"]),
            ("eth_getBlockByNumber", ["pending", False]),
            ("eth_blockNumber", []),
        ],
    )
    assert sent == tx_hash
    assert tx["hash"] == tx_hash and tx["blockNumber"] is None and tx["blockHash"] is None
    assert receipt is None
    assert (int(pending_nonce, 16), int(latest_nonce, 16)) == (nonce + 1, nonce)
    assert pending_block["transactions"] == [tx_hash]
    assert int(pending_block["number"], 16) == int(head, 16) + 1

    mined = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.05)
    assert mined["status"] == 1
    assert mined["blockNumber"] == int(head, 16) + 1
    assert await w3.eth.get_transaction_count(sender, "latest") == nonce + 1


async def test_empty_blocks_are_mined_on_the_interval_with_wall_clock_time(
    w3: AsyncWeb3,
) -> None:
    """Blocks come no faster than the interval, stamped with the wall clock; a busy
    machine may make them late, so the test waits for them rather than counting what
    a fixed sleep saw."""
    started = time.time()
    first = await w3.eth.get_block("latest")

    async def three_more() -> bool:
        return await w3.eth.block_number >= first["number"] + 3

    await eventually(three_more, "three empty blocks mined")
    last = await w3.eth.get_block("latest")
    elapsed = time.time() - started
    mined = last["number"] - first["number"]
    # one block may follow a late one at once (the miner does not let the delay add up)
    assert mined <= elapsed / BLOCK_TIME + 2, f"{mined} blocks in {elapsed:.1f}s"
    assert 0 <= last["timestamp"] - first["timestamp"] <= elapsed + 1
    assert started - 1 <= last["timestamp"] <= time.time() + 1
    for number in range(first["number"] + 1, last["number"] + 1):
        block = await w3.eth.get_block(number)
        assert block["transactions"] == [] and block["gasLimit"] == 4 * 21_000 + 20_000


async def test_blocks_hold_what_their_gas_limit_allows(w3: AsyncWeb3, node: ThreadedNode) -> None:
    nonce = await w3.eth.get_transaction_count(account(1).address)
    # in one batch (so one block sees them all), in reverse nonce order
    raws = ["0x" + transfer(1, nonce + i).hex() for i in reversed(range(6))]
    hashes = batch(node.url, [("eth_sendRawTransaction", [raw]) for raw in raws])
    receipts = [
        await w3.eth.wait_for_transaction_receipt(h, timeout=120, poll_latency=0.05) for h in hashes
    ]
    blocks = sorted({r["blockNumber"] for r in receipts})
    assert len(blocks) == 2 and blocks[1] == blocks[0] + 1
    assert [sum(r["blockNumber"] == b for r in receipts) for b in blocks] == [4, 2]
    in_order = sorted(receipts, key=lambda r: (r["blockNumber"], r["transactionIndex"]))
    txs = [await w3.eth.get_transaction(r["transactionHash"]) for r in in_order]
    assert [t["nonce"] for t in txs] == list(range(nonce, nonce + 6))


async def test_queued_transaction_waits_for_its_nonce_gap(
    w3: AsyncWeb3, node: ThreadedNode
) -> None:
    sender = account(2).address
    nonce = await w3.eth.get_transaction_count(sender)
    later = await w3.eth.send_raw_transaction(transfer(2, nonce + 1))
    head = await w3.eth.block_number

    async def two_blocks_later() -> bool:
        return await w3.eth.block_number >= head + 2

    await eventually(two_blocks_later, "two blocks mined")
    assert rpc_receipt(w3, later) is None  # nonce + 1 cannot go before nonce
    assert await w3.eth.get_transaction_count(sender, "pending") == nonce
    first = await w3.eth.send_raw_transaction(transfer(2, nonce))
    for tx_hash in (first, later):
        receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.05)
        assert receipt["status"] == 1


def rpc_receipt(w3: AsyncWeb3, tx_hash: bytes) -> object:
    url = w3.provider.endpoint_uri  # type: ignore[attr-defined]
    return rpc(str(url), "eth_getTransactionReceipt", ["0x" + bytes(tx_hash).hex()])["result"]
