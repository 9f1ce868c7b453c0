"""Parsing JSON-RPC parameters into typed values, with geth-style -32602 errors.

Every parser takes the raw JSON value and a ``where`` (e.g. ``"argument 0.to"``)
that the error message names, so a client learns exactly which field is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from eth_typing import Address

from chains.pyevm.errors import InvalidParams
from chains.pyevm.index import LogFilter

BLOCK_TAGS = frozenset({"latest", "earliest", "pending", "safe", "finalized"})
MAX_TOPICS = 4
_HEX = re.compile(r"0x[0-9a-fA-F]*")
UINT256_MAX = 2**256 - 1


@dataclass(frozen=True, slots=True)
class BlockRef:
    """A block named by tag, number or hash (exactly one is set)."""

    tag: str | None = None
    number: int | None = None
    block_hash: bytes | None = None


@dataclass(frozen=True, slots=True)
class CallRequest:
    """The transaction object of eth_call and eth_estimateGas."""

    sender: Address
    to: Address | None
    gas: int | None
    gas_price: int | None
    max_fee: int | None
    max_tip: int | None
    value: int
    data: bytes
    access_list: tuple[tuple[bytes, tuple[int, ...]], ...] | None

    @property
    def names_a_price(self) -> bool:
        """Whether the caller set a non-zero gas price (then the base fee applies)."""
        return any(p for p in (self.gas_price, self.max_fee, self.max_tip))


@dataclass(frozen=True, slots=True)
class LogQuery:
    """eth_getLogs: a block range (or one block hash) and the criteria."""

    from_block: BlockRef
    to_block: BlockRef
    block_hash: bytes | None
    criteria: LogFilter


def positional(params: Any, low: int, high: int) -> list[Any]:
    """The params array, checked to hold ``low..high`` items (missing ones are None)."""
    if params is None:
        params = []
    if not isinstance(params, list):
        raise InvalidParams("params must be an array (positional parameters)")
    if not low <= len(params) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise InvalidParams(f"expected {expected} params, got {len(params)}")
    return params + [None] * (high - len(params))


def quantity(value: Any, where: str, *, bits: int = 256) -> int:
    """A non-negative integer: 0x-hex string (or a JSON integer)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _HEX.fullmatch(value) and len(value) > 2:
        number = int(value, 16)
    else:
        raise InvalidParams(
            f"invalid {where}: expected a 0x-prefixed hex quantity, got {_show(value)}"
        )
    if not 0 <= number < 2**bits:
        raise InvalidParams(f"invalid {where}: {number} is out of range for uint{bits}")
    return number


def hex_data(value: Any, where: str) -> bytes:
    """A byte string: 0x-hex with an even number of digits."""
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) % 2:
        raise InvalidParams(f"invalid {where}: expected 0x-prefixed hex bytes, got {_show(value)}")
    return bytes.fromhex(value[2:])


def fixed_bytes(value: Any, where: str, size: int) -> bytes:
    raw = hex_data(value, where)
    if len(raw) != size:
        raise InvalidParams(f"invalid {where}: expected {size} bytes, got {len(raw)}")
    return raw


def address(value: Any, where: str) -> Address:
    return Address(fixed_bytes(value, where, 20))


def hash32(value: Any, where: str) -> bytes:
    return fixed_bytes(value, where, 32)


def boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidParams(f"invalid {where}: expected true or false, got {_show(value)}")
    return value


def block_ref(value: Any, where: str, *, default: str = "latest") -> BlockRef:
    """A block tag, a hex number, or an EIP-1898 object ``{blockHash}``/``{blockNumber}``."""
    if value is None:
        return BlockRef(tag=default)
    if isinstance(value, str) and value in BLOCK_TAGS:
        return BlockRef(tag=value)
    if isinstance(value, dict):
        if set(value) <= {"blockHash", "requireCanonical"} and "blockHash" in value:
            return BlockRef(block_hash=hash32(value["blockHash"], f"{where}.blockHash"))
        if set(value) == {"blockNumber"}:
            return block_ref(value["blockNumber"], f"{where}.blockNumber")
        raise InvalidParams(f"invalid {where}: expected {{blockHash}} or {{blockNumber}}")
    if isinstance(value, str) and value.startswith("0x"):
        return BlockRef(number=quantity(value, where, bits=64))
    raise InvalidParams(
        f"invalid {where}: expected a block number or one of {', '.join(sorted(BLOCK_TAGS))}, "
        f"got {_show(value)}"
    )


_CALL_FIELDS = frozenset(
    {
        "from",
        "to",
        "gas",
        "gasPrice",
        "maxFeePerGas",
        "maxPriorityFeePerGas",
        "value",
        "data",
        "input",
        "nonce",
        "accessList",
        "type",
        "chainId",
    }
)


