"""The pool: pending nonces, replacement by price bump, block order by tip and nonce."""

from __future__ import annotations

import pytest
from eth_typing import Address

from chains.pyevm.admission import decode_transaction
from chains.pyevm.errors import TransactionRejected
from chains.pyevm.txpool import PackingQueue, PendingTx, TxPool
from tests.fixtures.pyevm.support import CHAIN_ID, GWEI, account, sign_tx

TO = "0x" + "22" * 20


def pool_add(pool: TxPool, n: int, nonce: int, fee: int = 100 * GWEI, tip: int = GWEI) -> PendingTx:
    raw = sign_tx(account(n), nonce=nonce, to=TO, maxFeePerGas=fee, maxPriorityFeePerGas=tip)
    decoded = decode_transaction(raw, CHAIN_ID, 30_000_000)
    return pool.add(decoded.tx, decoded.sender)


def sender(n: int) -> Address:
    return Address(bytes.fromhex(account(n).address[2:]))


def test_pending_nonce_counts_only_the_run_without_gaps() -> None:
    pool = TxPool()
    for nonce in (5, 6, 8):
        pool_add(pool, 0, nonce)
    assert pool.next_nonce(sender(0), 5) == 7
    assert pool.next_nonce(sender(0), 4) == 4  # nonce 4 missing: nothing is ready
    assert pool.next_nonce(sender(1), 9) == 9
    runs = pool.ready(lambda s: 5)
    assert [e.nonce for e in runs[sender(0)]] == [5, 6]


def test_replacement_needs_both_fees_ten_percent_higher() -> None:
    pool = TxPool()
    first = pool_add(pool, 0, 0, fee=100 * GWEI, tip=10 * GWEI)
    with pytest.raises(TransactionRejected, match="already known"):
        pool.add(first.tx, first.sender)
    with pytest.raises(TransactionRejected, match="replacement transaction underpriced"):
        pool_add(pool, 0, 0, fee=109 * GWEI, tip=11 * GWEI)
    with pytest.raises(TransactionRejected, match="replacement transaction underpriced"):
        pool_add(pool, 0, 0, fee=200 * GWEI, tip=10 * GWEI)  # the tip did not rise
    second = pool_add(pool, 0, 0, fee=110 * GWEI, tip=11 * GWEI)
    assert len(pool) == 1
    assert pool.get(first.hash) is None and pool.get(second.hash) is second


def test_a_full_pool_refuses_new_transactions() -> None:
    pool = TxPool(max_size=2)
    pool_add(pool, 0, 0)
    pool_add(pool, 1, 0)
    with pytest.raises(TransactionRejected, match="txpool is full"):
        pool_add(pool, 2, 0)
    assert len(pool) == 2


def test_blocks_take_the_best_tip_first_and_nonces_in_order() -> None:
    pool = TxPool()
    pool_add(pool, 0, 0, tip=1 * GWEI)
    pool_add(pool, 0, 1, tip=9 * GWEI)  # must still wait for nonce 0
    pool_add(pool, 1, 0, tip=5 * GWEI)
    pool_add(pool, 2, 0, fee=7 * GWEI, tip=7 * GWEI)  # effective tip: 7 - 5 (base fee) = 2
    queue = PackingQueue(pool.ready(lambda s: 0), base_fee=5 * GWEI)
    order = []
    while (entry := queue.peek()) is not None:
        order.append((entry.sender, entry.nonce))
        queue.accept()
    assert order == [(sender(1), 0), (sender(2), 0), (sender(0), 0), (sender(0), 1)]


def test_underpriced_and_skipped_senders_wait() -> None:
    pool = TxPool()
    pool_add(pool, 0, 0, fee=2 * GWEI, tip=GWEI)
    pool_add(pool, 1, 0)
    pool_add(pool, 1, 1)
    queue = PackingQueue(pool.ready(lambda s: 0), base_fee=3 * GWEI)  # sender 0 cannot pay
    entry = queue.peek()
    assert entry is not None and entry.sender == sender(1)
    queue.skip_sender()  # e.g. did not fit: its nonce 1 cannot go either
    assert queue.peek() is None


def test_drop_stale_and_copy() -> None:
    pool = TxPool()
    for nonce in range(3):
        pool_add(pool, 0, nonce)
    twin = pool.copy()
    dropped = pool.drop_stale(lambda s: 2)
    assert sorted(e.nonce for e in dropped) == [0, 1]
    assert len(pool) == 1 and len(twin) == 3
    assert [e.nonce for e in twin.entries()] == [0, 1, 2]
