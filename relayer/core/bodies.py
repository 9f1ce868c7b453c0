"""Application bodies: Transfer, Return, RecordUpdate, DistributionRoot, VoteRoot, VoteTally."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_utils.address import to_checksum_address

FLAG_REVOKED = 1
FLAG_FROZEN = 2

_RECORD = "(bytes32,uint16,uint64,uint32,uint64)"
_TRANSFER = ["uint8", "address", "address", "address", "uint256", _RECORD]
_RETURN = ["uint8", "address", "address", "uint256", "bytes32", "uint8"]
_RECORD_UPDATE = ["uint8", "address", _RECORD]
_DISTRIBUTION_ROOT = ["uint8", "uint64", "address", "uint256", "uint64", "bytes32"]
_VOTE_ROOT = ["uint8", "uint64", "uint64", "uint8", "uint256", "bytes32"]
_VOTE_TALLY = ["uint8", "uint64", "uint256[]"]


class Kind(IntEnum):
    """The first word of every body."""

    TRANSFER = 1
    RETURN = 2
    RECORD_UPDATE = 3
    DISTRIBUTION_ROOT = 4
    VOTE_ROOT = 5
    VOTE_TALLY = 6


class BodyError(ValueError):
    """Bytes that are not a body of a known kind."""


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    """An investor's record; ``version`` grows with every change on the home registry."""

    investor_id: bytes = b"\x00" * 32
    country: int = 0
    expires_at: int = 0
    flags: int = 0
    version: int = 0

    def as_tuple(self) -> tuple[bytes, int, int, int, int]:
        return (self.investor_id, self.country, self.expires_at, self.flags, self.version)

    @property
    def exists(self) -> bool:
        return any(self.investor_id)

    @property
    def revoked(self) -> bool:
        return bool(self.flags & FLAG_REVOKED)

    @property
    def frozen(self) -> bool:
        return bool(self.flags & FLAG_FROZEN)


@dataclass(frozen=True, slots=True)
class Transfer:
    home_token: str  # checksummed address
    sender: str
    recipient: str
    amount: int
    record: IdentityRecord


@dataclass(frozen=True, slots=True)
class Return:
    home_token: str
    recipient: str
    amount: int
    transfer_id: bytes
    reason: int


@dataclass(frozen=True, slots=True)
class RecordUpdate:
    wallet: str
    record: IdentityRecord


@dataclass(frozen=True, slots=True)
class DistributionRoot:
    """One chain's root of a distribution, sent by the home DistributionManager."""

    distribution_id: int
    payment_token: str
    total: int
    claim_until: int
    root: bytes


@dataclass(frozen=True, slots=True)
class VoteRoot:
    """One chain's root of voting power, sent by the home VoteManager to that chain's Ballot."""

    vote_id: int
    closes: int
    options: int
    total_power: int
    root: bytes


@dataclass(frozen=True, slots=True)
class VoteTally:
    """A chain's tally (power per option), sent home by its Ballot."""

    vote_id: int
    tally: tuple[int, ...]


Body = Transfer | Return | RecordUpdate | DistributionRoot | VoteRoot | VoteTally


def encode_body(body: Body) -> bytes:
    """abi.encode of a body, kind first."""
    if isinstance(body, Transfer):
        return encode(
            _TRANSFER,
            [
                Kind.TRANSFER,
                body.home_token,
                body.sender,
                body.recipient,
                body.amount,
                body.record.as_tuple(),
            ],
        )
    if isinstance(body, Return):
        return encode(
            _RETURN,
            [
                Kind.RETURN,
                body.home_token,
                body.recipient,
                body.amount,
                body.transfer_id,
                body.reason,
            ],
        )
    if isinstance(body, DistributionRoot):
        return encode(
            _DISTRIBUTION_ROOT,
            [
                Kind.DISTRIBUTION_ROOT,
                body.distribution_id,
                body.payment_token,
                body.total,
                body.claim_until,
                body.root,
            ],
        )
    if isinstance(body, VoteRoot):
        return encode(
            _VOTE_ROOT,
            [Kind.VOTE_ROOT, body.vote_id, body.closes, body.options, body.total_power, body.root],
        )
    if isinstance(body, VoteTally):
        return encode(_VOTE_TALLY, [Kind.VOTE_TALLY, body.vote_id, list(body.tally)])
    return encode(_RECORD_UPDATE, [Kind.RECORD_UPDATE, body.wallet, body.record.as_tuple()])


def _cs(address: str) -> str:
    return str(to_checksum_address(address))


def decode_body(raw: bytes) -> Body:
    """The body in ``raw``; BodyError for an unknown kind or malformed bytes."""
    if len(raw) < 32:
        raise BodyError("a body starts with a 32-byte kind")
    kind = int.from_bytes(raw[:32], "big")
    try:
        if kind == Kind.TRANSFER:
            _, token, sender, recipient, amount, record = decode(_TRANSFER, raw, strict=False)
            return Transfer(
                _cs(token), _cs(sender), _cs(recipient), amount, IdentityRecord(*record)
            )
        if kind == Kind.RETURN:
            _, token, recipient, amount, transfer_id, reason = decode(_RETURN, raw, strict=False)
            return Return(_cs(token), _cs(recipient), amount, transfer_id, reason)
        if kind == Kind.RECORD_UPDATE:
            _, wallet, record = decode(_RECORD_UPDATE, raw, strict=False)
            return RecordUpdate(_cs(wallet), IdentityRecord(*record))
        if kind == Kind.DISTRIBUTION_ROOT:
            _, dist_id, token, total, until, root = decode(_DISTRIBUTION_ROOT, raw, strict=False)
            return DistributionRoot(dist_id, _cs(token), total, until, root)
        if kind == Kind.VOTE_ROOT:
            _, vote_id, closes, options, power, root = decode(_VOTE_ROOT, raw, strict=False)
            return VoteRoot(vote_id, closes, options, power, root)
        if kind == Kind.VOTE_TALLY:
            _, vote_id, tally = decode(_VOTE_TALLY, raw, strict=False)
            return VoteTally(vote_id, tuple(tally))
    except DecodingError as exc:
        raise BodyError(f"malformed kind-{kind} body: {exc}") from exc
    raise BodyError(f"unknown body kind {kind}")
