"""JSON-RPC shapes of blocks, transactions, receipts and logs, as geth and anvil send them.

Quantities are minimal 0x-hex, byte strings 0x-hex, addresses lower-case hex;
absent values (the block of a pending transaction, the ``to`` of a deployment)
are ``null``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import rlp
from eth.abc import BlockHeaderAPI, SignedTransactionAPI

from chains.pyevm.admission import legacy_chain_id, legacy_v, transaction_type
from chains.pyevm.index import BlockRecord, LogRecord, ReceiptRecord
from chains.pyevm.txpool import PendingTx

JSON = dict[str, Any]


def qty(value: int) -> str:
    """A quantity: minimal hex, ``0x0`` for zero."""
    return hex(value)


def data(value: bytes) -> str:
    """A byte string as 0x-hex."""
    return "0x" + value.hex()


def word(value: int) -> str:
    """A 32-byte word as 0x-hex."""
    return "0x" + value.to_bytes(32, "big").hex()


def address_or_none(value: bytes | None) -> str | None:
    return None if not value else "0x" + value.hex()


def header_json(header: BlockHeaderAPI) -> JSON:
    """The header fields of a block object (Prague headers: every field is present)."""
    zero = b"\x00" * 32
    fields: JSON = {
        "hash": data(header.hash),
        "parentHash": data(header.parent_hash),
        "sha3Uncles": data(header.uncles_hash),
        "miner": data(header.coinbase),
        "stateRoot": data(header.state_root),
        "transactionsRoot": data(header.transaction_root),
        "receiptsRoot": data(header.receipt_root),
        "logsBloom": data(int(header.bloom).to_bytes(256, "big")),
        "difficulty": qty(header.difficulty),
        "number": qty(header.block_number),
        "gasLimit": qty(header.gas_limit),
        "gasUsed": qty(header.gas_used),
        "timestamp": qty(header.timestamp),
        "extraData": data(header.extra_data),
        "mixHash": data(header.mix_hash),
        "nonce": data(header.nonce),
        "baseFeePerGas": qty(header.base_fee_per_gas or 0),
        "withdrawalsRoot": data(header.withdrawals_root or zero),
        "blobGasUsed": qty(header.blob_gas_used),
        "excessBlobGas": qty(header.excess_blob_gas),
        "parentBeaconBlockRoot": data(header.parent_beacon_block_root or zero),
    }
    requests_hash = getattr(header, "requests_hash", None)
    if requests_hash is not None:
        fields["requestsHash"] = data(requests_hash)
    fields["totalDifficulty"] = "0x0"
    return fields


def block_json(record: BlockRecord, *, full: bool, chain_id: int) -> JSON:
    """eth_getBlockBy*: hashes of the transactions, or the transactions (``full``)."""
    fields = header_json(record.header)
    fields["size"] = qty(record.size)
    fields["uncles"] = []
    if full:
        fields["transactions"] = [
            transaction_json(tx, record.senders[i], block=record, index=i, chain_id=chain_id)
            for i, tx in enumerate(record.transactions)
        ]
    else:
        fields["transactions"] = [data(tx.hash) for tx in record.transactions]
    fields["withdrawals"] = []
    return fields


def pending_block_json(
    header: BlockHeaderAPI, pending: Sequence[PendingTx], *, full: bool, chain_id: int
) -> JSON:
    """The block being assembled: the next header, with the ready pooled transactions."""
    fields = header_json(header)
    fields["size"] = qty(len(rlp.encode(header)))
    fields["uncles"] = []
    if full:
        fields["transactions"] = [
            transaction_json(e.tx, e.sender, block=None, index=None, chain_id=chain_id)
            for e in pending
        ]
    else:
        fields["transactions"] = [data(e.hash) for e in pending]
    fields["withdrawals"] = []
    return fields


def transaction_json(
    tx: SignedTransactionAPI,
    sender: bytes,
    *,
    block: BlockRecord | None,
    index: int | None,
    chain_id: int,
) -> JSON:
    """eth_getTransactionByHash and the full transactions of a block."""
    tx_type = transaction_type(tx)
    fields: JSON = {"type": qty(tx_type)}
    if tx_type == 0:
        legacy_id = legacy_chain_id(legacy_v(tx))
        if legacy_id is not None:
            fields["chainId"] = qty(legacy_id)
    else:
        fields["chainId"] = qty(int(tx.chain_id or 0))
    fields["nonce"] = qty(tx.nonce)
    fields["gas"] = qty(tx.gas)
    if tx_type == 2:
        fields["maxFeePerGas"] = qty(tx.max_fee_per_gas)
        fields["maxPriorityFeePerGas"] = qty(tx.max_priority_fee_per_gas)
    fields["to"] = address_or_none(bytes(tx.to) if tx.to else None)
    fields["value"] = qty(tx.value)
    if tx_type != 0:
        fields["accessList"] = access_list_json(tx.access_list)
    fields["input"] = data(bytes(tx.data))
    fields["r"] = qty(tx.r)
    fields["s"] = qty(tx.s)
    if tx_type == 0:
        fields["v"] = qty(legacy_v(tx))
    else:
        fields["yParity"] = qty(tx.y_parity)
        fields["v"] = qty(tx.y_parity)
    fields["hash"] = data(tx.hash)
    fields["blockHash"] = data(block.hash) if block else None
    fields["blockNumber"] = qty(block.number) if block else None
    fields["transactionIndex"] = qty(index) if index is not None else None
    fields["from"] = data(sender)
    if block is not None and index is not None:
        fields["gasPrice"] = qty(block.receipts[index].effective_gas_price)
        fields["blockTimestamp"] = qty(block.header.timestamp)
    else:
        fields["gasPrice"] = qty(tx.max_fee_per_gas)
    return fields


def access_list_json(access_list: Sequence[Any]) -> list[JSON]:
    return [
        {"address": data(bytes(entry[0])), "storageKeys": [word(int(k)) for k in entry[1]]}
        for entry in access_list
    ]


def log_json(record: BlockRecord, entry: LogRecord) -> JSON:
    """One log of eth_getLogs or of a receipt."""
    return {
        "address": data(entry.address),
        "topics": [data(t) for t in entry.topics],
        "data": data(entry.data),
        "blockHash": data(record.hash),
        "blockNumber": qty(record.number),
        "blockTimestamp": qty(record.header.timestamp),
        "transactionHash": data(entry.tx_hash),
        "transactionIndex": qty(entry.tx_index),
        "logIndex": qty(entry.log_index),
        "removed": False,
    }


def receipt_json(record: BlockRecord, receipt: ReceiptRecord) -> JSON:
    """eth_getTransactionReceipt."""
    return {
        "type": qty(receipt.tx_type),
        "status": qty(receipt.status),
        "cumulativeGasUsed": qty(receipt.cumulative_gas_used),
        "logs": [log_json(record, entry) for entry in receipt.logs],
        "logsBloom": data(receipt.logs_bloom.to_bytes(256, "big")),
        "transactionHash": data(receipt.tx_hash),
        "transactionIndex": qty(receipt.tx_index),
        "blockHash": data(record.hash),
        "blockNumber": qty(record.number),
        "gasUsed": qty(receipt.gas_used),
        "effectiveGasPrice": qty(receipt.effective_gas_price),
        "from": data(receipt.sender),
        "to": address_or_none(receipt.to),
        "contractAddress": address_or_none(receipt.contract_address),
    }
