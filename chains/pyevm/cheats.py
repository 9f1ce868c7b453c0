"""Development methods (hardhat's ``evm_*`` and anvil's ``anvil_*``) with anvil's answers.

Snapshots, mining on demand, clock control, and state edits between blocks, so
the devnet funds accounts and tests move time the same way on both backends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth.abc import StateAPI

from chains.pyevm.chain import DevChain
from chains.pyevm.errors import InvalidParams
from chains.pyevm.params import address, hex_data, positional, quantity

MAX_MINE_BLOCKS = 10_000
Handler = Callable[[Any], Any]


class CheatMethods:
    """The development method table over one :class:`DevChain`."""

    def __init__(self, chain: DevChain) -> None:
        self.chain = chain
        self.table: dict[str, Handler] = {
            "evm_snapshot": self.evm_snapshot,
            "evm_revert": self.evm_revert,
            "evm_mine": self.evm_mine,
            "evm_increaseTime": self.evm_increaseTime,
            "evm_setNextBlockTimestamp": self.evm_setNextBlockTimestamp,
            "anvil_mine": self.anvil_mine,
            "anvil_setBalance": self.anvil_setBalance,
            "anvil_setCode": self.anvil_setCode,
            "anvil_setNonce": self.anvil_setNonce,
            "anvil_setStorageAt": self.anvil_setStorageAt,
        }

    def evm_snapshot(self, params: Any) -> str:
        """Remember the chain; returns the snapshot id."""
        positional(params, 0, 0)
        return hex(self.chain.snapshot())

    def evm_revert(self, params: Any) -> bool:
        """Back to a snapshot (which is used up); false when the id is unknown."""
        (raw_id,) = positional(params, 1, 1)
        return self.chain.revert(quantity(raw_id, "argument 0", bits=64))

    def evm_mine(self, params: Any) -> str:
        """Mine a block now (with the ready pooled transactions).

        Takes nothing, a timestamp, or ``{"timestamp": T, "blocks": N}``.
        """
        (options,) = positional(params, 0, 1)
        timestamp: int | None = None
        blocks = 1
        if isinstance(options, dict):
            unknown = set(options) - {"timestamp", "blocks"}
            if unknown:
                raise InvalidParams(f"invalid argument 0: unknown field {sorted(unknown)[0]!r}")
            if options.get("timestamp") is not None:
                timestamp = quantity(options["timestamp"], "argument 0.timestamp", bits=64)
            if options.get("blocks") is not None:
                blocks = _block_count(options["blocks"], "argument 0.blocks")
        elif options is not None:
            timestamp = quantity(options, "argument 0", bits=64)
        for i in range(blocks):
            self.chain.mine_block(timestamp if i == 0 else None)
        return "0x0"

    def anvil_mine(self, params: Any) -> None:
        """Mine ``count`` blocks (default 1), ``interval`` seconds apart (default: the clock)."""
        raw_count, raw_interval = positional(params, 0, 2)
        count = 1 if raw_count is None else _block_count(raw_count, "argument 0")
        interval = None if raw_interval is None else quantity(raw_interval, "argument 1", bits=32)
        for _ in range(count):
            timestamp = None
            if interval is not None:
                timestamp = int(self.chain.head.header.timestamp) + interval
            self.chain.mine_block(timestamp)

    def evm_increaseTime(self, params: Any) -> int:
        """Move the clock forward by some seconds; returns the total offset (anvil: a number)."""
        (raw_seconds,) = positional(params, 1, 1)
        return self.chain.increase_time(quantity(raw_seconds, "argument 0", bits=63))

    def evm_setNextBlockTimestamp(self, params: Any) -> None:
        """The next block gets exactly this timestamp."""
        (raw_timestamp,) = positional(params, 1, 1)
        self.chain.set_next_timestamp(quantity(raw_timestamp, "argument 0", bits=64))

    def anvil_setBalance(self, params: Any) -> None:
        raw_address, raw_balance = positional(params, 2, 2)
        account = address(raw_address, "argument 0")
        balance = quantity(raw_balance, "argument 1")
        self._edit(lambda state: state.set_balance(account, balance))

    def anvil_setCode(self, params: Any) -> None:
        raw_address, raw_code = positional(params, 2, 2)
        account = address(raw_address, "argument 0")
        code = hex_data(raw_code, "argument 1")
        self._edit(lambda state: state.set_code(account, code))

    def anvil_setNonce(self, params: Any) -> None:
        raw_address, raw_nonce = positional(params, 2, 2)
        account = address(raw_address, "argument 0")
        nonce = quantity(raw_nonce, "argument 1", bits=64)
        self._edit(lambda state: state.set_nonce(account, nonce))

    def anvil_setStorageAt(self, params: Any) -> bool:
        raw_address, raw_slot, raw_value = positional(params, 3, 3)
        account = address(raw_address, "argument 0")
        slot = quantity(raw_slot, "argument 1")
        raw = hex_data(raw_value, "argument 2")
        if len(raw) > 32:
            raise InvalidParams("invalid argument 2: a storage value is at most 32 bytes")
        value = int.from_bytes(raw, "big")
        self._edit(lambda state: state.set_storage(account, slot, value))
        return True

    def _edit(self, edit: Callable[[StateAPI], None]) -> None:
        self.chain.edit_state(edit)


def _block_count(value: Any, where: str) -> int:
    count = quantity(value, where, bits=32)
    if not 1 <= count <= MAX_MINE_BLOCKS:
        raise InvalidParams(f"invalid {where}: mine 1..{MAX_MINE_BLOCKS} blocks at a time")
    return count
