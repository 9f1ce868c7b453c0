"""Cross-chain delivery versus payment: the offer both traders hold, and the rules for a leg.

Pure logic, no I/O. A trade has two hash-time-locked legs under one hashlock: the
buyer's **payment** leg (locked first, expiring at ``T_B``) and the seller's **asset**
leg (the security token, locked second, expiring at ``T_A``). The seller is safe only
if ``T_B - T_A`` leaves enough time, after the buyer claims the asset at the last
moment, for the secret to be seen and the payment claimed: the *margin*. The checks
here are what the trader tools refuse a leg for; each raises :class:`LegRefused` with
one line that says why.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from eth_utils.address import to_checksum_address

from relayer.inputs import address_problem, format_tokens

OFFER_VERSION = 1
UINT256_MAX = 2**256 - 1  # what a lock's amount can hold
UINT64_MAX = 2**64 - 1  # what a lock's expiry can hold
AddressParser = Callable[[str, str], str]  # (text, field) -> checksummed address, or raises
RESTART_ALLOWANCE = 30  # seconds for a relayer to restart and catch up, inside the margin
INCLUSION_BLOCKS = 10  # blocks of the slower chain for the claim to be mined (a fee bump)
_TRADE_ID = re.compile(r"^[0-9a-f]{16}$")


class OfferError(ValueError):
    """An offer document is malformed or inconsistent."""


class LegRefused(ValueError):
    """A leg does not match the offer, or leaves the seller too little time."""


class ChainTiming(Protocol):
    """What the margin depends on for one chain (a ChainConfig has both)."""

    @property
    def block_time(self) -> float: ...

    @property
    def confirmations(self) -> int: ...


def default_margin(asset: ChainTiming, payment: ChainTiming) -> int:
    """The least ``T_B - T_A`` that keeps a seller safe when the relayer does its job.

    After the buyer's claim is mined on the asset chain just before ``T_A``, the relayer
    reads it once it is final there, then its claim must be mined, and final, on the
    payment chain before ``T_B``: finality on both chains, ten blocks of the slower
    chain for inclusion (room for one fee bump of a stuck transaction), and
    :data:`RESTART_ALLOWANCE` for a relayer that crashed at the wrong moment.
    """
    slower = max(asset.block_time, payment.block_time)
    finality = asset.block_time * asset.confirmations + payment.block_time * payment.confirmations
    return math.ceil(finality + INCLUSION_BLOCKS * slower + RESTART_ALLOWANCE)


def default_min_window(asset: ChainTiming, payment: ChainTiming) -> int:
    """How far ahead of chain time an asset leg's expiry must at least be when it is locked.

    Ten blocks of the slower chain: time for the other party to see the leg and act.
    """
    return max(1, math.ceil(INCLUSION_BLOCKS * max(asset.block_time, payment.block_time)))


def margin_for(override: int | None, asset: ChainTiming, payment: ChainTiming) -> int:
    """The configured margin (``[dvp] margin_seconds``), else :func:`default_margin`."""
    return override if override is not None else default_margin(asset, payment)


def min_window_for(override: int | None, asset: ChainTiming, payment: ChainTiming) -> int:
    """The configured window (``[dvp] min_window_seconds``), else :func:`default_min_window`."""
    return override if override is not None else default_min_window(asset, payment)


def hashlock_of(secret: bytes) -> bytes:
    """sha256 of the 32-byte secret, as the timelock checks it."""
    if len(secret) != 32:
        raise OfferError(f"a secret is 32 bytes, not {len(secret)}")
    return hashlib.sha256(secret).digest()


def valid_trade_id(text: str) -> bool:
    return bool(_TRADE_ID.match(text))


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of a trade: an amount of a token on a chain."""

    chain: str
    chain_id: int
    token: str
    symbol: str
    decimals: int
    amount: int

    def to_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "chain_id": self.chain_id,
            "token": self.token,
            "symbol": self.symbol,
            "decimals": self.decimals,
            "amount": str(self.amount),
        }

    @classmethod
    def from_json(cls, raw: Any, where: str, address: AddressParser | None = None) -> Leg:
        if not isinstance(raw, Mapping):
            raise OfferError(f"{where}: expected an object")
        try:
            leg = cls(
                chain=_text(raw["chain"], f"{where}.chain"),
                chain_id=_int(raw["chain_id"], f"{where}.chain_id"),
                token=_address(raw["token"], f"{where}.token", address),
                symbol=_text(raw["symbol"], f"{where}.symbol"),
                decimals=_int(raw["decimals"], f"{where}.decimals"),
                amount=_amount(raw["amount"], f"{where}.amount"),
            )
        except KeyError as exc:
            raise OfferError(f"{where}.{exc.args[0]}: required") from None
        if leg.chain_id <= 0:
            raise OfferError(f"{where}.chain_id: must be positive, got {leg.chain_id}")
        if not 0 <= leg.decimals <= 77:  # 10**77 < 2**256 <= 10**78
            raise OfferError(f"{where}.decimals: {leg.decimals} is not a token's decimals")
        return leg


