"""The compiled contracts: artifacts from contracts/out, call encoding, log and error decoding.

The artifacts are committed, so running stbridge needs no compiler. Encoding and
decoding go straight through eth-abi with precomputed selectors and topics: the
relayer encodes thousands of calls a second and web3's contract objects would
redo the ABI lookups every time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import (
    event_abi_to_log_topic,
    function_abi_to_4byte_selector,
    get_abi_input_types,
    get_abi_output_types,
)
from eth_utils.address import to_checksum_address

from relayer.errors import DeploymentError

_OUT = Path("contracts") / "out"


def artifacts_dir() -> Path:
    """$STBRIDGE_ARTIFACTS, else contracts/out beside the code, else in the working directory."""
    override = os.environ.get("STBRIDGE_ARTIFACTS")
    if override:
        return Path(override)
    beside = Path(__file__).resolve().parents[2] / _OUT
    return beside if beside.is_dir() else Path.cwd() / _OUT


def _type_string(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_type_string(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


@dataclass(frozen=True)
class Function:
    name: str
    selector: bytes
    inputs: list[str]
    outputs: list[str]

    def encode(self, *args: Any) -> bytes:
        return self.selector + encode(self.inputs, list(args))

    def decode(self, data: bytes) -> tuple[Any, ...]:
        return tuple(decode(self.outputs, data))


@dataclass(frozen=True)
class Event:
    name: str
    topic: bytes
    indexed: list[tuple[str, str]]  # (name, type)
    data: list[tuple[str, str]]

    def decode(self, log: Mapping[str, Any]) -> dict[str, Any]:
        """The event's arguments by name, from an eth_getLogs entry."""
        topics = [_bytes(t) for t in log["topics"][1:]]
        values: dict[str, Any] = {}
        for (name, kind), topic in zip(self.indexed, topics, strict=True):
            values[name] = decode([kind], topic)[0] if _is_static(kind) else topic
        raw = _bytes(log["data"])
        decoded = decode([k for _, k in self.data], raw) if self.data else ()
        for (name, _), value in zip(self.data, decoded, strict=True):
            values[name] = value
        return values


def _is_static(kind: str) -> bool:
    return kind not in ("bytes", "string") and not kind.endswith("]") and not kind.startswith("(")


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    text = str(value)
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    functions: dict[str, Function] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    events_by_topic: dict[bytes, Event] = field(default_factory=dict)

    def fn(self, name: str) -> Function:
        try:
            return self.functions[name]
        except KeyError:
            raise DeploymentError(f"{self.name} has no function {name}") from None

    def event(self, name: str) -> Event:
        try:
            return self.events[name]
        except KeyError:
            raise DeploymentError(f"{self.name} has no event {name}") from None

    def deploy_data(self, *args: Any) -> bytes:
        """Creation bytecode followed by the encoded constructor arguments."""
        ctor = next((e for e in self.abi if e["type"] == "constructor"), None)
        if ctor is None:
            return self.bytecode
        types = [_type_string(p) for p in ctor["inputs"]]
        return self.bytecode + encode(types, list(args))


@cache
def load(name: str) -> Artifact:
    """The artifact ``contracts/out/<name>.json``; DeploymentError when missing."""
    path = artifacts_dir() / f"{name}.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise DeploymentError(
            f"no compiled artifact {path}: run `make contracts` in the project root"
        ) from None
    abi = raw["abi"]
    artifact = Artifact(name=name, abi=abi, bytecode=_bytes(raw["bytecode"]))
    for entry in abi:
        if entry["type"] == "function":
            overloaded = entry["name"] in artifact.functions
            key = entry["name"] if not overloaded else _signature(entry)
            artifact.functions[key] = Function(
                name=entry["name"],
                selector=bytes(function_abi_to_4byte_selector(entry)),
                inputs=list(get_abi_input_types(entry)),
                outputs=list(get_abi_output_types(entry)),
            )
            artifact.functions.setdefault(_signature(entry), artifact.functions[key])
        elif entry["type"] == "event":
            event = Event(
                name=entry["name"],
                topic=bytes(event_abi_to_log_topic(entry)),
                indexed=[(p["name"], _type_string(p)) for p in entry["inputs"] if p["indexed"]],
                data=[(p["name"], _type_string(p)) for p in entry["inputs"] if not p["indexed"]],
            )
            artifact.events[event.name] = event
            artifact.events_by_topic[event.topic] = event
    return artifact


def _signature(entry: Mapping[str, Any]) -> str:
    return f"{entry['name']}({','.join(_type_string(p) for p in entry['inputs'])})"


@cache
def _error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    directory = artifacts_dir()
    if not directory.is_dir():
        return table
    for path in sorted(directory.glob("*.json")):
        for entry in json.loads(path.read_text()).get("abi", []):
            if entry["type"] != "error":
                continue
            types = [_type_string(p) for p in entry["inputs"]]
            names = [p["name"] or f"arg{i}" for i, p in enumerate(entry["inputs"])]
            selector = bytes(function_signature_selector(f"{entry['name']}({','.join(types)})"))
            table[selector] = (entry["name"], types, names)
    return table


def function_signature_selector(signature: str) -> bytes:
    from relayer.core.hashing import keccak256

    return keccak256(signature.encode())[:4]


_PANICS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow",
    0x12: "division by zero",
    0x21: "bad enum value",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to a zero function",
}


def decode_revert(data: bytes | None) -> str:
    """A readable revert reason: ``Error(string)``, ``Panic(code)`` or a custom error."""
    if not data:
        return "reverted without a reason"
    selector, payload = data[:4], data[4:]
    try:
        if selector == bytes.fromhex("08c379a0"):
            return str(decode(["string"], payload)[0])
        if selector == bytes.fromhex("4e487b71"):
            code = int(decode(["uint256"], payload)[0])
            return f"panic: {_PANICS.get(code, hex(code))}"
        known = _error_table().get(selector)
        if known:
            name, types, names = known
            values = decode(types, payload) if types else ()
            if name == "TransferRestricted" and types[:3] == ["uint8", "address", "address"]:
                return _restricted(*values[:3])
            args = ", ".join(f"{n}={_show(v)}" for n, v in zip(names, values, strict=True))
            return f"{name}({args})"
    except DecodingError:
        pass
    return f"reverted with unknown data 0x{data.hex()[:80]}"


def _restricted(code: int, sender: str, recipient: str) -> str:
    """A token's ``TransferRestricted`` in words, as ``token mint`` and the pre-checks say it."""
    from relayer.core.restrictions import describe

    zero = "0x" + "0" * 40
    parties = [
        f"{side} {_show(who)}" for side, who in (("from", sender), ("to", recipient)) if who != zero
    ]
    return describe(int(code)) + (f", {' '.join(parties)}" if parties else "")


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def address_topic(address: str) -> str:
    """An address as a 32-byte log topic."""
    return "0x" + "0" * 24 + address.lower().removeprefix("0x")


def uint_topic(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def topics_of(*events: Event) -> list[str]:
    """A topic-0 filter matching any of ``events``."""
    return ["0x" + e.topic.hex() for e in events]


def decode_logs(
    artifact: Artifact, logs: Sequence[Mapping[str, Any]]
) -> list[tuple[Event, dict[str, Any], Mapping[str, Any]]]:
    """The logs of ``artifact``'s events among ``logs``, decoded."""
    out = []
    for log in logs:
        topics = log.get("topics") or []
        if not topics:
            continue
        event = artifact.events_by_topic.get(_bytes(topics[0]))
        if event is not None:
            out.append((event, event.decode(log), log))
    return out