def call_request(value: Any, where: str) -> CallRequest:
    """The transaction object of eth_call / eth_estimateGas."""
    if not isinstance(value, dict):
        raise InvalidParams(f"invalid {where}: expected a transaction object")
    unknown = set(value) - _CALL_FIELDS
    if unknown:
        raise InvalidParams(f"invalid {where}: unknown field {sorted(unknown)[0]!r}")

    def opt_qty(key: str, bits: int = 256) -> int | None:
        raw = value.get(key)
        return None if raw is None else quantity(raw, f"{where}.{key}", bits=bits)

    data_field = value.get("input", value.get("data"))
    if "input" in value and "data" in value and value["input"] != value["data"]:
        raise InvalidParams(f"invalid {where}: both data and input are set and differ")
    if value.get("gasPrice") is not None and (
        value.get("maxFeePerGas") is not None or value.get("maxPriorityFeePerGas") is not None
    ):
        raise InvalidParams(
            f"invalid {where}: both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified"
        )
    sender = value.get("from")
    to = value.get("to")
    return CallRequest(
        sender=Address(b"\x00" * 20) if sender is None else address(sender, f"{where}.from"),
        to=None if to is None else address(to, f"{where}.to"),
        gas=opt_qty("gas", 64),
        gas_price=opt_qty("gasPrice"),
        max_fee=opt_qty("maxFeePerGas"),
        max_tip=opt_qty("maxPriorityFeePerGas"),
        value=opt_qty("value") or 0,
        data=b"" if data_field is None else hex_data(data_field, f"{where}.data"),
        access_list=None
        if value.get("accessList") is None
        else access_list(value["accessList"], f"{where}.accessList"),
    )


def access_list(value: Any, where: str) -> tuple[tuple[bytes, tuple[int, ...]], ...]:
    if not isinstance(value, list):
        raise InvalidParams(f"invalid {where}: expected a list")
    entries = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict) or set(entry) != {"address", "storageKeys"}:
            raise InvalidParams(f"invalid {where}[{i}]: expected {{address, storageKeys}}")
        keys = entry["storageKeys"]
        if not isinstance(keys, list):
            raise InvalidParams(f"invalid {where}[{i}].storageKeys: expected a list")
        entries.append(
            (
                address(entry["address"], f"{where}[{i}].address"),
                tuple(int.from_bytes(hash32(k, f"{where}[{i}].storageKeys"), "big") for k in keys),
            )
        )
    return tuple(entries)


def log_query(value: Any, where: str) -> LogQuery:
    """The filter object of eth_getLogs."""
    if not isinstance(value, dict):
        raise InvalidParams(f"invalid {where}: expected a filter object")
    unknown = set(value) - {"fromBlock", "toBlock", "address", "topics", "blockHash"}
    if unknown:
        raise InvalidParams(f"invalid {where}: unknown field {sorted(unknown)[0]!r}")
    block_hash = None
    if value.get("blockHash") is not None:
        if value.get("fromBlock") is not None or value.get("toBlock") is not None:
            raise InvalidParams(
                f"invalid {where}: blockHash cannot be combined with fromBlock/toBlock"
            )
        block_hash = hash32(value["blockHash"], f"{where}.blockHash")
    addresses: frozenset[bytes] | None = None
    raw_address = value.get("address")
    if isinstance(raw_address, list):
        addresses = frozenset(
            address(a, f"{where}.address[{i}]") for i, a in enumerate(raw_address)
        )
    elif raw_address is not None:
        addresses = frozenset({address(raw_address, f"{where}.address")})
    return LogQuery(
        from_block=block_ref(value.get("fromBlock"), f"{where}.fromBlock"),
        to_block=block_ref(value.get("toBlock"), f"{where}.toBlock"),
        block_hash=block_hash,
        criteria=LogFilter(addresses, topics(value.get("topics"), f"{where}.topics")),
    )


def topics(value: Any, where: str) -> tuple[frozenset[bytes] | None, ...]:
    """Topic positions: null (any), a topic, or a list of topics (any of them)."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_TOPICS:
        raise InvalidParams(f"invalid {where}: expected a list of at most {MAX_TOPICS} positions")
    positions: list[frozenset[bytes] | None] = []
    for i, position in enumerate(value):
        if position is None:
            positions.append(None)
        elif isinstance(position, list):
            choices = [hash32(t, f"{where}[{i}]") for t in position if t is not None]
            # [] or a list holding null matches anything, as in geth
            wildcard = not position or len(choices) < len(position)
            positions.append(None if wildcard else frozenset(choices))
        else:
            positions.append(frozenset({hash32(position, f"{where}[{i}]")}))
    return tuple(positions)  # as in geth, a log needs at least len(positions) topics


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