@dataclass(frozen=True, slots=True)
class Offer:
    """What seller and buyer agree on. The seller writes the terms; the buyer, accepting,
    adds the hashlock and both expiries (and, once locked, the payment lock's id)."""

    trade: str
    network: str
    seller: str
    buyer: str
    asset: Leg
    payment: Leg
    margin_seconds: int
    hashlock: bytes | None = None
    asset_expiry: int | None = None
    payment_expiry: int | None = None
    payment_lock: bytes | None = None
    search_from: tuple[tuple[str, int], ...] = ()  # (chain, block): no leg is older

    @property
    def accepted(self) -> bool:
        return self.hashlock is not None

    def terms(self) -> tuple[object, ...]:
        """What the seller offered; accepting must not change any of it."""
        return (self.trade, self.network, self.seller, self.buyer, self.asset, self.payment)

    def accept(
        self, hashlock: bytes, asset_expiry: int, margin: int, heads: Mapping[str, int]
    ) -> Offer:
        """The accepted offer: the hashlock, ``T_A`` and ``T_B = T_A + margin`` (the larger of
        the buyer's margin and the offer's), and the chains' heads (where legs are searched)."""
        margin = max(margin, self.margin_seconds)
        return replace(
            self,
            hashlock=hashlock,
            asset_expiry=asset_expiry,
            payment_expiry=asset_expiry + margin,
            margin_seconds=margin,
            search_from=tuple(sorted(heads.items())),
        )

    def search_block(self, chain: str) -> int | None:
        """The block from which legs of this trade are searched on ``chain``, if known."""
        return dict(self.search_from).get(chain)

    def to_json(self) -> dict[str, Any]:
        return {
            "stbridge_dvp": OFFER_VERSION,
            "trade": self.trade,
            "network": self.network,
            "seller": self.seller,
            "buyer": self.buyer,
            "asset": self.asset.to_json(),
            "payment": self.payment.to_json(),
            "margin_seconds": self.margin_seconds,
            "hashlock": _hex(self.hashlock),
            "asset_expiry": self.asset_expiry,
            "payment_expiry": self.payment_expiry,
            "payment_lock": _hex(self.payment_lock),
            "search_from": dict(self.search_from),
        }

    @classmethod
    def from_json(cls, raw: Any, address: AddressParser | None = None) -> Offer:
        """Parse and check an offer document; OfferError names the first bad field.

        ``address`` reads each address field (the CLI passes its own parser, which checks
        EIP-55 checksums); by default any well-formed address is taken.
        """
        if not isinstance(raw, Mapping):
            raise OfferError("an offer is a JSON object")
        version = raw.get("stbridge_dvp")
        if isinstance(version, bool) or version != OFFER_VERSION:
            raise OfferError(f"not a stbridge DvP offer (stbridge_dvp is not {OFFER_VERSION})")
        try:
            trade = _text(raw["trade"], "trade")
            offer = cls(
                trade=trade,
                network=_text(raw["network"], "network"),
                seller=_address(raw["seller"], "seller", address),
                buyer=_address(raw["buyer"], "buyer", address),
                asset=Leg.from_json(raw["asset"], "asset", address),
                payment=Leg.from_json(raw["payment"], "payment", address),
                margin_seconds=_int(raw["margin_seconds"], "margin_seconds"),
                hashlock=_bytes32(raw.get("hashlock"), "hashlock"),
                asset_expiry=_opt_int(raw.get("asset_expiry"), "asset_expiry"),
                payment_expiry=_opt_int(raw.get("payment_expiry"), "payment_expiry"),
                payment_lock=_bytes32(raw.get("payment_lock"), "payment_lock"),
                search_from=_blocks(raw.get("search_from")),
            )
        except KeyError as exc:
            raise OfferError(f"{exc.args[0]}: required") from None
        if not valid_trade_id(trade):
            raise OfferError(f"trade: {trade!r} is not a trade id (16 hex digits)")
        if offer.seller == offer.buyer:
            raise OfferError("seller and buyer are the same address")
        if offer.margin_seconds <= 0:
            raise OfferError("margin_seconds: must be positive")
        stamped = (offer.hashlock, offer.asset_expiry, offer.payment_expiry)
        if any(v is not None for v in stamped) and any(v is None for v in stamped):
            raise OfferError("an accepted offer has a hashlock and both expiries")
        _check_expiries(offer)
        return offer


