"""Sending transactions from one key on one chain: nonces, fees, replacement.

The :class:`TxSender` hands out nonces locally, so transactions go out back to back
without waiting for receipts. A transaction is signed, then stored (raw, with the
messages it carries) and only then broadcast: after a crash, the stored raw
transaction is broadcast again as is, so nothing is sent twice under two nonces.
A nonce error resyncs from the chain; a stuck transaction is replaced with fees at
least 12.5% higher (nodes require 10%).

A chain's ``max_fee_per_gas`` caps the fee of every transaction signed, replacements
included. While the base fee is above it, ``send`` waits (``waiting_reason`` says why,
``stbridge_fee_above_cap`` is 1) instead of paying any price, and a stuck transaction
whose replacement would need more than the cap is left as it is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from eth_account import Account
from eth_utils.address import to_checksum_address

from relayer.chain.rpc import CallReverted, ChainRpc, RpcError
from relayer.config import PrivateKey
from relayer.errors import ChainError, InsufficientFunds, LeaseLost
from relayer.store import Store, TxRow, TxStatus
from relayer.telemetry.logging import get_logger
from relayer.telemetry.metrics import Metrics

BUMP_NUMERATOR = 9  # fees x 9/8 = +12.5%, above the 10% nodes require to replace
BUMP_DENOMINATOR = 8


class NonceTooLow(ChainError):
    """The node has already mined a transaction with this nonce from this key."""


class FeeAboveCap(ChainError):
    """A transaction would need a higher fee than the chain's max_fee_per_gas."""


def gwei(wei: int) -> str:
    """Wei as gwei for messages: ``12.5``, ``0.001``."""
    return f"{wei / 10**9:.9f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Outgoing:
    """A transaction to sign, store and broadcast (``TxSender.send_held``)."""

    to: str | None  # None: a contract creation
    data: bytes
    gas: int
    purpose: str
    message_ids: Sequence[bytes]


@dataclass(frozen=True)
class Fees:
    max_fee: int
    priority_fee: int

    def bumped(self) -> Fees:
        return Fees(
            max_fee=self.max_fee * BUMP_NUMERATOR // BUMP_DENOMINATOR + 1,
            priority_fee=self.priority_fee * BUMP_NUMERATOR // BUMP_DENOMINATOR + 1,
        )


