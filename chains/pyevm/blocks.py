"""Building a block: fill it from the pool up to its gas limit, seal it, record it.

Uses py-evm's VM directly (``apply_transaction``, ``finalize_block``) rather than
its ``MiningChain``, which re-hashes every transaction and receipt of the block
each time it adds one. The sealed block is not re-validated: we built it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import rlp
from eth._utils.address import generate_contract_address
from eth.abc import (
    BlockAPI,
    BlockHeaderAPI,
    ChainDatabaseAPI,
    ReceiptAPI,
    SignedTransactionAPI,
    VirtualMachineAPI,
)
from eth_typing import Address
from eth_utils.exceptions import ValidationError

from chains.pyevm.index import BlockRecord, LogRecord, ReceiptRecord
from chains.pyevm.txpool import PackingQueue, TxPool

log = logging.getLogger("chains.pyevm")

MIN_TX_GAS = 21_000


@dataclass
class FilledBlock:
    """A block being built: its VM, its header so far, and what went in."""

    vm: VirtualMachineAPI
    header: BlockHeaderAPI
    txs: list[SignedTransactionAPI] = field(default_factory=list)
    receipts: list[ReceiptAPI] = field(default_factory=list)
    senders: list[Address] = field(default_factory=list)


def base_fee(header: BlockHeaderAPI) -> int:
    """The header's EIP-1559 base fee (0 before London)."""
    return int(getattr(header, "base_fee_per_gas", 0) or 0)


def fill_block(vm: VirtualMachineAPI, pool: TxPool) -> FilledBlock:
    """Execute the pool's ready transactions on ``vm``'s block until it is full.

    A transaction that does not fit, or that the state refuses (its sender was
    spent by an earlier one), stays in the pool with its sender's later ones.
    """
    state = vm.state

    def nonce_of(sender: Address) -> int:
        return int(state.get_nonce(sender))

    filled = FilledBlock(vm, vm.get_header())
    queue = PackingQueue(pool.ready(nonce_of), base_fee(filled.header))
    while (entry := queue.peek()) is not None:
        room = filled.header.gas_limit - filled.header.gas_used
        if room < MIN_TX_GAS:
            break
        if entry.tx.gas > room:
            queue.skip_sender()
            continue
        try:
            receipt, _computation = vm.apply_transaction(filled.header, entry.tx)
        except ValidationError as exc:
            log.debug("tx 0x%s waits: %s", entry.hash.hex(), exc)
            queue.skip_sender()
            continue
        filled.header = vm.add_receipt_to_header(filled.header, receipt)
        filled.txs.append(entry.tx)
        filled.receipts.append(receipt)
        filled.senders.append(entry.sender)
        queue.accept()
    return filled


def seal_block(filled: FilledBlock, chaindb: ChainDatabaseAPI) -> BlockRecord:
    """Compute the roots, persist state and block, and return the block's record."""
    vm = filled.vm
    block = vm.set_block_transactions_and_withdrawals(
        vm.get_block(), filled.header, filled.txs, filled.receipts
    )
    sealed = vm.finalize_block(block).block
    chaindb.persist_block(sealed)
    return record_block(sealed, tuple(filled.senders), tuple(filled.receipts))


def record_block(
    block: BlockAPI, senders: tuple[Address, ...], receipts: tuple[ReceiptAPI, ...]
) -> BlockRecord:
    """The index record of a mined block: receipts with gas and prices, positioned logs."""
    fee = base_fee(block.header)
    records: list[ReceiptRecord] = []
    logs: list[LogRecord] = []
    previous_cumulative = 0
    for index, (tx, receipt, sender) in enumerate(
        zip(block.transactions, receipts, senders, strict=True)
    ):
        tx_hash = bytes(tx.hash)
        tx_logs = tuple(
            LogRecord(
                address=bytes(entry.address),
                topics=tuple(int(t).to_bytes(32, "big") for t in entry.topics),
                data=bytes(entry.data),
                log_index=len(logs) + position,
                tx_index=index,
                tx_hash=tx_hash,
            )
            for position, entry in enumerate(receipt.logs)
        )
        logs.extend(tx_logs)
        cumulative = int(receipt.gas_used)
        records.append(
            ReceiptRecord(
                tx_hash=tx_hash,
                tx_index=index,
                sender=sender,
                to=bytes(tx.to) if tx.to else None,
                contract_address=None if tx.to else generate_contract_address(sender, tx.nonce),
                status=1 if receipt.state_root == b"\x01" else 0,
                gas_used=cumulative - previous_cumulative,
                cumulative_gas_used=cumulative,
                effective_gas_price=min(
                    int(tx.max_fee_per_gas), int(tx.max_priority_fee_per_gas) + fee
                ),
                tx_type=0 if tx.type_id is None else int(tx.type_id),
                logs=tx_logs,
                logs_bloom=int(receipt.bloom),
            )
        )
        previous_cumulative = cumulative
    return BlockRecord(
        block=block,
        hash=bytes(block.hash),
        senders=senders,
        receipts=tuple(records),
        logs=tuple(logs),
        log_addresses=frozenset(entry.address for entry in logs),
        size=len(rlp.encode(block)),
    )
