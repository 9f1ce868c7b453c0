"""The embedded node's settings, and the genesis allocations it funds.

Fund accounts on the command line (``--fund 0xADDR=WEI``, repeatable) or from a
JSON file (``--fund-file accounts.json``) in either of two shapes::

    {"0xf39F...2266": "1000000000000000000000", "0x7099...79C8": 5000}
    [{"address": "0xf39F...2266", "balance": "0x3635c9adc5dea00000"}]

A balance is a JSON integer, a decimal string, or a 0x-prefixed hex string, in wei.
An address given twice gets the sum of its balances.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.address import is_hex_address, to_canonical_address

from chains.pyevm.errors import NodeStartError

DEFAULT_GAS_LIMIT = 30_000_000
MIN_GAS_LIMIT = 21_000
# EIP-2294: the largest chain id that keeps EIP-155 signatures in 64 bits.
MAX_CHAIN_ID = (2**64 - 1) // 2 - 36
MAX_BALANCE = 2**256 - 1


@dataclass(frozen=True)
class NodeConfig:
    """How one embedded node runs.

    ``block_time`` 0 mines a block for every transaction (automine); above 0,
    transactions wait in the pool and a block is mined every ``block_time``
    seconds, empty or not. ``alloc`` maps 20-byte addresses to genesis wei.
    """

    chain_id: int
    host: str = "127.0.0.1"
    port: int = 8545
    block_time: float = 0.0
    gas_limit: int = DEFAULT_GAS_LIMIT
    alloc: Mapping[bytes, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.chain_id <= MAX_CHAIN_ID:
            raise NodeStartError(f"chain id {self.chain_id} is out of range: use 1..{MAX_CHAIN_ID}")
        if not 0 <= self.port <= 65535:
            raise NodeStartError(f"port {self.port} is out of range: use 0..65535 (0 = any free)")
        if not self.block_time >= 0 or self.block_time == float("inf"):
            raise NodeStartError(
                f"block time {self.block_time} is invalid: use 0 (automine) or seconds > 0"
            )
        if not MIN_GAS_LIMIT <= self.gas_limit < 2**63:
            raise NodeStartError(
                f"gas limit {self.gas_limit} is out of range: use {MIN_GAS_LIMIT}..{2**63 - 1}"
            )


def parse_balance(value: Any, where: str) -> int:
    """A wei amount from a JSON integer, a decimal string or a 0x hex string."""
    if isinstance(value, bool):
        raise NodeStartError(f"{where}: balance {value!r} is not an amount of wei")
    if isinstance(value, int):
        amount = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            amount = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            raise NodeStartError(
                f"{where}: balance {value!r} is not an integer (decimal or 0x hex wei)"
            ) from None
    else:
        raise NodeStartError(f"{where}: balance {value!r} is not an amount of wei")
    if not 0 <= amount <= MAX_BALANCE:
        raise NodeStartError(f"{where}: balance {amount} is out of range (0..2**256-1)")
    return amount


def parse_address(value: Any, where: str) -> bytes:
    """A 20-byte address from a 0x-prefixed hex string (any letter case)."""
    if not isinstance(value, str) or not value.startswith("0x") or not is_hex_address(value):
        raise NodeStartError(f"{where}: {value!r} is not a 0x-prefixed 20-byte hex address")
    return bytes(to_canonical_address(value))


def parse_fund(spec: str) -> tuple[bytes, int]:
    """``0xADDR=WEI`` (from ``--fund``) as an (address, wei) pair."""
    address, sep, balance = spec.partition("=")
    if not sep:
        raise NodeStartError(f"--fund {spec!r}: expected 0xADDRESS=WEI")
    return parse_address(address.strip(), "--fund"), parse_balance(balance, f"--fund {spec}")


def load_fund_file(path: Path) -> list[tuple[bytes, int]]:
    """The (address, wei) pairs of a fund file (see the module docstring)."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise NodeStartError(f"fund file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NodeStartError(f"fund file {path} is unreadable: {exc}") from None
    except json.JSONDecodeError as exc:
        raise NodeStartError(f"fund file {path} is not JSON: {exc}") from None
    where = f"fund file {path}"
    if isinstance(raw, dict):
        return [
            (parse_address(a, where), parse_balance(b, f"{where} [{a}]")) for a, b in raw.items()
        ]
    if isinstance(raw, list):
        pairs = []
        for i, entry in enumerate(raw):
            if not isinstance(entry, dict) or set(entry) != {"address", "balance"}:
                raise NodeStartError(
                    f'{where} entry {i}: expected {{"address": ..., "balance": ...}}'
                )
            pairs.append(
                (
                    parse_address(entry["address"], f"{where} entry {i}"),
                    parse_balance(entry["balance"], f"{where} entry {i}"),
                )
            )
        return pairs
    raise NodeStartError(f"{where}: expected an object {{address: balance}} or a list of entries")


def merge_alloc(pairs: Iterable[tuple[bytes, int]]) -> dict[bytes, int]:
    """Sum the balances per address; refuse a sum above 2**256-1."""
    alloc: dict[bytes, int] = {}
    for address, amount in pairs:
        alloc[address] = alloc.get(address, 0) + amount
        if alloc[address] > MAX_BALANCE:
            raise NodeStartError(f"0x{address.hex()} is funded with more than 2**256-1 wei")
    return alloc
