"""Sending transactions from one key on one chain: nonces, fees, replacement.

The :class:`TxSender` hands out nonces locally, so transactions go out back to back
without waiting for receipts. A transaction is signed, then stored (raw, with the
messages it carries) and only then broadcast: after a crash, the stored raw
transaction is broadcast again as is, so nothing is sent twice under two nonces.
A nonce error resyncs from the chain; a stuck transaction is replaced with fees at
least 12.5% higher (nodes require 10%).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from eth_account import Account
from eth_utils.address import to_checksum_address

from relayer.chain.rpc import CallReverted, ChainRpc, RpcError
from relayer.config import PrivateKey
from relayer.errors import ChainError, InsufficientFunds
from relayer.store import Store, TxRow, TxStatus

BUMP_NUMERATOR = 9  # fees x 9/8 = +12.5%, above the 10% nodes require to replace
BUMP_DENOMINATOR = 8


class NonceTooLow(ChainError):
    """The node has already mined a transaction with this nonce from this key."""


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

    def __init__(self, rpc: ChainRpc, key: PrivateKey, store: Store, *, fee_multiplier: int = 2):
        self.rpc = rpc
        self.key = key
        self.address = key.address
        self.store = store
        self.chain_id = rpc.chain.chain_id
        self._fee_multiplier = fee_multiplier
        self._next_nonce: int | None = None
        self._lock = asyncio.Lock()
        self._fees: tuple[float, Fees] | None = None

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
        """EIP-1559 fees: a tip from the node, and room for the base fee to double."""
        cached = self._fees
        if cached and time.monotonic() - cached[0] < 2.0:
            return cached[1]
        block, tip_hex = await self.rpc.batch(
            [("eth_getBlockByNumber", ["latest", False]), ("eth_maxPriorityFeePerGas", [])]
        )
        base = int(block.get("baseFeePerGas", "0x0"), 16)
        tip = max(int(tip_hex, 16), 1)
        fees = Fees(max_fee=base * self._fee_multiplier + tip, priority_fee=tip)
        self._fees = (time.monotonic(), fees)
        return fees

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
            fees = await self.fees()
            for _attempt in range(3):
                nonce = self._next_nonce
                tx_hash, raw = self.sign(
                    to=to, data=data, nonce=nonce, gas=gas, fees=fees, value=value
                )
                row = TxRow(
                    chain_id=self.chain_id,
                    sender=self.address,
                    nonce=nonce,
                    hash=tx_hash,
                    raw=raw,
                    max_fee=fees.max_fee,
                    priority_fee=fees.priority_fee,
                    gas_limit=gas,
                    purpose=purpose,
                    sent_at=time.time(),
                    message_ids=list(message_ids),
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
            text = str(exc).lower()
            if "already known" in text or "already imported" in text or "known transaction" in text:
                return
            if "nonce too low" in text or "nonce is too low" in text or "old nonce" in text:
                raise NonceTooLow(str(exc)) from exc
            if "insufficient funds" in text:
                raise InsufficientFunds(
                    f"{self.rpc.where()}: {self.address} cannot pay for gas: fund it"
                ) from exc
            raise

    async def replace(self, row: TxRow) -> TxRow:
        """The same transaction (nonce, data) with fees raised by 12.5%, stored and sent."""
        fees = Fees(row.max_fee, row.priority_fee).bumped()
        current = await self.fees()
        fees = Fees(
            max(fees.max_fee, current.max_fee), max(fees.priority_fee, current.priority_fee)
        )
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
