"""The embedded chain: py-evm's Prague VM under the node's own chain id.

:class:`DevChain` owns the state database, the block index, the transaction
pool and the clock, and decides when blocks are made (``blocks`` makes them).

Why not eth-tester: its chain id is fixed (131277322940537), it looks up
transactions by scanning every block, and it has no pool. py-evm alone runs
with any chain id (the CHAINID opcode returns it), and the rest is ours.

Conventions, chosen to match anvil:

- Post-merge Prague blocks: difficulty 0, a random ``mixHash`` (PREVRANDAO), the
  zero address as coinbase, the configured gas limit on every block, EIP-1559
  base fee from 1 gwei at genesis.
- Block timestamps follow the wall clock plus the offset that
  ``evm_increaseTime`` adds; two blocks may share a second (never go back).
- ``anvil_setBalance`` and friends change the state *between* blocks: reads of
  ``latest`` see the change at once, and the next block builds on it.
- ``safe`` is 32 blocks behind the head and ``finalized`` 64, as anvil answers.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from eth.abc import StateAPI, VirtualMachineAPI
from eth.chains.base import Chain
from eth.constants import ZERO_ADDRESS, ZERO_HASH32
from eth.db.atomic import AtomicDB
from eth.typing import AccountDetails, HeaderParams
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas
from eth.vm.forks.prague import PragueVM
from eth_typing import Address, BlockNumber

from chains.pyevm.admission import SenderState, check_against_state, decode_transaction
from chains.pyevm.blocks import FilledBlock, fill_block, record_block, seal_block
from chains.pyevm.errors import ServerError
from chains.pyevm.index import BlockRecord, ChainIndex
from chains.pyevm.txpool import PendingTx, TxPool

log = logging.getLogger("chains.pyevm")

GENESIS_BASE_FEE = 10**9
SAFE_DISTANCE = 32
FINALIZED_DISTANCE = 64


@dataclass(frozen=True, slots=True)
class _Snapshot:
    head: int
    state_root: bytes
    pool: TxPool
    time_offset: int
    next_timestamp: int | None


class DevChain:
    """A single-node chain: pool, block production, state and history.

    Not thread-safe: the node serializes every call under one lock.
    """

    def __init__(
        self,
        chain_id: int,
        gas_limit: int,
        alloc: Mapping[bytes, int],
        *,
        automine: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.chain_id = chain_id
        self.gas_limit = gas_limit
        self.automine = automine
        self._clock = clock
        configured_id = chain_id

        class EmbeddedChain(Chain):
            chain_id = configured_id
            vm_configuration = ((BlockNumber(0), PragueVM),)

        genesis_params: dict[str, HeaderParams] = {
            "coinbase": ZERO_ADDRESS,
            "difficulty": 0,
            "extra_data": b"",
            "gas_limit": gas_limit,
            "mix_hash": b"\x00" * 32,
            "nonce": b"\x00" * 8,
            "timestamp": int(clock()),
            "base_fee_per_gas": GENESIS_BASE_FEE,
        }
        genesis_state: dict[Address, AccountDetails] = {
            Address(address): {"balance": wei, "nonce": 0, "code": b"", "storage": {}}
            for address, wei in alloc.items()
        }
        self._chain = EmbeddedChain.from_genesis(AtomicDB(), genesis_params, genesis_state)
        genesis = self._chain.get_canonical_block_by_number(BlockNumber(0))
        self.index = ChainIndex()
        self.index.append(record_block(genesis, (), ()))
        self._state_root: bytes = genesis.header.state_root
        self._latest: StateAPI | None = None  # read-only view of _state_root, cached
        self.pool = TxPool()
        self._time_offset = 0
        self._next_timestamp: int | None = None
        self._snapshots: dict[int, _Snapshot] = {}
        self._next_snapshot_id = 0

    # --- head, tags and state -------------------------------------------------

    @property
    def head(self) -> BlockRecord:
        return self.index.head

    def tag_number(self, tag: str) -> int:
        """The block number a tag names (``pending`` reads as ``latest``)."""
        head = self.index.head_number
        numbers = {
            "latest": head,
            "pending": head,
            "earliest": 0,
            "safe": max(head - SAFE_DISTANCE, 0),
            "finalized": max(head - FINALIZED_DISTANCE, 0),
        }
        return numbers[tag]

    def next_base_fee(self) -> int:
        """The base fee of the next block."""
        return int(calculate_expected_base_fee_per_gas(self.head.header))

    def state_at(self, number: int) -> StateAPI:
        """The state after block ``number`` (the head's includes between-block edits).

        For reading only: the head's state object is cached until the state changes.
        """
        if number == self.index.head_number:
            return self._latest_state()
        record = self.index.by_number(number)
        if record is None:
            raise _not_found(number, self.index.head_number)
        return self._chain.get_vm(record.header).state

    def _latest_state(self) -> StateAPI:
        if self._latest is None:
            header = self.head.header.copy(state_root=self._state_root)
            self._latest = self._chain.get_vm(header).state
        return self._latest

    def _set_state_root(self, root: bytes) -> None:
        self._state_root = root
        self._latest = None

    def vm_after(self, number: int, *, free: bool) -> VirtualMachineAPI:
        """A VM for a block on top of block ``number``, to run calls in.

        ``free`` zeroes the base fee, as geth does for calls that name no gas price.
        """
        record = self.index.by_number(number)
        if record is None:
            raise _not_found(number, self.index.head_number)
        following = self.index.by_number(number + 1)
        if following is None:
            root, timestamp = self._state_root, self._peek_timestamp()
        else:
            root, timestamp = record.header.state_root, int(following.header.timestamp)
        header = PragueVM.create_header_from_parent(
            record.header,
            timestamp=timestamp,
            gas_limit=self.gas_limit,
            coinbase=ZERO_ADDRESS,
            mix_hash=record.header.mix_hash,
            parent_beacon_block_root=ZERO_HASH32,
            state_root=root,
        )
        if free:
            header = header.copy(base_fee_per_gas=0)
        return self._chain.get_vm(header)

    def pending_nonce(self, address: Address) -> int:
        """The sender's nonce counting its ready transactions in the pool."""
        state_nonce = int(self.state_at(self.index.head_number).get_nonce(address))
        return self.pool.next_nonce(address, state_nonce)

    # --- transactions ---------------------------------------------------------

    def submit(self, raw: bytes) -> bytes:
        """Admit a raw transaction to the pool (and mine it under automine); its hash.

        Raises TransactionRejected with the reason, as geth words it.
        """
        decoded = decode_transaction(raw, self.chain_id, self.gas_limit)
        state = self._latest_state()
        check_against_state(
            decoded,
            SenderState(
                nonce=int(state.get_nonce(decoded.sender)),
                balance=int(state.get_balance(decoded.sender)),
                base_fee=self.next_base_fee(),
            ),
        )
        entry = self.pool.add(decoded.tx, decoded.sender)
        log.debug(
            "accepted tx 0x%s from 0x%s nonce %d", entry.hash.hex(), entry.sender.hex(), entry.nonce
        )
        if self.automine:
            self._mine_ready()
        return entry.hash

    def pending_transaction(self, tx_hash: bytes) -> PendingTx | None:
        return self.pool.get(tx_hash)

    # --- block production -----------------------------------------------------

    def mine_block(self, timestamp: int | None = None) -> BlockRecord:
        """Mine one block (empty or not) with the ready pooled transactions that fit."""
        return self._seal(self._fill(timestamp))

    def _mine_ready(self) -> None:
        """Automine: mine blocks while ready pooled transactions go in; never an empty one."""
        while len(self.pool):
            filled = self._fill(None)
            if not filled.txs:  # nothing ready, or nothing could execute: no block
                return
            self._seal(filled)

    def _fill(self, timestamp: int | None) -> FilledBlock:
        header = PragueVM.create_header_from_parent(
            self.head.header,
            timestamp=self._next_block_timestamp(timestamp),
            gas_limit=self.gas_limit,
            coinbase=ZERO_ADDRESS,
            mix_hash=os.urandom(32),
            parent_beacon_block_root=ZERO_HASH32,
            state_root=self._state_root,
        )
        return fill_block(self._chain.get_vm(header), self.pool)

    def _seal(self, filled: FilledBlock) -> BlockRecord:
        record = seal_block(filled, self._chain.chaindb)
        self._commit_timestamp(int(record.header.timestamp))
        self.index.append(record)
        self._set_state_root(record.header.state_root)
        for receipt in record.receipts:
            self.pool.remove(receipt.tx_hash)
        if len(self.pool):
            state = self._latest_state()
            self.pool.drop_stale(lambda sender: int(state.get_nonce(sender)))
        log.log(
            logging.INFO if record.receipts else logging.DEBUG,  # empty interval blocks: quiet
            "mined block %d txs=%d gas=%d pool=%d",
            record.number,
            len(record.receipts),
            record.header.gas_used,
            len(self.pool),
        )
        return record

    # --- time -----------------------------------------------------------------

    def _peek_timestamp(self) -> int:
        if self._next_timestamp is not None:
            return self._next_timestamp
        return max(int(self._clock()) + self._time_offset, int(self.head.header.timestamp))

    def _next_block_timestamp(self, explicit: int | None) -> int:
        """The next block's timestamp: ``explicit``, the one set, or the clock's."""
        if explicit is None:
            return self._peek_timestamp()
        latest = int(self.head.header.timestamp)
        if explicit < latest:
            raise ServerError(f"timestamp {explicit} is lower than the latest block's {latest}")
        self._next_timestamp = explicit
        return explicit

    def _commit_timestamp(self, used: int) -> None:
        """A block took the set timestamp: time runs on from there."""
        if self._next_timestamp is not None and used == self._next_timestamp:
            self._time_offset = used - int(self._clock())
        self._next_timestamp = None

    def increase_time(self, seconds: int) -> int:
        """Move the clock forward; returns the total offset in seconds."""
        self._time_offset += seconds
        return self._time_offset

    def set_next_timestamp(self, timestamp: int) -> None:
        """The next block gets exactly this timestamp (not below the latest block's)."""
        latest = int(self.head.header.timestamp)
        if timestamp < latest:
            raise ServerError(f"timestamp {timestamp} is lower than the latest block's {latest}")
        self._next_timestamp = timestamp

    # --- snapshots and state edits ------------------------------------------------

    def snapshot(self) -> int:
        """Remember head, state, pool and clock; returns the snapshot id."""
        snapshot_id = self._next_snapshot_id
        self._next_snapshot_id += 1
        self._snapshots[snapshot_id] = _Snapshot(
            self.index.head_number,
            self._state_root,
            self.pool.copy(),
            self._time_offset,
            self._next_timestamp,
        )
        return snapshot_id

    def revert(self, snapshot_id: int) -> bool:
        """Go back to a snapshot, dropping it and every later one; False if unknown."""
        snap = self._snapshots.get(snapshot_id)
        if snap is None:
            return False
        for later in [i for i in self._snapshots if i >= snapshot_id]:
            del self._snapshots[later]
        self.index.truncate(snap.head)
        self._set_state_root(snap.state_root)
        self.pool = snap.pool.copy()
        self._time_offset = snap.time_offset
        self._next_timestamp = snap.next_timestamp
        return True

    def edit_state(self, edit: Callable[[StateAPI], None]) -> None:
        """Apply ``edit`` to the latest state between blocks (anvil_setBalance & co)."""
        header = self.head.header.copy(state_root=self._state_root)
        state = self._chain.get_vm(header).state
        edit(state)
        state.persist()
        self._set_state_root(state.state_root)
        if self.automine:  # a pooled transaction may have become includable (funded)
            self._mine_ready()


def _not_found(number: int, head: int) -> ServerError:
    return ServerError(f"header not found: block {number} is above the head {head}")
