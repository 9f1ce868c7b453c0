"""Several clients at once: pipelined transactions, keep-alive connections, polling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from chains.pyevm import ThreadedNode
from tests.fixtures.pyevm.support import CHAIN_ID, GWEI, account, deploy_probe, funded_config

pytestmark = pytest.mark.integration

SENDERS = 4
PER_SENDER = 25


@pytest.fixture(scope="module", params=[0.0, 0.3], ids=["automine", "interval"])
def node(request: pytest.FixtureRequest) -> Iterator[ThreadedNode]:
    with ThreadedNode(funded_config(accounts=SENDERS + 1, block_time=request.param)) as running:
        yield running


@pytest.fixture
async def clients(node: ThreadedNode) -> AsyncIterator[list[AsyncWeb3]]:
    webs = [AsyncWeb3(AsyncHTTPProvider(node.url)) for _ in range(SENDERS + 1)]
    yield webs
    for web in webs:
        await web.provider.disconnect()


async def test_pipelined_transfers_from_several_clients_all_land(clients: list[AsyncWeb3]) -> None:
    w3 = clients[0]
    probe = await deploy_probe(w3, account(SENDERS), supply=10**9)
    recipient = account(SENDERS).address
    start_block = await w3.eth.block_number
    calldata = probe.functions.transfer(recipient, 1)._encode_transaction_data()

    async def pipeline(n: int) -> list[bytes]:
        client, sender = clients[n], account(n)
        nonce = await client.eth.get_transaction_count(sender.address, "pending")
        hashes = []  # sent back to back, without waiting for receipts
        for i in range(PER_SENDER):
            tx = {"to": probe.address, "data": calldata, "gas": 60_000, "nonce": nonce + i}
            tx.update(chainId=CHAIN_ID, maxFeePerGas=50 * GWEI, maxPriorityFeePerGas=GWEI)
            raw = sender.sign_transaction(tx).raw_transaction
            hashes.append(await client.eth.send_raw_transaction(raw))
        return hashes

    # fund the senders with tokens (from the deployer)
    owner = account(SENDERS)
    nonce = await w3.eth.get_transaction_count(owner.address, "pending")
    funding = []
    for n in range(SENDERS):
        tx = await probe.functions.transfer(account(n).address, PER_SENDER).build_transaction(
            {"from": owner.address, "nonce": nonce + n, "gas": 60_000}
        )
        raw = owner.sign_transaction(tx).raw_transaction
        funding.append(await w3.eth.send_raw_transaction(raw))
    for tx_hash in funding:
        await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.05)

    polls = 0
    done = asyncio.Event()

    async def poll() -> None:  # a relayer-like poller hammering the node meanwhile
        nonlocal polls
        while not done.is_set():
            head = await w3.eth.block_number
            criteria = {"fromBlock": start_block, "toBlock": head, "address": probe.address}
            await w3.eth.get_logs(criteria)  # type: ignore[arg-type]
            polls += 1

    poller = asyncio.create_task(poll())
    batches = await asyncio.gather(*(pipeline(n) for n in range(SENDERS)))
    receipts = [
        await w3.eth.wait_for_transaction_receipt(h, timeout=120, poll_latency=0.05)
        for hashes in batches
        for h in hashes
    ]
    done.set()
    await poller
    assert all(r["status"] == 1 for r in receipts)
    assert polls > 0
    for n in range(SENDERS):
        assert await probe.functions.balanceOf(account(n).address).call() == 0
        assert await w3.eth.get_transaction_count(account(n).address) == PER_SENDER
    transfers = await probe.events.Transfer().get_logs(from_block=start_block + 1)
    assert len(transfers) == SENDERS * PER_SENDER + SENDERS
