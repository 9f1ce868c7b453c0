"""The message: packed header and body, and its id (docs/protocol.md, "Message")."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from relayer.core.hashing import keccak256

VERSION = 1
HEADER_LENGTH = 77
_HEADER = struct.Struct(">BII32sI32s")
HEADER = _HEADER  # the header's layout, for readers that slice a message in place


class MessageError(ValueError):
    """Bytes that are not a well-formed message."""


@dataclass(frozen=True, slots=True)
class Message:
    """One cross-chain message, as the mailbox dispatches it."""

    nonce: int
    origin: int
    sender: bytes  # 32 bytes
    destination: int
    recipient: bytes  # 32 bytes
    body: bytes
    version: int = VERSION

    def encode(self) -> bytes:
        """The packed bytes: version, nonce, origin, sender, destination, recipient, body."""
        return encode_message(self)

    @property
    def id(self) -> bytes:
        """keccak256 of the packed message."""
        return keccak256(self.encode())


def encode_message(message: Message) -> bytes:
    """Pack a message exactly as Solidity's abi.encodePacked does.

    Parameters
    ----------
    message :
        The message; ``sender`` and ``recipient`` must be 32 bytes.

    Returns
    -------
    bytes
        The 77-byte header followed by the body.
    """
    if len(message.sender) != 32 or len(message.recipient) != 32:
        raise MessageError("sender and recipient must be 32 bytes")
    for name in ("nonce", "origin", "destination"):
        value = getattr(message, name)
        if not 0 <= value < 2**32:
            raise MessageError(f"{name} {value} does not fit in uint32")
    if not 0 <= message.version < 256:
        raise MessageError(f"version {message.version} does not fit in uint8")
    header = _HEADER.pack(
        message.version,
        message.nonce,
        message.origin,
        message.sender,
        message.destination,
        message.recipient,
    )
    return header + message.body


def decode_message(raw: bytes) -> Message:
    """Unpack message bytes; MessageError when shorter than the header."""
    if len(raw) < HEADER_LENGTH:
        raise MessageError(f"message of {len(raw)} bytes is shorter than the 77-byte header")
    version, nonce, origin, sender, destination, recipient = _HEADER.unpack_from(raw)
    return Message(
        nonce=nonce,
        origin=origin,
        sender=sender,
        destination=destination,
        recipient=recipient,
        body=bytes(raw[HEADER_LENGTH:]),
        version=version,
    )


def message_id(raw: bytes) -> bytes:
    """The id of packed message bytes: keccak256(message)."""
    return keccak256(raw)


def address_to_bytes32(address: str | bytes) -> bytes:
    """A 20-byte address left-padded to 32 bytes, as the mailbox stores senders."""
    raw = bytes.fromhex(address.removeprefix("0x")) if isinstance(address, str) else address
    if len(raw) != 20:
        raise MessageError(f"an address has 20 bytes, got {len(raw)}")
    return b"\x00" * 12 + raw


def bytes32_to_address(value: bytes) -> bytes:
    """The 20-byte address in a left-padded bytes32; MessageError if the padding is not zero."""
    if len(value) != 32 or any(value[:12]):
        raise MessageError("not a left-padded address")
    return value[12:]
