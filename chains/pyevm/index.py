"""What the node knows about its mined blocks, kept in memory for cheap queries.

Each block is recorded once, when it is mined: its py-evm block, the senders,
one receipt record per transaction, and its logs flattened with their positions.
Lookups by number, block hash and transaction hash are dictionary reads, and
eth_getLogs walks only the blocks of its range, skipping those without logs or
without a wanted address, so a relayer polling for new logs costs little.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from eth.abc import BlockAPI, BlockHeaderAPI, SignedTransactionAPI


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log, with where it sits in its block."""

    address: bytes
    topics: tuple[bytes, ...]
    data: bytes
    log_index: int
    tx_index: int
    tx_hash: bytes


@dataclass(frozen=True, slots=True)
class ReceiptRecord:
    """The outcome of one mined transaction."""

    tx_hash: bytes
    tx_index: int
    sender: bytes
    to: bytes | None
    contract_address: bytes | None
    status: int
    gas_used: int
    cumulative_gas_used: int
    effective_gas_price: int
    tx_type: int
    logs: tuple[LogRecord, ...]
    logs_bloom: int


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """A mined block and everything derived from it."""

    block: BlockAPI
    hash: bytes
    senders: tuple[bytes, ...]
    receipts: tuple[ReceiptRecord, ...]
    logs: tuple[LogRecord, ...]
    log_addresses: frozenset[bytes]
    size: int  # bytes of the RLP-encoded block

    @property
    def header(self) -> BlockHeaderAPI:
        return self.block.header

    @property
    def number(self) -> int:
        return int(self.block.header.block_number)

    @property
    def transactions(self) -> Sequence[SignedTransactionAPI]:
        return self.block.transactions


@dataclass(frozen=True, slots=True)
class LogFilter:
    """eth_getLogs criteria: addresses (None = any) and topics per position.

    ``topics[i]`` is None (any value) or a set of accepted values (OR).
    """

    addresses: frozenset[bytes] | None
    topics: tuple[frozenset[bytes] | None, ...]

    def matches(self, log: LogRecord) -> bool:
        if self.addresses is not None and log.address not in self.addresses:
            return False
        if len(self.topics) > len(log.topics):
            return False
        return all(
            wanted is None or log.topics[i] in wanted for i, wanted in enumerate(self.topics)
        )


class ChainIndex:
    """The canonical chain's blocks by number, by hash, and its transactions by hash."""

    def __init__(self) -> None:
        self._blocks: list[BlockRecord] = []
        self._by_hash: dict[bytes, int] = {}
        self._tx_location: dict[bytes, tuple[int, int]] = {}

    @property
    def head(self) -> BlockRecord:
        return self._blocks[-1]

    @property
    def head_number(self) -> int:
        return len(self._blocks) - 1

    def append(self, record: BlockRecord) -> None:
        """Add the next block; its number must follow the head's."""
        if record.number != len(self._blocks):
            raise ValueError(f"block {record.number} does not follow head {self.head_number}")
        self._blocks.append(record)
        self._by_hash[record.hash] = record.number
        for receipt in record.receipts:
            self._tx_location[receipt.tx_hash] = (record.number, receipt.tx_index)

    def truncate(self, number: int) -> None:
        """Forget every block above ``number`` (evm_revert)."""
        while len(self._blocks) > number + 1:
            record = self._blocks.pop()
            self._by_hash.pop(record.hash, None)
            for receipt in record.receipts:
                self._tx_location.pop(receipt.tx_hash, None)

    def by_number(self, number: int) -> BlockRecord | None:
        if 0 <= number < len(self._blocks):
            return self._blocks[number]
        return None

    def by_hash(self, block_hash: bytes) -> BlockRecord | None:
        number = self._by_hash.get(block_hash)
        return None if number is None else self._blocks[number]

    def locate_transaction(self, tx_hash: bytes) -> tuple[BlockRecord, int] | None:
        """The block holding a mined transaction, and its index there."""
        location = self._tx_location.get(tx_hash)
        if location is None:
            return None
        number, index = location
        return self._blocks[number], index

    def logs(
        self, first: int, last: int, criteria: LogFilter
    ) -> Iterator[tuple[BlockRecord, LogRecord]]:
        """Logs of blocks ``first..last`` (inclusive, clamped to the chain) that match."""
        last = min(last, self.head_number)
        for number in range(max(first, 0), last + 1):
            record = self._blocks[number]
            if not record.logs:
                continue
            wanted = criteria.addresses
            if wanted is not None and wanted.isdisjoint(record.log_addresses):
                continue
            for log in record.logs:
                if criteria.matches(log):
                    yield record, log