@dataclass(frozen=True, slots=True)
class LockView:
    """A lock as a chain holds it (``HashedTimelock.getLock`` plus its id)."""

    lock_id: bytes
    token: str
    sender: str
    receiver: str
    amount: int
    hashlock: bytes
    expiry: int
    state: str  # "none", "open", "claimed" or "refunded"


LOCK_STATES = ("none", "open", "claimed", "refunded")


def check_payment_leg(
    offer: Offer,
    lock: LockView,
    *,
    margin: int,
    clocks: tuple[int, int] | None = None,
    slack: int = 0,
) -> None:
    """The seller's check before locking the asset: the buyer's payment leg is right.

    It must be open, under the offer's hashlock, hold the agreed amount of the agreed
    token for the seller, and expire at least ``margin`` (the seller's own) after the
    asset leg would. The expiry is the chain's, not the document's. With ``clocks`` (the
    asset chain's and the payment chain's latest block times), the margin is also checked
    as time left on each chain's own clock: a payment chain whose clock runs ahead would
    otherwise eat into the seller's time to claim. ``slack`` (a block time) is what two
    latest-block times read a moment apart can differ by with the clocks in step. Raises
    LegRefused.
    """
    assert offer.asset_expiry is not None and offer.hashlock is not None
    p = offer.payment
    _same_lock(lock, "payment", p, receiver=offer.seller, hashlock=offer.hashlock)
    left = lock.expiry - offer.asset_expiry
    if left < margin:
        raise LegRefused(
            f"unsafe margin: the payment leg on {p.chain} expires at {lock.expiry}, only "
            f"{left} s after the asset leg would ({offer.asset_expiry}); the margin is "
            f"{margin} s: ask the buyer for a later payment expiry or an earlier asset expiry"
        )
    if clocks is not None:
        asset_now, payment_now = clocks
        asset_left, payment_left = offer.asset_expiry - asset_now, lock.expiry - payment_now
        if payment_left - asset_left < margin - slack:
            raise LegRefused(
                f"unsafe margin by the chains' clocks: the payment leg has {payment_left} s "
                f"left on {p.chain}'s clock, the asset leg would have {asset_left} s on "
                f"{offer.asset.chain}'s ({payment_now - asset_now:+d} s between the clocks); "
                f"the margin is {margin} s: ask the buyer for a later payment expiry"
            )


def check_asset_leg(offer: Offer, lock: LockView) -> None:
    """The buyer's check before claiming: the seller locked what was agreed, for the buyer."""
    assert offer.hashlock is not None
    _same_lock(lock, "asset", offer.asset, receiver=offer.buyer, hashlock=offer.hashlock)


def check_expiry_ahead(expiry: int, *, now: int, window: int, what: str) -> None:
    """Refuse an expiry less than ``window`` seconds ahead of chain time ``now``."""
    if expiry - now < max(window, 1):
        ahead = expiry - now
        when = f"in {ahead} s" if ahead > 0 else f"{-ahead} s ago"
        raise LegRefused(
            f"{what} would expire at {expiry} ({when}); an expiry must be at least "
            f"{max(window, 1)} s ahead of the chain's time {now}"
        )


