"""The embedded node driven by web3.py (AsyncWeb3 over HTTP), as the relayer drives it.

One automining node per module, started in-process on a free port; every test
deploys what it needs, so the tests do not depend on each other's order.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from eth_abi.abi import decode
from eth_utils import keccak, to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import (
    BlockNotFound,
    ContractCustomError,
    ContractLogicError,
    Web3RPCError,
)

from chains.pyevm import ThreadedNode
from tests.fixtures.pyevm.support import (
    CHAIN_ID,
    ETHER,
    GWEI,
    account,
    deploy_probe,
    funded_config,
    opcodes,
    probe_artifact,
    rpc,
    send,
)

pytestmark = pytest.mark.integration

MCOPY, PUSH0 = 0x5E, 0x5F


@pytest.fixture(scope="module")
def node() -> Iterator[ThreadedNode]:
    with ThreadedNode(funded_config()) as running:
        yield running


@pytest.fixture
async def w3(node: ThreadedNode) -> AsyncIterator[AsyncWeb3]:
    web3 = AsyncWeb3(AsyncHTTPProvider(node.url))
    yield web3
    await web3.provider.disconnect()


async def test_chain_id_answers_and_chainid_opcode_agree(w3: AsyncWeb3, node: ThreadedNode) -> None:
    assert await w3.eth.chain_id == CHAIN_ID
    assert rpc(node.url, "net_version")["result"] == str(CHAIN_ID)
    probe = await deploy_probe(w3, account(0))
    assert await probe.functions.chainId().call() == CHAIN_ID


async def test_deploy_store_and_read_back(w3: AsyncWeb3) -> None:
    owner = account(0)
    probe = await deploy_probe(w3, owner, supply=777)
    assert await probe.functions.balanceOf(owner.address).call() == 777
    receipt = await send(w3, owner, await _store_tx(probe, owner, 42, b"tag"))
    assert receipt["status"] == 1
    assert await probe.functions.stored().call() == 42
    slot0 = await w3.eth.get_storage_at(probe.address, 0)
    assert int.from_bytes(slot0, "big") == 42
    assert (await w3.eth.get_code(probe.address)).hex() == probe_artifact()["deployedBytecode"][2:]

    block = await w3.eth.get_block(receipt["blockNumber"])
    assert receipt["effectiveGasPrice"] == block["baseFeePerGas"] + await w3.eth.max_priority_fee
    assert receipt["contractAddress"] is None
    (log,) = receipt["logs"]
    assert log["blockHash"] == receipt["blockHash"] == block["hash"]
    assert log["transactionIndex"] == 0 and log["logIndex"] == 0
    event = probe.events.ValueStored().process_log(log)
    assert event["args"]["value"] == 42 and event["args"]["setter"] == owner.address


async def test_mcopy_and_push0_run(w3: AsyncWeb3) -> None:
    probe = await deploy_probe(w3, account(0))
    code = bytes(await w3.eth.get_code(probe.address))
    assert MCOPY in opcodes(code) and PUSH0 in opcodes(code)  # compiled for Cancun
    assert await probe.functions.echoTwice(b"abc" * 20).call() == b"abc" * 40


async def test_legacy_eip155_and_access_list_transactions_are_mined(w3: AsyncWeb3) -> None:
    sender, to = account(1), account(3).address
    before = await w3.eth.get_balance(to)
    gas_price = await w3.eth.gas_price
    legacy = await send(w3, sender, {"to": to, "value": 5, "gas": 21_000, "gasPrice": gas_price})
    access_list = [{"address": to, "storageKeys": ["0x" + "00" * 32]}]
    typed1 = await send(
        w3,
        sender,
        {"to": to, "value": 7, "gasPrice": gas_price, "accessList": access_list, "type": 1},
    )
    dynamic = await send(w3, sender, {"to": to, "value": 11})
    assert [r["status"] for r in (legacy, typed1, dynamic)] == [1, 1, 1]
    assert [r["type"] for r in (legacy, typed1, dynamic)] == [0, 1, 2]
    assert await w3.eth.get_balance(to) == before + 23
    tx = await w3.eth.get_transaction(legacy["transactionHash"])
    assert tx["chainId"] == CHAIN_ID and tx["v"] in (2 * CHAIN_ID + 35, 2 * CHAIN_ID + 36)
    tx1 = await w3.eth.get_transaction(typed1["transactionHash"])
    assert tx1["accessList"][0]["address"] == to


async def test_transaction_for_another_chain_is_refused(w3: AsyncWeb3) -> None:
    sender = account(1)
    nonce = await w3.eth.get_transaction_count(sender.address)
    tx = {"to": account(2).address, "value": 1, "gas": 21_000, "nonce": nonce}
    foreign = sender.sign_transaction(
        {**tx, "chainId": 1, "maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": GWEI}
    )
    with pytest.raises(Web3RPCError, match=f"invalid chain id for signer: have 1 want {CHAIN_ID}"):
        await w3.eth.send_raw_transaction(foreign.raw_transaction)
    foreign_legacy = sender.sign_transaction({**tx, "chainId": 31337, "gasPrice": 10 * GWEI})
    with pytest.raises(Web3RPCError, match="have 31337 want"):
        await w3.eth.send_raw_transaction(foreign_legacy.raw_transaction)
    unprotected = sender.sign_transaction({**tx, "gasPrice": 10 * GWEI})  # no chainId: pre-EIP-155
    with pytest.raises(Web3RPCError, match=r"only replay-protected \(EIP-155\)"):
        await w3.eth.send_raw_transaction(unprotected.raw_transaction)
    assert await w3.eth.get_transaction_count(sender.address, "pending") == nonce  # nothing pooled


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"nonce": -1}, "nonce too low"),
        ({"value": 10**6 * ETHER}, "insufficient funds for gas * price + value"),
        (
            {"maxFeePerGas": 1, "maxPriorityFeePerGas": 1},
            "max fee per gas less than block base fee",
        ),
        ({"gas": 20_000}, "intrinsic gas too low"),
        ({"gas": 31_000_000}, "exceeds block gas limit"),
        (
            {"maxPriorityFeePerGas": 99 * GWEI},
            "max priority fee per gas higher than max fee per gas",
        ),
    ],
)
async def test_invalid_transactions_are_refused_like_geth(
    w3: AsyncWeb3, change: dict[str, int], message: str
) -> None:
    sender = account(2)
    await send(w3, sender, {"to": account(3).address, "value": 1})  # so nonce 0 is spent
    nonce = await w3.eth.get_transaction_count(sender.address)
    tx = {
        "to": account(3).address,
        "value": 1,
        "gas": 21_000,
        "chainId": CHAIN_ID,
        "maxFeePerGas": 10 * GWEI,
        "maxPriorityFeePerGas": GWEI,
        "nonce": nonce,
    }
    tx.update(change)
    if tx["nonce"] < 0:
        tx["nonce"] = nonce - 1
    signed = sender.sign_transaction(tx)
    with pytest.raises(Web3RPCError, match=re.escape(message)):
        await w3.eth.send_raw_transaction(signed.raw_transaction)


async def test_reverts_carry_revert_data_web3_decodes(w3: AsyncWeb3) -> None:
    caller = account(0)
    probe = await deploy_probe(w3, caller)
    with pytest.raises(ContractCustomError) as custom:
        await probe.functions.failCustom(7).call({"from": caller.address})
    selector = keccak(text="ProbeFailed(uint256,address)")[:4]
    data = bytes.fromhex(str(custom.value.data)[2:])
    assert data[:4] == selector
    assert decode(["uint256", "address"], data[4:]) == (7, caller.address.lower())

    with pytest.raises(ContractLogicError, match="execution reverted: no way"):
        await probe.functions.failString("no way").call()
    with pytest.raises(ContractLogicError, match="execution reverted: no way"):
        await probe.functions.failString("no way").estimate_gas()
    with pytest.raises(ContractCustomError):
        await probe.functions.transfer(account(1).address, 10**30).estimate_gas(
            {"from": caller.address}
        )

    # a reverting transaction is still mined, with status 0
    tx = await probe.functions.failString("mined anyway").build_transaction(
        {
            "from": caller.address,
            "gas": 100_000,
            "nonce": await w3.eth.get_transaction_count(caller.address),
        }
    )
    receipt = await send(w3, caller, tx)
    assert receipt["status"] == 0 and receipt["logs"] == []


async def test_estimate_gas_is_enough_and_close(w3: AsyncWeb3) -> None:
    owner = account(0)
    probe = await deploy_probe(w3, owner)
    fn = probe.functions.transfer(account(3).address, 1000)
    estimate = await fn.estimate_gas({"from": owner.address})
    tx = await fn.build_transaction(
        {
            "from": owner.address,
            "gas": estimate,
            "nonce": await w3.eth.get_transaction_count(owner.address),
        }
    )
    receipt = await send(w3, owner, tx)
    assert receipt["status"] == 1
    assert receipt["gasUsed"] <= estimate <= receipt["gasUsed"] * 1.1 + 2_300


async def test_logs_by_address_topics_ranges_and_block_hash(w3: AsyncWeb3) -> None:
    owner, other = account(0), account(1)
    first, second = await deploy_probe(w3, owner), await deploy_probe(w3, other)
    stored_topic = keccak(text="ValueStored(address,uint256,bytes32)")
    start = await w3.eth.block_number + 1
    receipts = []
    for probe, who, value in [(first, owner, 1), (second, other, 2), (first, owner, 3)]:
        receipts.append(await send(w3, who, await _store_tx(probe, who, value, b"x")))
    end = await w3.eth.block_number
    assert end == start + 2  # automine: one block per transaction

    async def logs(**criteria: object) -> list[int]:
        found = await w3.eth.get_logs({"fromBlock": start, "toBlock": end, **criteria})
        return [int.from_bytes(log["topics"][2], "big") for log in found]

    def word(value: int | str) -> str:
        raw = value if isinstance(value, int) else int(value, 16)
        return "0x" + raw.to_bytes(32, "big").hex()

    assert await logs(address=first.address) == [1, 3]
    assert await logs(address=[first.address, second.address]) == [1, 2, 3]
    assert await logs(topics=[stored_topic, word(other.address)]) == [2]
    assert await logs(topics=[None, None, [word(1), word(2)]]) == [1, 2]  # null and OR
    assert await logs(topics=[[stored_topic], None, word(3)]) == [3]
    assert await logs(topics=[None, None, None, None]) == []  # ValueStored has 3 topics
    assert await logs(topics=[keccak(text="Nope()")]) == []
    narrow = await w3.eth.get_logs({"fromBlock": start + 1, "toBlock": start + 1})
    assert [log["transactionHash"] for log in narrow] == [receipts[1]["transactionHash"]]
    by_hash = await w3.eth.get_logs({"blockHash": receipts[2]["blockHash"]})
    assert len(by_hash) == 1 and by_hash[0]["blockNumber"] == end
    assert by_hash[0]["logIndex"] == 0 and by_hash[0]["removed"] is False
    events = await first.events.ValueStored().get_logs(from_block=start, to_block=end)
    assert [e["args"]["value"] for e in events] == [1, 3]
    assert await w3.eth.get_logs({"fromBlock": end + 100, "toBlock": end + 200}) == []
    with pytest.raises(Web3RPCError, match="unknown block"):
        await w3.eth.get_logs({"blockHash": "0x" + "ab" * 32})


async def test_snapshot_and_revert(w3: AsyncWeb3, node: ThreadedNode) -> None:
    owner = account(0)
    probe = await deploy_probe(w3, owner)
    await send(w3, owner, await _store_tx(probe, owner, 1, b""))
    head = await w3.eth.block_number
    snapshot = rpc(node.url, "evm_snapshot")["result"]
    receipt = await send(w3, owner, await _store_tx(probe, owner, 2, b""))
    assert await probe.functions.stored().call() == 2
    assert rpc(node.url, "evm_revert", [snapshot])["result"] is True
    assert await w3.eth.block_number == head
    assert await probe.functions.stored().call() == 1
    tx_hash = receipt["transactionHash"].to_0x_hex()
    assert rpc(node.url, "eth_getTransactionReceipt", [tx_hash])["result"] is None
    assert rpc(node.url, "evm_revert", [snapshot])["result"] is False  # used up
    # the chain goes on from the snapshot, with the nonce it had then
    again = await send(w3, owner, await _store_tx(probe, owner, 5, b""))
    assert again["blockNumber"] == head + 1
    assert await probe.functions.stored().call() == 5


async def test_block_tags_and_lookups(w3: AsyncWeb3) -> None:
    await send(w3, account(1), {"to": account(2).address, "value": 1})
    latest = await w3.eth.get_block("latest", full_transactions=True)
    assert latest["number"] == await w3.eth.block_number
    assert abs(latest["timestamp"] - time.time()) < 60
    tx = latest["transactions"][0]
    assert tx["blockHash"] == latest["hash"] and tx["from"] == account(1).address
    by_hash = await w3.eth.get_block(latest["hash"])
    assert by_hash["transactions"] == [tx["hash"]]
    assert (await w3.eth.get_block("earliest"))["number"] == 0
    assert (await w3.eth.get_block("pending"))["number"] == latest["number"] + 1
    assert (await w3.eth.get_block("safe"))["number"] == max(latest["number"] - 32, 0)
    assert (await w3.eth.get_block("finalized"))["number"] == max(latest["number"] - 64, 0)
    parent = await w3.eth.get_block(latest["number"] - 1)
    assert latest["parentHash"] == parent["hash"]
    assert latest["timestamp"] >= parent["timestamp"]
    with pytest.raises(BlockNotFound):
        await w3.eth.get_block(latest["number"] + 100)
    (receipt,) = await w3.eth.get_block_receipts(latest["number"])
    assert receipt["transactionHash"] == tx["hash"] and receipt["status"] == 1


async def test_clock_controls_and_set_balance(w3: AsyncWeb3, node: ThreadedNode) -> None:
    probe = await deploy_probe(w3, account(0))
    snapshot = rpc(node.url, "evm_snapshot")["result"]  # the clock goes back afterwards
    _, before, _ = await probe.functions.blockContext().call()
    offset = rpc(node.url, "evm_increaseTime", [3600])["result"]
    assert offset >= 3600
    rpc(node.url, "evm_mine")
    assert (await w3.eth.get_block("latest"))["timestamp"] >= before + 3600
    target = (await w3.eth.get_block("latest"))["timestamp"] + 1000
    assert rpc(node.url, "evm_setNextBlockTimestamp", [hex(target)])["result"] is None
    rpc(node.url, "evm_mine")
    assert (await w3.eth.get_block("latest"))["timestamp"] == target
    too_early = rpc(node.url, "evm_setNextBlockTimestamp", [hex(target - 10)])
    assert "lower than the latest block" in too_early["error"]["message"]

    lucky = to_checksum_address("0x" + "42" * 20)
    head = await w3.eth.block_number
    assert rpc(node.url, "anvil_setBalance", [lucky, hex(5 * ETHER)])["result"] is None
    assert await w3.eth.get_balance(lucky) == 5 * ETHER
    assert await w3.eth.block_number == head  # no block needed
    assert rpc(node.url, "evm_revert", [snapshot])["result"] is True
    assert rpc(node.url, "evm_increaseTime", [0])["result"] == 0
    assert await w3.eth.get_balance(lucky) == 0


async def test_fee_methods_suit_web3_defaults(w3: AsyncWeb3) -> None:
    base_fee = (await w3.eth.get_block("pending"))["baseFeePerGas"]
    assert await w3.eth.max_priority_fee == GWEI
    assert await w3.eth.gas_price == base_fee + GWEI
    history = await w3.eth.fee_history(4, "latest", [10.0, 90.0])
    assert len(history["baseFeePerGas"]) == len(history["gasUsedRatio"]) + 1
    assert all(len(r) == 2 for r in history["reward"])
    assert history["baseFeePerGas"][-1] == base_fee


async def _store_tx(probe: Any, sender: Any, value: int, tag: bytes) -> Any:
    """A signed-ready ``store(value, tag)`` transaction with web3's default fees."""
    nonce = await probe.w3.eth.get_transaction_count(sender.address, "pending")
    fn = probe.functions.store(value, tag.ljust(32, b"\0"))
    return await fn.build_transaction({"from": sender.address, "nonce": nonce})
