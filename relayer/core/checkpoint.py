"""Checkpoints and their signatures (docs/protocol.md, "Checkpoint").

A checkpoint ``(origin, mailbox, root, index)`` says the origin's tree held
``index + 1`` leaves with this root. Validators sign its EIP-191 digest with
coincurve (libsecp256k1): low-s signatures, 65 bytes ``r ‖ s ‖ v``.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from coincurve import PrivateKey as _CurveKey
from coincurve import PublicKey as _CurvePublicKey

from relayer.core.hashing import keccak256

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = _SECP256K1_N // 2
DOMAIN_TAG = b"STBRIDGE"


class SignatureError(ValueError):
    """A signature that is malformed or does not recover."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A commitment to the first ``index + 1`` messages of ``origin``'s tree."""

    origin: int
    mailbox: bytes  # 32 bytes, the origin mailbox left-padded
    root: bytes
    index: int

    @property
    def digest(self) -> bytes:
        return checkpoint_digest(domain_hash(self.origin, self.mailbox), self.root, self.index)

    @property
    def signed_digest(self) -> bytes:
        return eth_signed_hash(self.digest)


def domain_hash(origin: int, mailbox: bytes) -> bytes:
    """keccak256(abi.encodePacked(uint32 origin, bytes32 mailbox, "STBRIDGE"))."""
    if len(mailbox) != 32:
        raise ValueError("mailbox must be 32 bytes (a left-padded address)")
    return keccak256(struct.pack(">I", origin) + mailbox + DOMAIN_TAG)


def checkpoint_digest(domain: bytes, root: bytes, index: int) -> bytes:
    """keccak256(abi.encodePacked(domainHash, root, uint32 index))."""
    return keccak256(domain + root + struct.pack(">I", index))


def eth_signed_hash(digest: bytes) -> bytes:
    """The EIP-191 hash of a 32-byte digest, as OpenZeppelin's toEthSignedMessageHash."""
    return keccak256(b"\x19Ethereum Signed Message:\n32" + digest)


def sign_hash(secret: bytes, signed_hash: bytes) -> bytes:
    """A 65-byte ``r ‖ s ‖ v`` signature (v in 27/28, low s) of an already-hashed message."""
    recoverable = _CurveKey(secret).sign_recoverable(signed_hash, hasher=None)
    return recoverable[:64] + bytes([recoverable[64] + 27])


def recover(signed_hash: bytes, signature: bytes) -> bytes:
    """The 20-byte address that made ``signature``; SignatureError if none or high s."""
    if len(signature) != 65:
        raise SignatureError(f"a signature has 65 bytes, got {len(signature)}")
    v = signature[64]
    if v not in (27, 28):
        raise SignatureError(f"v must be 27 or 28, got {v}")
    if int.from_bytes(signature[32:64], "big") > _HALF_N:
        raise SignatureError("malleable signature (high s)")
    try:
        public = _CurvePublicKey.from_signature_and_message(
            signature[:64] + bytes([v - 27]), signed_hash, hasher=None
        )
    except Exception as exc:  # coincurve raises plain Exception on bad input
        raise SignatureError("signature does not recover") from exc
    return keccak256(public.format(compressed=False)[1:])[12:]


def sign_checkpoint(secret: bytes, checkpoint: Checkpoint) -> bytes:
    """A validator's signature of a checkpoint."""
    return sign_hash(secret, checkpoint.signed_digest)


def pack_signatures(signatures: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Concatenate ``(signer, signature)`` pairs in strictly ascending signer order."""
    ordered = sorted(signatures, key=lambda pair: pair[0])
    for (a, _), (b, _) in itertools.pairwise(ordered):
        if a == b:
            raise SignatureError("two signatures from one signer")
    return b"".join(signature for _, signature in ordered)