def pick_lock(
    candidates: Sequence[LockView],
    check: Callable[[LockView], None],
    *,
    what: str,
    chain: str,
    hashlock: bytes,
) -> LockView:
    """The first open candidate that passes ``check``; else the reason the best one fails."""
    if not candidates:
        raise LegRefused(f"no {what} leg with hashlock 0x{hashlock.hex()} on chain {chain}")
    first_reason: str | None = None
    for lock in candidates:
        try:
            check(lock)
        except LegRefused as exc:
            first_reason = first_reason or str(exc)
            continue
        return lock
    assert first_reason is not None
    raise LegRefused(first_reason)


def _same_lock(lock: LockView, what: str, leg: Leg, *, receiver: str, hashlock: bytes) -> None:
    lid = f"0x{lock.lock_id.hex()[:12]}…"
    if lock.state != "open":
        raise LegRefused(f"the {what} leg {lid} on {leg.chain} is {lock.state}, not open")
    if lock.hashlock != hashlock:
        raise LegRefused(
            f"the {what} leg {lid} has hashlock 0x{lock.hashlock.hex()}, the offer says "
            f"0x{hashlock.hex()}"
        )
    if lock.token.lower() != leg.token.lower():
        raise LegRefused(
            f"the {what} leg {lid} locks token {lock.token}, not {leg.symbol} {leg.token}"
        )
    if lock.receiver.lower() != receiver.lower():
        raise LegRefused(f"the {what} leg {lid} pays {lock.receiver}, not {receiver}")
    if lock.amount != leg.amount:
        raise LegRefused(
            f"the {what} leg {lid} holds {format_tokens(lock.amount, leg.decimals, leg.symbol)}, "
            f"the offer says {format_tokens(leg.amount, leg.decimals, leg.symbol)}"
        )


def _address(value: Any, where: str, parse: AddressParser | None = None) -> str:
    """A checksummed address: through ``parse`` (the CLI's own words) when given, else the
    same rule as every address typed (EIP-55 included)."""
    if parse is not None and isinstance(value, str):
        return parse(value, where)
    problem = address_problem(value) if isinstance(value, str) else "is not an address"
    if problem is not None:
        raise OfferError(f"{where}: {value!r} {problem}")
    return str(to_checksum_address(value))


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise OfferError(f"{where}: expected a short string, got {value!r:.40}")
    return value


def _amount(value: Any, where: str) -> int:
    """Base units, written as a decimal string (or a JSON integer): positive, fits uint256."""
    text = value if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    if text is None or not re.fullmatch(r"[0-9]{1,78}", text):
        raise OfferError(f"{where}: expected base units as digits, got {value!r:.40}")
    amount = int(text)
    if amount <= 0:
        raise OfferError(f"{where}: must be positive")
    if amount > UINT256_MAX:
        raise OfferError(f"{where}: {text} does not fit a token amount (uint256)")
    return amount


def _check_expiries(offer: Offer) -> None:
    """An accepted offer's expiries fit a lock and leave at least its margin between them."""
    t_a, t_b = offer.asset_expiry, offer.payment_expiry
    if t_a is None or t_b is None:
        return
    for name, value in (("asset_expiry", t_a), ("payment_expiry", t_b)):
        if not 0 < value <= UINT64_MAX:
            raise OfferError(f"{name}: {value} is not a unix time a lock can hold")
    if t_b - t_a < offer.margin_seconds:
        raise OfferError(
            f"payment_expiry: {t_b} is {t_b - t_a} s after asset_expiry {t_a}, under the "
            f"offer's margin of {offer.margin_seconds} s"
        )


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise OfferError(f"{where}: expected an integer, got {value!r}")
    return value


def _opt_int(value: Any, where: str) -> int | None:
    return None if value is None else _int(value, where)


def _bytes32(value: Any, where: str) -> bytes | None:
    if value is None:
        return None
    text = str(value).lower()
    if not re.fullmatch(r"0x[0-9a-f]{64}", text):
        raise OfferError(f"{where}: {value!r} is not 0x followed by 64 hex digits")
    return bytes.fromhex(text[2:])


def _blocks(value: Any) -> tuple[tuple[str, int], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise OfferError("search_from: expected an object of chain: block")
    return tuple(sorted((str(k), _int(v, f"search_from.{k}")) for k, v in value.items()))


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()
