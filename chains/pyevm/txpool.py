"""The pool of transactions waiting for a block, and the order blocks take them in.

Transactions are kept per sender by nonce. A sender's transactions are *ready*
from its state nonce up to the first gap; the rest wait (queued) until the gap is
filled. A block takes ready transactions by effective tip, highest first, always
in nonce order per sender (geth's ``TransactionsByPriceAndNonce``). A transaction
with the nonce of one in the pool replaces it only with both fees at least 10%
higher (geth's price bump).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from eth.abc import SignedTransactionAPI
from eth_typing import Address

from chains.pyevm.errors import TransactionRejected

PRICE_BUMP_PERCENT = 10


@dataclass(frozen=True, slots=True)
class PendingTx:
    """A transaction admitted to the pool, with what the pool orders it by."""

    tx: SignedTransactionAPI
    hash: bytes
    sender: Address
    nonce: int
    seq: int

    @property
    def max_fee(self) -> int:
        return int(self.tx.max_fee_per_gas)

    @property
    def max_tip(self) -> int:
        return int(self.tx.max_priority_fee_per_gas)

    def effective_tip(self, base_fee: int) -> int:
        """The tip per gas the block producer earns at ``base_fee`` (< 0: not includable)."""
        return min(self.max_tip, self.max_fee - base_fee)


class TxPool:
    """Pending transactions by sender and nonce, and by hash."""

    def __init__(self, max_size: int = 20_000, max_per_sender: int = 4_096) -> None:
        self._max_size = max_size
        self._max_per_sender = max_per_sender
        self._by_sender: dict[Address, dict[int, PendingTx]] = {}
        self._by_hash: dict[bytes, PendingTx] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._by_hash)

    def get(self, tx_hash: bytes) -> PendingTx | None:
        """The pooled transaction with this hash, if any."""
        return self._by_hash.get(tx_hash)

    def add(self, tx: SignedTransactionAPI, sender: Address) -> PendingTx:
        """Pool ``tx``, replacing a same-nonce one that pays at least 10% less.

        Raises TransactionRejected: already known, replacement underpriced, pool full.
        """
        tx_hash = bytes(tx.hash)
        if tx_hash in self._by_hash:
            raise TransactionRejected("already known")
        slots = self._by_sender.setdefault(sender, {})
        nonce = int(tx.nonce)
        old = slots.get(nonce)
        if old is not None:
            bump = 100 + PRICE_BUMP_PERCENT
            new_fee, new_tip = int(tx.max_fee_per_gas), int(tx.max_priority_fee_per_gas)
            if new_fee * 100 < old.max_fee * bump or new_tip * 100 < old.max_tip * bump:
                raise TransactionRejected(
                    f"replacement transaction underpriced: both fees must rise by at least "
                    f"{PRICE_BUMP_PERCENT}% over the pending transaction with nonce {nonce}"
                )
            del self._by_hash[old.hash]
        elif len(self._by_hash) >= self._max_size or len(slots) >= self._max_per_sender:
            if not slots:
                del self._by_sender[sender]
            raise TransactionRejected("txpool is full: wait for pending transactions to be mined")
        self._seq += 1
        entry = PendingTx(tx, tx_hash, sender, nonce, self._seq)
        slots[nonce] = entry
        self._by_hash[tx_hash] = entry
        return entry

    def next_nonce(self, sender: Address, state_nonce: int) -> int:
        """The nonce after the sender's ready transactions (the "pending" nonce)."""
        slots = self._by_sender.get(sender)
        nonce = state_nonce
        if slots:
            while nonce in slots:
                nonce += 1
        return nonce

    def remove(self, tx_hash: bytes) -> None:
        """Forget a transaction (mined, or no longer valid)."""
        entry = self._by_hash.pop(tx_hash, None)
        if entry is None:
            return
        slots = self._by_sender[entry.sender]
        del slots[entry.nonce]
        if not slots:
            del self._by_sender[entry.sender]

    def drop_stale(self, nonce_of: Callable[[Address], int]) -> list[PendingTx]:
        """Remove every transaction whose nonce the state has passed; returns them."""
        stale = [
            entry
            for sender, slots in self._by_sender.items()
            for nonce, entry in slots.items()
            if nonce < nonce_of(sender)
        ]
        for entry in stale:
            self.remove(entry.hash)
        return stale

    def ready(self, nonce_of: Callable[[Address], int]) -> dict[Address, list[PendingTx]]:
        """Per sender, the consecutive transactions from its state nonce on."""
        runs: dict[Address, list[PendingTx]] = {}
        for sender, slots in self._by_sender.items():
            nonce = nonce_of(sender)
            run = []
            while nonce in slots:
                run.append(slots[nonce])
                nonce += 1
            if run:
                runs[sender] = run
        return runs

    def entries(self) -> Iterator[PendingTx]:
        """Every pooled transaction, oldest first."""
        return iter(sorted(self._by_hash.values(), key=lambda e: e.seq))

    def copy(self) -> TxPool:
        """An independent pool with the same transactions (for snapshots)."""
        twin = TxPool(self._max_size, self._max_per_sender)
        twin._by_sender = {s: dict(slots) for s, slots in self._by_sender.items()}
        twin._by_hash = dict(self._by_hash)
        twin._seq = self._seq
        return twin


class PackingQueue:
    """Ready transactions in block order: best effective tip first, nonce order per sender.

    ``peek`` shows the next candidate; ``accept`` moves past it to the sender's
    next transaction; ``skip_sender`` drops the rest of that sender's run (its
    transaction did not fit or could not pay, so later nonces cannot go either).
    """

    def __init__(self, runs: dict[Address, list[PendingTx]], base_fee: int) -> None:
        self._runs = runs
        self._base_fee = base_fee
        self._pos: dict[Address, int] = {}
        self._heap: list[tuple[int, int, Address]] = []
        for sender in runs:
            self._push(sender, 0)

    def _push(self, sender: Address, pos: int) -> None:
        run = self._runs[sender]
        if pos >= len(run):
            return
        tip = run[pos].effective_tip(self._base_fee)
        if tip < 0:  # cannot pay this block's base fee: it and later nonces wait
            return
        self._pos[sender] = pos
        heapq.heappush(self._heap, (-tip, run[pos].seq, sender))

    def peek(self) -> PendingTx | None:
        """The next transaction to try, or None when nothing is left."""
        if not self._heap:
            return None
        _, _, sender = self._heap[0]
        return self._runs[sender][self._pos[sender]]

    def accept(self) -> None:
        """The peeked transaction went into the block: offer the sender's next one."""
        _, _, sender = heapq.heappop(self._heap)
        self._push(sender, self._pos[sender] + 1)

    def skip_sender(self) -> None:
        """The peeked transaction cannot go into this block, nor its sender's later ones."""
        heapq.heappop(self._heap)
