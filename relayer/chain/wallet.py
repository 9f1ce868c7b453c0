"""A key on a chain, for the commands people run: deploy, send, onboard, lock, claim.

Transactions go out back to back with locally counted nonces (a deployment of thirty
transactions takes a block or two, not thirty), then :meth:`Wallet.wait` collects
the receipts. A call that would revert is stopped before it is sent, and its custom
error is decoded into the message: ``send on chain a reverted:
RecipientNotEligible(recipient=0x…)``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address

from relayer.chain import contracts
from relayer.chain.rpc import CallReverted, ChainRpc, revert_data
from relayer.config import PrivateKey
from relayer.core.hashing import keccak256
from relayer.errors import ChainError, InsufficientFunds, RpcTimeout, TransactionReverted


@dataclass(frozen=True)
class Sent:
    """A broadcast transaction and what it was for."""

    hash: str
    what: str
    contract_address: str | None = None


def create_address(sender: str, nonce: int) -> str:
    """The address a CREATE from ``sender`` at ``nonce`` deploys to."""
    import rlp  # py-evm's dependency; tiny, and exactly Ethereum's encoding

    raw = rlp.encode([bytes.fromhex(sender[2:]), nonce])
    return str(to_checksum_address(keccak256(raw)[12:]))


class Wallet:
    """Signs and sends from one key on one chain, pipelining nonces."""

    def __init__(self, rpc: ChainRpc, key: PrivateKey) -> None:
        self.rpc = rpc
        self.key = key
        self.address = key.address
        self._nonce: int | None = None
        self._lock = asyncio.Lock()

    async def call(self, to: str, fn: contracts.Function, *args: Any, block: str = "latest") -> Any:
        """A read-only call; returns the single output or the tuple of outputs."""
        try:
            raw = await self.rpc.call(to, fn.encode(*args), block)
        except CallReverted as exc:
            reason = contracts.decode_revert(revert_data(exc))
            raise TransactionReverted(
                f"{fn.name} on chain {self.rpc.name} reverted: {reason}"
            ) from None
        out = fn.decode(raw)
        return out[0] if len(out) == 1 else out

    async def code_at(self, address: str) -> bytes:
        result = await self.rpc.request("eth_getCode", [address, "latest"])
        return bytes.fromhex(str(result)[2:])

    async def send(
        self, to: str | None, data: bytes, *, what: str, value: int = 0, gas: int | None = None
    ) -> Sent:
        """Estimate (refusing what would revert), sign and broadcast; does not wait."""
        async with self._lock:
            if self._nonce is None:
                self._nonce = await self.rpc.nonce(self.address, "pending")
            nonce = self._nonce
            if gas is None:
                gas = await self._estimate(to, data, value, what)
            fees = await self._fees()
            tx: dict[str, Any] = {
                "type": 2,
                "chainId": self.rpc.chain.chain_id,
                "nonce": nonce,
                "gas": gas,
                "maxFeePerGas": fees[0],
                "maxPriorityFeePerGas": fees[1],
                "value": value,
                "data": data,
            }
            if to is not None:
                tx["to"] = to_checksum_address(to)
            signed = Account.sign_transaction(tx, self.key.secret())
            try:
                tx_hash = await self.rpc.send_raw(bytes(signed.raw_transaction))
            except ChainError as exc:
                if "insufficient funds" in str(exc).lower():
                    raise InsufficientFunds(
                        f"{self.address} cannot pay for {what} on chain {self.rpc.name}: fund it"
                    ) from None
                self._nonce = None  # resync on the next send
                raise
            self._nonce = nonce + 1
            created = create_address(self.address, nonce) if to is None else None
            return Sent(hash=tx_hash, what=what, contract_address=created)

    async def _estimate(self, to: str | None, data: bytes, value: int, what: str) -> int:
        params: dict[str, Any] = {
            "from": self.address,
            "data": "0x" + data.hex(),
            "value": hex(value),
        }
        if to is not None:
            params["to"] = to
        try:
            gas = int(await self.rpc.request("eth_estimateGas", [params]), 16)
        except CallReverted as exc:
            reason = contracts.decode_revert(revert_data(exc))
            raise TransactionReverted(
                f"{what} on chain {self.rpc.name} reverted: {reason}"
            ) from None
        except ChainError as exc:
            if "insufficient funds" in str(exc).lower():
                raise InsufficientFunds(
                    f"{self.address} cannot pay for {what} on chain {self.rpc.name}: fund it"
                ) from None
            raise
        return gas * 6 // 5 + 20_000

    async def _fees(self) -> tuple[int, int]:
        block, tip = await self.rpc.batch(
            [("eth_getBlockByNumber", ["latest", False]), ("eth_maxPriorityFeePerGas", [])]
        )
        base = int(block.get("baseFeePerGas", "0x0"), 16)
        priority = max(int(tip, 16), 1)
        return base * 2 + priority, priority

    async def deploy(self, artifact: contracts.Artifact, *args: Any) -> Sent:
        return await self.send(None, artifact.deploy_data(*args), what=f"deploy {artifact.name}")

    async def wait(self, sent: Sequence[Sent], *, within: float = 120.0) -> list[dict[str, Any]]:
        """Receipts of ``sent``, in order; TransactionReverted names the first that failed."""
        pending = {s.hash: s for s in sent}
        receipts: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + within
        while pending:
            answers = await self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in pending])
            for tx_hash, receipt in zip(list(pending), answers, strict=True):
                if receipt:
                    receipts[tx_hash] = receipt
                    del pending[tx_hash]
            if not pending:
                break
            if time.monotonic() > deadline:
                first = next(iter(pending.values()))
                raise RpcTimeout(
                    f"{first.what} on chain {self.rpc.name} was not mined within {within:g}s "
                    f"(tx {first.hash}): is the chain producing blocks?"
                )
            await asyncio.sleep(0.1)
        for s in sent:
            receipt = receipts[s.hash]
            if int(receipt.get("status", "0x0"), 16) != 1:
                reason = await self._why(s, receipt)
                raise TransactionReverted(
                    f"{s.what} on chain {self.rpc.name} reverted: {reason} (tx {s.hash})"
                )
        return [receipts[s.hash] for s in sent]

    async def _why(self, sent: Sent, receipt: dict[str, Any]) -> str:
        tx = await self.rpc.request("eth_getTransactionByHash", [sent.hash])
        if not tx:
            return "unknown reason"
        params = {"from": tx["from"], "data": tx["input"], "value": tx.get("value", "0x0")}
        if tx.get("to"):
            params["to"] = tx["to"]
        block = max(int(receipt["blockNumber"], 16) - 1, 0)
        try:
            await self.rpc.request("eth_call", [params, hex(block)])
        except CallReverted as exc:
            return contracts.decode_revert(revert_data(exc))
        if int(receipt.get("gasUsed", "0x0"), 16) >= int(tx.get("gas", "0x0"), 16):
            return "out of gas"
        return "reverted"

    async def transact(
        self, to: str, fn: contracts.Function, *args: Any, what: str | None = None
    ) -> dict[str, Any]:
        """Send one call and wait for it."""
        sent = await self.send(to, fn.encode(*args), what=what or fn.name)
        return (await self.wait([sent]))[0]
