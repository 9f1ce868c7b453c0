"""The JSON-RPC methods of the embedded node.

:class:`NodeMethods` holds one function per method. ``INLINE`` methods read only
values that never change or change atomically (the chain id, the head number),
so the server answers them on the event loop at once, even while a block is
being mined; every other method runs on the chain thread under the node's lock.

The ``pending`` tag reads as ``latest``, except in eth_getTransactionCount (which
counts the sender's ready pooled transactions) and eth_getBlockByNumber (the
block being assembled: the next header with the ready pooled transactions).
"""

from __future__ import annotations

import itertools
import platform
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from eth_utils.crypto import keccak

from chains.pyevm import execution, serialize
from chains.pyevm.chain import DevChain
from chains.pyevm.errors import InvalidParams, ServerError
from chains.pyevm.index import BlockRecord
from chains.pyevm.params import (
    BlockRef,
    address,
    block_ref,
    boolean,
    call_request,
    hash32,
    hex_data,
    log_query,
    positional,
    quantity,
)
from chains.pyevm.serialize import JSON, data, qty

PRIORITY_FEE = 10**9  # the tip eth_maxPriorityFeePerGas suggests (anvil's too)
MAX_FEE_HISTORY_BLOCKS = 1024
Handler = Callable[[Any], Any]

INLINE = frozenset(
    {
        "eth_chainId",
        "net_version",
        "net_listening",
        "net_peerCount",
        "web3_clientVersion",
        "web3_sha3",
        "eth_accounts",
        "eth_syncing",
        "eth_blockNumber",
        "eth_mining",
    }
)


def client_version() -> str:
    try:
        evm = version("py-evm")
    except PackageNotFoundError:  # pragma: no cover - py-evm is a dependency
        evm = "unknown"
    return f"stbridge-pyevm/py-evm-{evm}/python-{platform.python_version()}"