class TxSender:
    """Signs and broadcasts transactions for one key on one chain."""

    def __init__(
        self,
        rpc: ChainRpc,
        key: PrivateKey,
        store: Store,
        *,
        fee_multiplier: int = 2,
        metrics: Metrics | None = None,
    ):
        self.rpc = rpc
        self.key = key
        self.address = key.address
        self.store = store
        self.chain_id = rpc.chain.chain_id
        self._fee_multiplier = fee_multiplier
        self._next_nonce: int | None = None
        self._lock = asyncio.Lock()
        self._fees: tuple[float, Fees, int] | None = None  # when, fees, base fee
        self.block_gas_limit: int | None = None  # the latest block's, seen with the fees
        # send_held: transactions stored but not all broadcast yet (the confirmer neither
        # sends them again nor replaces them meanwhile), and when the last hold ended
        self.holding = False
        self.released_at = 0.0
        self.max_fee_per_gas: int | None = rpc.chain.max_fee_per_gas_wei  # wei
        self.metrics = metrics
        # why sends wait right now (the base fee above the cap), or None
        self.waiting_reason: str | None = None
        self.log = get_logger("sender", chain=rpc.name)

    def __repr__(self) -> str:
        return f"TxSender({self.rpc.name}, {self.address})"

    async def sync_nonce(self) -> int:
        """The next nonce: the chain's pending count, past any transaction we still hold.

        Stored transactions that are still pending keep their nonces (the confirmer
        broadcasts them again); everything else is the chain's to say.
        """
        chain_nonce = await self.rpc.nonce(self.address, "pending")
        pending = await self.store.pending_txs(self.chain_id, self.address)
        held = max((t.nonce + 1 for t in pending), default=0)
        self._next_nonce = max(chain_nonce, held)
        return self._next_nonce

    async def fees(self) -> Fees:
        """EIP-1559 fees: a tip from the node, and room for the base fee to double,
        within the chain's ``max_fee_per_gas``."""
        return (await self._quote())[0]

    async def _quote(self) -> tuple[Fees, int]:
        """The fees to sign with and the latest base fee (asked at most every 2 s)."""
        cached = self._fees
        if cached and time.monotonic() - cached[0] < 2.0:
            return cached[1], cached[2]
        block, tip_hex = await self.rpc.batch(
            [("eth_getBlockByNumber", ["latest", False]), ("eth_maxPriorityFeePerGas", [])]
        )
        base = int(block.get("baseFeePerGas", "0x0"), 16)
        self.block_gas_limit = int(block.get("gasLimit", "0x0"), 16) or None
        tip = max(int(tip_hex, 16), 1)
        fees = self._capped(Fees(max_fee=base * self._fee_multiplier + tip, priority_fee=tip))
        self._fees = (time.monotonic(), fees, base)
        return fees, base

    def _capped(self, fees: Fees) -> Fees:
        cap = self.max_fee_per_gas
        if cap is None or fees.max_fee <= cap:
            return fees
        return Fees(max_fee=cap, priority_fee=min(fees.priority_fee, cap))

    async def wait_under_cap(self) -> None:
        """Return once the base fee is at most ``max_fee_per_gas``; until then wait,
        with the reason in ``waiting_reason``, a log line and ``stbridge_fee_above_cap``."""
        while True:
            if await self.above_cap() is None:
                return
            await asyncio.sleep(max(self.rpc.chain.block_time, 1.0))  # the fee moves per block

    async def above_cap(self) -> str | None:
        """Why sends wait now (the base fee is above ``max_fee_per_gas``), or None; one
        look at the fees. Sets ``waiting_reason`` and the metrics, and logs the changes."""
        cap = self.max_fee_per_gas
        if cap is None:
            return None
        _fees, base = await self._quote()
        if base <= cap:
            if self.waiting_reason is not None:
                self.waiting_reason = None
                if self.metrics:
                    self.metrics.fee_above_cap.labels(self.rpc.name).set(0)
                self.log.info(
                    "base fee under max_fee_per_gas again; sending",
                    base_fee_gwei=gwei(base), max_fee_per_gas_gwei=gwei(cap),
                )  # fmt: skip
            return None
        reason = (
            f"fee above cap on {self.rpc.name}: base fee {gwei(base)} gwei, "
            f"max_fee_per_gas {gwei(cap)} gwei; sends wait"
        )
        if self.waiting_reason is None:
            if self.metrics:
                self.metrics.fee_cap_waits.labels(self.rpc.name).inc()
                self.metrics.fee_above_cap.labels(self.rpc.name).set(1)
            self.log.warning(reason)
        self.waiting_reason = reason
        return reason

    async def estimate(self, to: str, data: bytes, value: int = 0) -> int:
        """Gas for a call, with 20% headroom; CallReverted carries the revert data."""
        params = {"from": self.address, "to": to, "data": "0x" + data.hex(), "value": hex(value)}
        try:
            gas = int(await self.rpc.request("eth_estimateGas", [params]), 16)
        except RpcError as exc:
            if "insufficient funds" in str(exc).lower():
                raise InsufficientFunds(
                    f"{self.rpc.where()}: {self.address} cannot pay for gas: fund it"
                ) from None
            raise
        return gas * 6 // 5 + 10_000

    def sign(
        self, *, to: str | None, data: bytes, nonce: int, gas: int, fees: Fees, value: int = 0
    ) -> tuple[str, bytes]:
        """A signed EIP-1559 transaction: its hash and raw bytes."""
        tx = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": fees.max_fee,
            "maxPriorityFeePerGas": fees.priority_fee,
            "value": value,
            "data": data,
        }
        if to is not None:
            tx["to"] = to
        signed = Account.sign_transaction(tx, self.key.secret())
        return "0x" + bytes(signed.hash).hex(), bytes(signed.raw_transaction)

    async def send(
        self,
        *,
        to: str | None,
        data: bytes,
        gas: int,
        purpose: str,
        message_ids: Sequence[bytes] = (),
        value: int = 0,
    ) -> TxRow:
        """Sign, store, then broadcast. Returns the stored transaction.

        Raises InsufficientFunds (nothing stays pending: the messages go back to the
        queue) or ChainError for a refusal that a retry would not fix. A transient
        failure to broadcast leaves the transaction stored and pending; the confirmer
        broadcasts it again.
        """
        async with self._lock:
            if self._next_nonce is None:
                await self.sync_nonce()
            assert self._next_nonce is not None
            await self.wait_under_cap()
            fees = await self.fees()
            for _attempt in range(3):
                nonce = self._next_nonce
                row = self._signed_row(
                    Outgoing(to, data, gas, purpose, message_ids), nonce, fees, value=value
                )
                if message_ids:
                    await self.store.submit(row)
                else:
                    await self.store.add_tx(row)
                self._next_nonce = nonce + 1
                try:
                    await self.broadcast(row)
                    return row
                except NonceTooLow:
                    await self._abandon(row)
                    await self.sync_nonce()
                    continue
                except InsufficientFunds:
                    await self._abandon(row)
                    self._next_nonce = nonce
                    raise
                except RpcError:
                    await self._abandon(row)
                    self._next_nonce = nonce
                    raise
            raise ChainError(f"{self.rpc.where()}: nonces keep colliding for {self.address}")

    def _signed_row(self, item: Outgoing, nonce: int, fees: Fees, *, value: int = 0) -> TxRow:
        """``item`` signed at ``nonce``: the row stored before it is broadcast."""
        tx_hash, raw = self.sign(
            to=item.to, data=item.data, nonce=nonce, gas=item.gas, fees=fees, value=value
        )
        return TxRow(
            chain_id=self.chain_id,
            sender=self.address,
            nonce=nonce,
            hash=tx_hash,
            raw=raw,
            max_fee=fees.max_fee,
            priority_fee=fees.priority_fee,
            gas_limit=item.gas,
            purpose=item.purpose,
            sent_at=time.time(),
            message_ids=list(item.message_ids),
        )

    async def gas_limit(self) -> int | None:
        """The destination's block gas limit (latest block, asked with the fees)."""
        await self._quote()
        return self.block_gas_limit

    async def send_held(
        self, items: Sequence[Outgoing], *, before_broadcast: Callable[[], Awaitable[None]]
    ) -> list[TxRow]:
        """Sign and store every item (consecutive nonces), then, once ``before_broadcast``
        returns, broadcast them in nonce order: a backlog's first block's worth reaches
        the node's pool at once, so the block that seals them is full.

        Same guarantees as ``send``: each transaction is stored before it is broadcast.
        An item whose messages another relayer took (LeaseLost) is left out, nothing
        stored. A refusal while broadcasting abandons that transaction and every later
        one (none of those was broadcast; their messages go back to the queue) and
        raises as ``send`` does, except a nonce collision: the nonce is synced from the
        chain and the transactions broadcast so far are returned. The key's lock is held
        throughout, so no other send takes a nonce in between.
        """
        async with self._lock:
            self.holding = True
            try:
                return await self._send_held(items, before_broadcast)
            finally:
                self.holding = False
                self.released_at = time.time()

    async def _send_held(
        self, items: Sequence[Outgoing], before_broadcast: Callable[[], Awaitable[None]]
    ) -> list[TxRow]:
        # under self._lock, with self.holding set (send_held)
        rows = await self._sign_and_store(items)
        try:
            await before_broadcast()
        except ChainError as exc:  # only a matter of timing: they go out now
            self.log.info("broadcasting held transactions without waiting", error=str(exc))
        return await self._broadcast_rows(rows)

    async def send_many(self, items: Sequence[Outgoing]) -> list[TxRow]:
        """Sign every item (consecutive nonces), store them all in one store transaction,
        then broadcast them in one batch request: two round trips for a round's chunk of
        transactions instead of two per transaction (a backlog's rounds, under load).

        The guarantees of ``send_held``: each is stored before any is broadcast; one
        whose messages another relayer took is left out; a refusal abandons the refused
        ones the node took nothing after (their messages go back to the queue) and raises
        as ``send`` does (a nonce collision: synced, the ones taken returned). A refused
        one followed by ones the node took stays stored and pending, for the confirmer to
        broadcast again: its nonce must be filled for theirs to be mined.
        """
        async with self._lock:
            rows = await self._sign_and_store(items)
            return await self._broadcast_rows(rows)

    async def _sign_and_store(self, items: Sequence[Outgoing]) -> list[TxRow]:
        """Sign ``items`` at the next nonces and store them in one transaction (under the
        lock). When another relayer took messages of one (LeaseLost), each is stored on
        its own instead and that one left out, nothing stored for it."""
        if self._next_nonce is None:
            await self.sync_nonce()
        assert self._next_nonce is not None
        await self.wait_under_cap()
        fees = await self.fees()
        start = self._next_nonce
        rows = [self._signed_row(item, start + i, fees) for i, item in enumerate(items)]
        try:
            await self.store.submit_many(rows)
        except LeaseLost:
            rows = []
            for item in items:  # one by one, as they were before (rare: a lease expired)
                row = self._signed_row(item, start + len(rows), fees)
                try:
                    await self.store.submit(row)
                except LeaseLost as exc:  # nothing stored; the other relayer has them
                    self.log.warning("lease taken over by another relayer", error=str(exc))
                    continue
                rows.append(row)
        self._next_nonce = start + len(rows)
        return rows

    async def _broadcast_rows(self, rows: list[TxRow]) -> list[TxRow]:
        """Broadcast stored ``rows`` (consecutive nonces) in one request; see ``send_many``
        for what a refusal does. A failure to reach the node leaves them all stored and
        pending (the confirmer broadcasts them again) and raises."""
        if not rows:
            return rows
        outcomes = await self.rpc.send_raw_many([row.raw for row in rows])
        refusals = [
            None if isinstance(outcome, str) else self._refusal(outcome) for outcome in outcomes
        ]
        taken = [i for i, refusal in enumerate(refusals) if refusal is None]
        last_taken = taken[-1] if taken else -1
        for row, refusal in zip(rows[:last_taken], refusals[:last_taken], strict=True):
            if refusal is not None:  # the node took later nonces: this one must follow
                self.log.warning(
                    "transaction refused before later ones were taken; broadcast again later",
                    tx=row.hash, nonce=row.nonce, error=str(refusal),
                )  # fmt: skip
        unsent = rows[last_taken + 1 :]
        if not unsent:
            return rows
        for row in unsent:
            await self._abandon(row)
        first = refusals[last_taken + 1]
        assert first is not None
        if isinstance(first, NonceTooLow):
            await self.sync_nonce()
            return rows[: last_taken + 1]
        self._next_nonce = unsent[0].nonce
        raise first

    async def _abandon(self, row: TxRow) -> None:
        """A transaction the node refused for good: drop it, put its messages back."""
        await self.store.set_tx_status(row.hash, TxStatus.DROPPED)
        if row.message_ids:
            await self.store.requeue(row.message_ids)

    async def broadcast(self, row: TxRow) -> None:
        """Send stored raw bytes; 'already known' counts as sent."""
        try:
            await self.rpc.send_raw(row.raw)
        except (RpcError, CallReverted) as exc:
            refusal = self._refusal(exc)
            if refusal is None:
                return
            if refusal is exc:
                raise
            raise refusal from exc

    def _refusal(self, exc: RpcError | CallReverted) -> Exception | None:
        """What the node's answer to a broadcast means: None when it has the transaction
        ('already known'), NonceTooLow, InsufficientFunds, or the answer itself."""
        text = str(exc).lower()
        if "already known" in text or "already imported" in text or "known transaction" in text:
            return None
        if "nonce too low" in text or "nonce is too low" in text or "old nonce" in text:
            return NonceTooLow(str(exc))
        if "insufficient funds" in text:
            return InsufficientFunds(
                f"{self.rpc.where()}: {self.address} cannot pay for gas: fund it"
            )
        return exc

    async def replace(self, row: TxRow) -> TxRow:
        """The same transaction (nonce, data) with fees raised by 12.5%, stored and sent.

        FeeAboveCap, nothing sent, when the raise would go past ``max_fee_per_gas``.
        """
        bumped = Fees(row.max_fee, row.priority_fee).bumped()
        cap = self.max_fee_per_gas
        if cap is not None and bumped.max_fee > cap:
            raise FeeAboveCap(
                f"{self.rpc.where()}: transaction {row.hash[:12]}… is not replaced: a "
                f"replacement needs a max fee of {gwei(bumped.max_fee)} gwei, above "
                f"max_fee_per_gas {gwei(cap)} gwei; it waits to be mined as it is"
            )
        current = await self.fees()
        fees = Fees(
            max(bumped.max_fee, current.max_fee), max(bumped.priority_fee, current.priority_fee)
        )
        if cap is not None:  # bumped.max_fee <= cap <= fees.max_fee: the cap stays a raise
            fees = Fees(min(fees.max_fee, cap), min(fees.priority_fee, fees.max_fee, cap))
        tx = decode_signed(row.raw)
        tx_hash, raw = self.sign(
            to=tx[0], data=tx[1], nonce=row.nonce, gas=row.gas_limit, fees=fees, value=tx[2]
        )
        replacement = TxRow(
            chain_id=row.chain_id,
            sender=row.sender,
            nonce=row.nonce,
            hash=tx_hash,
            raw=raw,
            max_fee=fees.max_fee,
            priority_fee=fees.priority_fee,
            gas_limit=row.gas_limit,
            purpose=row.purpose,
            sent_at=time.time(),
            replaces=row.hash,
            message_ids=list(row.message_ids),
        )
        await self.store.add_tx(replacement)
        await self.broadcast(replacement)
        return replacement


def decode_signed(raw: bytes) -> tuple[str | None, bytes, int]:
    """The recipient, calldata and value of a signed typed transaction."""
    from eth_account.typed_transactions.typed_transaction import TypedTransaction
    from hexbytes import HexBytes

    fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    to = fields.get("to")
    to_text = None
    if to:
        raw_to = "0x" + bytes(to).hex() if isinstance(to, bytes) else str(to)
        to_text = str(to_checksum_address(raw_to))
    data = fields.get("data", b"")
    payload = bytes(data) if isinstance(data, bytes | bytearray) else bytes.fromhex(str(data)[2:])
    return to_text, payload, int(fields.get("value", 0))
