"""The chain without HTTP: mining modes, pool order, clock, snapshots, state edits."""

from __future__ import annotations

import pytest
from eth_typing import Address
from eth_utils import to_checksum_address

from chains.pyevm.chain import DevChain
from chains.pyevm.errors import ServerError, TransactionRejected
from tests.fixtures.pyevm.support import (
    CHAIN_ID,
    ETHER,
    GWEI,
    account,
    calldata,
    deploy_code,
    sign_tx,
)


class Clock:
    def __init__(self, now: float = 1_700_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def new_chain(
    automine: bool = True, gas_limit: int = 30_000_000, clock: Clock | None = None
) -> DevChain:
    alloc = {bytes.fromhex(account(i).address[2:]): 1000 * ETHER for i in range(3)}
    return DevChain(CHAIN_ID, gas_limit, alloc, automine=automine, clock=clock or Clock())


def address(n: int) -> Address:
    return Address(bytes.fromhex(account(n).address[2:]))


def transfer(n: int, nonce: int, **fields: int) -> bytes:
    return sign_tx(account(n), nonce=nonce, to=account(2).address, value=1, **fields)


def test_automine_makes_one_block_per_transaction_and_none_when_idle() -> None:
    chain = new_chain()
    chain.submit(transfer(0, 0))
    chain.submit(transfer(1, 0))
    assert chain.head.number == 2
    chain.submit(transfer(0, 2))  # nonce gap: queued, no block
    assert chain.head.number == 2 and chain.pending_nonce(address(0)) == 1
    chain.submit(transfer(0, 1))  # fills the gap: both go, in one block
    assert chain.head.number == 3 and len(chain.head.receipts) == 2 and len(chain.pool) == 0


def test_interval_block_takes_higher_tips_first_and_respects_gas_limit() -> None:
    chain = new_chain(automine=False, gas_limit=2 * 21_000 + 5_000)
    low = chain.submit(transfer(0, 0, maxPriorityFeePerGas=GWEI))
    high = chain.submit(transfer(1, 0, maxPriorityFeePerGas=3 * GWEI))
    later = chain.submit(transfer(1, 1, maxPriorityFeePerGas=2 * GWEI))
    assert chain.head.number == 0
    block = chain.mine_block()
    assert [r.tx_hash for r in block.receipts] == [high, later]
    assert sum(r.gas_used for r in block.receipts) == block.header.gas_used == 42_000
    assert [r.tx_hash for r in chain.mine_block().receipts] == [low]
    assert [r.tx_hash for r in chain.mine_block().receipts] == []  # empty blocks too


def test_replacement_in_the_pool_is_what_gets_mined() -> None:
    chain = new_chain(automine=False)
    first = chain.submit(transfer(0, 0, maxFeePerGas=10 * GWEI, maxPriorityFeePerGas=GWEI))
    bumped = chain.submit(
        sign_tx(
            account(0),
            nonce=0,
            to=account(1).address,
            value=9,
            maxFeePerGas=11 * GWEI,
            maxPriorityFeePerGas=GWEI + GWEI // 10,
        )
    )
    assert chain.pending_transaction(first) is None
    assert [r.tx_hash for r in chain.mine_block().receipts] == [bumped]


def test_a_transaction_that_cannot_pay_waits_in_the_pool_until_funded() -> None:
    chain = new_chain(automine=False)
    tx_hash = chain.submit(transfer(0, 0))
    holder = address(0)
    chain.edit_state(lambda state: state.set_balance(holder, 0))
    assert chain.mine_block().receipts == ()
    assert chain.pending_transaction(tx_hash) is not None
    chain.edit_state(lambda state: state.set_balance(holder, ETHER))
    assert [r.tx_hash for r in chain.mine_block().receipts] == [tx_hash]


def test_clock_offset_next_timestamp_and_equal_timestamps() -> None:
    clock = Clock()
    chain = new_chain(clock=clock)
    genesis = int(chain.head.header.timestamp)
    assert chain.mine_block().header.timestamp == genesis  # same second: allowed, as anvil
    assert chain.increase_time(100) == 100
    assert chain.mine_block().header.timestamp == genesis + 100
    chain.set_next_timestamp(genesis + 500)
    chain.submit(transfer(0, 0))
    assert chain.head.header.timestamp == genesis + 500
    clock.now += 10
    assert chain.mine_block().header.timestamp == genesis + 510  # time runs on from there
    with pytest.raises(ServerError, match="lower than the latest block's"):
        chain.set_next_timestamp(genesis)
    with pytest.raises(ServerError, match="lower than the latest block's"):
        chain.mine_block(timestamp=genesis)
    clock.now -= 1000  # the wall clock going back never moves blocks back
    assert chain.mine_block().header.timestamp == genesis + 510


def test_snapshot_restores_head_state_pool_and_clock() -> None:
    chain = new_chain(automine=False)
    pending = chain.submit(transfer(0, 0))
    snap = chain.snapshot()
    chain.increase_time(50)
    mined = chain.mine_block()
    assert mined.receipts[0].tx_hash == pending
    assert chain.revert(snap) is True
    assert chain.head.number == 0
    assert chain.index.locate_transaction(pending) is None
    assert chain.pending_transaction(pending) is not None
    assert chain.increase_time(0) == 0
    assert chain.revert(snap) is False
    assert chain.revert(12345) is False
    assert chain.mine_block().receipts[0].tx_hash == pending


def test_tags() -> None:
    chain = new_chain()
    for _ in range(70):
        chain.mine_block()
    assert [
        chain.tag_number(t) for t in ("latest", "pending", "earliest", "safe", "finalized")
    ] == [
        70,
        70,
        0,
        38,
        6,
    ]


def test_receipts_and_log_positions_across_a_block() -> None:
    chain = new_chain(automine=False)
    chain.submit(sign_tx(account(0), nonce=0, data=deploy_code(), gas=2_000_000))
    deployed = chain.mine_block()
    probe = deployed.receipts[0].contract_address
    assert probe is not None and deployed.logs[0].address == probe
    store = calldata("store(uint256,bytes32)", ["uint256", "bytes32"], [1, b"\0" * 32])
    for n in range(2):
        chain.submit(
            sign_tx(
                account(n),
                nonce=1 if n == 0 else 0,
                to=to_checksum_address(probe),
                data=store,
                gas=100_000,
            )
        )
    block = chain.mine_block()
    assert [(log.tx_index, log.log_index) for log in block.logs] == [(0, 0), (1, 1)]
    assert [r.cumulative_gas_used for r in block.receipts] == [
        block.receipts[0].gas_used,
        block.receipts[0].gas_used + block.receipts[1].gas_used,
    ]
    assert all(r.status == 1 for r in block.receipts)


def test_submit_refuses_what_the_state_forbids() -> None:
    chain = new_chain()
    chain.submit(transfer(0, 0))
    with pytest.raises(TransactionRejected, match="nonce too low"):
        chain.submit(transfer(0, 0, maxPriorityFeePerGas=2 * GWEI))
    poor = sign_tx(account(9), nonce=0, to=account(1).address)
    with pytest.raises(TransactionRejected, match="insufficient funds"):
        chain.submit(poor)