class NodeMethods:
    """The method table over one :class:`DevChain`."""

    def __init__(self, chain: DevChain) -> None:
        self.chain = chain
        self._client_version = client_version()
        self.table: dict[str, Handler] = {
            name: getattr(self, name) for name in dir(self) if name.split("_")[0] in _NAMESPACES
        }

    # --- identity and head (inline) ----------------------------------------------------

    def eth_chainId(self, params: Any) -> str:
        positional(params, 0, 0)
        return qty(self.chain.chain_id)

    def net_version(self, params: Any) -> str:
        positional(params, 0, 0)
        return str(self.chain.chain_id)

    def net_listening(self, params: Any) -> bool:
        positional(params, 0, 0)
        return True

    def net_peerCount(self, params: Any) -> str:
        positional(params, 0, 0)
        return "0x0"

    def web3_clientVersion(self, params: Any) -> str:
        positional(params, 0, 0)
        return self._client_version

    def web3_sha3(self, params: Any) -> str:
        (value,) = positional(params, 1, 1)
        return data(keccak(hex_data(value, "argument 0")))

    def eth_accounts(self, params: Any) -> list[str]:
        positional(params, 0, 0)
        return []

    def eth_syncing(self, params: Any) -> bool:
        positional(params, 0, 0)
        return False

    def eth_mining(self, params: Any) -> bool:
        positional(params, 0, 0)
        return True

    def eth_blockNumber(self, params: Any) -> str:
        positional(params, 0, 0)
        return qty(self.chain.index.head_number)

    # --- fees ------------------------------------------------------------------------

    def eth_gasPrice(self, params: Any) -> str:
        positional(params, 0, 0)
        return qty(self.chain.next_base_fee() + PRIORITY_FEE)

    def eth_maxPriorityFeePerGas(self, params: Any) -> str:
        positional(params, 0, 0)
        return qty(PRIORITY_FEE)

    def eth_feeHistory(self, params: Any) -> JSON:
        raw_count, raw_newest, raw_percentiles = positional(params, 2, 3)
        count = quantity(raw_count, "argument 0", bits=64)
        if not 1 <= count <= MAX_FEE_HISTORY_BLOCKS:
            raise InvalidParams(
                f"invalid argument 0: block count must be 1..{MAX_FEE_HISTORY_BLOCKS}"
            )
        percentiles = _percentiles(raw_percentiles)
        newest = self._number(block_ref(raw_newest, "argument 1"))
        oldest = max(newest - count + 1, 0)
        blocks = [self._record(n) for n in range(oldest, newest + 1)]
        following = self.chain.index.by_number(newest + 1)
        next_fee = _base_fee(following) if following else self.chain.next_base_fee()
        result: JSON = {
            "oldestBlock": qty(oldest),
            "baseFeePerGas": [qty(_base_fee(b)) for b in blocks] + [qty(next_fee)],
            "gasUsedRatio": [b.header.gas_used / b.header.gas_limit for b in blocks],
            "baseFeePerBlobGas": ["0x1"] * (len(blocks) + 1),
            "blobGasUsedRatio": [0.0] * len(blocks),
        }
        if percentiles is not None:
            result["reward"] = [[qty(r) for r in _rewards(b, percentiles)] for b in blocks]
        return result

    # --- blocks ----------------------------------------------------------------------

    def eth_getBlockByNumber(self, params: Any) -> JSON | None:
        raw_ref, raw_full = positional(params, 1, 2)
        ref = block_ref(raw_ref, "argument 0")
        full = False if raw_full is None else boolean(raw_full, "argument 1")
        if ref.tag == "pending":
            return self._pending_block(full)
        record = self._lookup(ref)
        return None if record is None else self._block_json(record, full)

    def eth_getBlockByHash(self, params: Any) -> JSON | None:
        raw_hash, raw_full = positional(params, 1, 2)
        record = self.chain.index.by_hash(hash32(raw_hash, "argument 0"))
        full = False if raw_full is None else boolean(raw_full, "argument 1")
        return None if record is None else self._block_json(record, full)

    def eth_getBlockTransactionCountByNumber(self, params: Any) -> str | None:
        (raw_ref,) = positional(params, 1, 1)
        ref = block_ref(raw_ref, "argument 0")
        if ref.tag == "pending":
            return qty(len(self._pending_entries()))
        record = self._lookup(ref)
        return None if record is None else qty(len(record.transactions))

    def eth_getBlockTransactionCountByHash(self, params: Any) -> str | None:
        (raw_hash,) = positional(params, 1, 1)
        record = self.chain.index.by_hash(hash32(raw_hash, "argument 0"))
        return None if record is None else qty(len(record.transactions))

    def eth_getBlockReceipts(self, params: Any) -> list[JSON] | None:
        (raw_ref,) = positional(params, 1, 1)
        record = self._lookup(block_ref(raw_ref, "argument 0"))
        if record is None:
            return None
        return [serialize.receipt_json(record, r) for r in record.receipts]

    # --- transactions ----------------------------------------------------------------

    def eth_sendRawTransaction(self, params: Any) -> str:
        (raw,) = positional(params, 1, 1)
        return data(self.chain.submit(hex_data(raw, "argument 0")))

    def eth_sendTransaction(self, params: Any) -> None:
        raise ServerError(
            "eth_sendTransaction is not supported: this node holds no keys; "
            "sign locally and use eth_sendRawTransaction"
        )

    def eth_getTransactionByHash(self, params: Any) -> JSON | None:
        (raw_hash,) = positional(params, 1, 1)
        tx_hash = hash32(raw_hash, "argument 0")
        found = self.chain.index.locate_transaction(tx_hash)
        chain_id = self.chain.chain_id
        if found is not None:
            record, i = found
            return serialize.transaction_json(
                record.transactions[i], record.senders[i], block=record, index=i, chain_id=chain_id
            )
        pending = self.chain.pending_transaction(tx_hash)
        if pending is None:
            return None
        return serialize.transaction_json(
            pending.tx, pending.sender, block=None, index=None, chain_id=chain_id
        )

    def eth_getTransactionReceipt(self, params: Any) -> JSON | None:
        (raw_hash,) = positional(params, 1, 1)
        found = self.chain.index.locate_transaction(hash32(raw_hash, "argument 0"))
        if found is None:
            return None
        record, i = found
        return serialize.receipt_json(record, record.receipts[i])

    def eth_getTransactionCount(self, params: Any) -> str:
        raw_address, raw_ref = positional(params, 1, 2)
        account = address(raw_address, "argument 0")
        ref = block_ref(raw_ref, "argument 1")
        if ref.tag == "pending":
            return qty(self.chain.pending_nonce(account))
        return qty(self.chain.state_at(self._number(ref)).get_nonce(account))

    # --- state -----------------------------------------------------------------------

    def eth_getBalance(self, params: Any) -> str:
        raw_address, raw_ref = positional(params, 1, 2)
        account = address(raw_address, "argument 0")
        state = self.chain.state_at(self._number(block_ref(raw_ref, "argument 1")))
        return qty(state.get_balance(account))

    def eth_getCode(self, params: Any) -> str:
        raw_address, raw_ref = positional(params, 1, 2)
        account = address(raw_address, "argument 0")
        state = self.chain.state_at(self._number(block_ref(raw_ref, "argument 1")))
        return data(state.get_code(account))

    def eth_getStorageAt(self, params: Any) -> str:
        raw_address, raw_slot, raw_ref = positional(params, 2, 3)
        account = address(raw_address, "argument 0")
        slot = quantity(raw_slot, "argument 1")
        state = self.chain.state_at(self._number(block_ref(raw_ref, "argument 2")))
        return serialize.word(state.get_storage(account, slot))

    def eth_call(self, params: Any) -> str:
        raw_call, raw_ref = positional(params, 1, 2)
        request = call_request(raw_call, "argument 0")
        number = self._number(block_ref(raw_ref, "argument 1"))
        return data(execution.call(self.chain, request, number))

    def eth_estimateGas(self, params: Any) -> str:
        raw_call, raw_ref = positional(params, 1, 2)
        request = call_request(raw_call, "argument 0")
        number = self._number(block_ref(raw_ref, "argument 1"))
        return qty(execution.estimate_gas(self.chain, request, number))

    # --- logs ------------------------------------------------------------------------

    def eth_getLogs(self, params: Any) -> list[JSON]:
        (raw_filter,) = positional(params, 1, 1)
        query = log_query(raw_filter, "argument 0")
        index = self.chain.index
        if query.block_hash is not None:
            record = index.by_hash(query.block_hash)
            if record is None:
                raise ServerError(f"unknown block {data(query.block_hash)}")
            first = last = record.number
        else:
            first = self._number(query.from_block, clamp=True)
            last = self._number(query.to_block, clamp=True)
        return [serialize.log_json(r, e) for r, e in index.logs(first, last, query.criteria)]

    # --- helpers ---------------------------------------------------------------------

    def _number(self, ref: BlockRef, *, clamp: bool = False) -> int:
        """The block number a reference names; 'header not found' past the head."""
        head = self.chain.index.head_number
        if ref.tag is not None:
            return self.chain.tag_number(ref.tag)
        if ref.block_hash is not None:
            record = self.chain.index.by_hash(ref.block_hash)
            if record is None:
                raise ServerError(f"header not found: no block with hash {data(ref.block_hash)}")
            return record.number
        if ref.number is None:
            raise InvalidParams("a block reference names no block")
        if ref.number > head and not clamp:
            raise ServerError(f"header not found: block {ref.number} is above the head {head}")
        return ref.number

    def _record(self, number: int) -> BlockRecord:
        record = self.chain.index.by_number(number)
        if record is None:
            raise ServerError(f"header not found: block {number}")
        return record

    def _lookup(self, ref: BlockRef) -> BlockRecord | None:
        if ref.block_hash is not None:
            return self.chain.index.by_hash(ref.block_hash)
        if ref.tag is not None:
            return self.chain.index.by_number(self.chain.tag_number(ref.tag))
        if ref.number is None:
            raise InvalidParams("a block reference names no block")
        return self.chain.index.by_number(ref.number)

    def _block_json(self, record: BlockRecord, full: bool) -> JSON:
        return serialize.block_json(record, full=full, chain_id=self.chain.chain_id)

    def _pending_entries(self) -> list[Any]:
        state = self.chain.state_at(self.chain.index.head_number)
        runs = self.chain.pool.ready(lambda s: int(state.get_nonce(s)))
        return sorted((e for run in runs.values() for e in run), key=lambda e: e.seq)

    def _pending_block(self, full: bool) -> JSON:
        header = self.chain.vm_after(self.chain.index.head_number, free=False).get_header()
        return serialize.pending_block_json(
            header, self._pending_entries(), full=full, chain_id=self.chain.chain_id
        )


_NAMESPACES = frozenset({"eth", "net", "web3"})


def _base_fee(record: BlockRecord) -> int:
    return int(record.header.base_fee_per_gas or 0)


def _percentiles(value: Any) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(p, int | float) and not isinstance(p, bool) and 0 <= p <= 100 for p in value
    ):
        raise InvalidParams("invalid argument 2: expected a list of percentiles between 0 and 100")
    if any(b < a for a, b in itertools.pairwise(value)):
        raise InvalidParams("invalid argument 2: percentiles must be in ascending order")
    return [float(p) for p in value]


def _rewards(record: BlockRecord, percentiles: list[float]) -> list[int]:
    """The effective tips at the given gas-weighted percentiles of a block (as geth)."""
    base_fee = _base_fee(record)
    if not record.receipts:
        return [0] * len(percentiles)
    tips = sorted((r.effective_gas_price - base_fee, r.gas_used) for r in record.receipts)
    gas_used = int(record.header.gas_used)
    rewards = []
    position, cumulative = 0, tips[0][1]
    for p in percentiles:
        threshold = gas_used * p / 100
        while cumulative < threshold and position < len(tips) - 1:
            position += 1
            cumulative += tips[position][1]
        rewards.append(tips[position][0])
    return rewards
