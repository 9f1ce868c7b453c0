"""Where a DvP trade stands, read from both chains: its legs under the trade's hashlock.

What is shown is what the chains hold: every lock under the hashlock on each leg's
chain, with its token (symbol and decimals from the token contract), amount, receiver
and expiry. A lock that differs from the offer, or an offer field the chains
contradict, is a *mismatch*; only locks that hold the agreed amount of the agreed
token for the agreed receiver count towards the trade's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relayer.deployment.session import Session
from relayer.dvp.actions import chain_time, find_locks
from relayer.dvp.files import TradeRecord
from relayer.dvp.protocol import Leg, LockView, Offer
from relayer.dvp.verify import TokenFacts, offer_mismatches, token_facts


@dataclass
class LegState:
    """One leg's terms and the locks on chain that match them."""

    leg: str  # "asset" or "payment"
    terms: Leg
    receiver: str
    agreed_expiry: int | None
    now: int = 0
    locks: list[LockView] = field(default_factory=list)  # every lock under the hashlock
    tokens: dict[str, TokenFacts | None] = field(default_factory=dict)  # lower address ->
    differences: dict[bytes, list[str]] = field(default_factory=dict)  # lock id -> vs offer

    @property
    def matching(self) -> list[LockView]:
        """The locks that hold the agreed amount of the agreed token for the receiver."""
        return [lock for lock in self.locks if _pays_as_agreed(lock, self.terms, self.receiver)]

    @property
    def states(self) -> set[str]:
        return {lock.state for lock in self.matching}

    def token(self, address: str) -> TokenFacts | None:
        """What the token at ``address`` on this leg's chain says it is, if it answered."""
        return self.tokens.get(address.lower())

    def describe(self, lock: LockView) -> str:
        """``open, expires in 35 s``, ``open, expired 3 s ago: refundable``, ``claimed``…"""
        if lock.state != "open":
            return lock.state
        left = lock.expiry - self.now
        if left > 0:
            return f"open, expires in {left} s"
        return f"open, expired {-left} s ago: refundable"


@dataclass
class TradeStatus:
    offer: Offer
    asset: LegState
    payment: LegState
    notes: dict[str, Any]
    offer_mismatches: list[str] = field(default_factory=list)  # the offer vs the chains

    @property
    def summary(self) -> str:
        return summarize(self.offer, self.asset.states, self.payment.states)

    @property
    def mismatches(self) -> list[str]:
        """Every difference between the offer and the chains, one line each."""
        found = list(self.offer_mismatches)
        for state in (self.asset, self.payment):
            for lock in state.locks:
                for difference in state.differences.get(lock.lock_id, []):
                    found.append(
                        f"the {state.leg} leg's lock 0x{lock.lock_id.hex()[:16]}… on "
                        f"{state.terms.chain} {difference}"
                    )
        return found


def summarize(offer: Offer, asset: set[str], payment: set[str]) -> str:
    """A trade's state in a few words, from the states of its legs' locks."""
    if not offer.accepted:
        return "offered: waiting for the buyer to accept"
    if "claimed" in asset and "claimed" in payment:
        return "settled"
    if "claimed" in asset and "open" in payment:
        return "asset claimed: the payment is being claimed for the seller"
    if "claimed" in asset and "refunded" in payment:
        return "seller unpaid: the payment was refunded after the asset was claimed"
    if "claimed" in payment:
        return "payment claimed: the asset can be claimed with the revealed secret"
    if not payment:
        return "accepted: the payment is not locked yet"
    if "refunded" in payment and asset <= {"refunded"}:
        return "refunded"
    if "open" in payment and not asset:
        return "payment locked: waiting for the seller to lock the asset"
    if "open" in payment and "open" in asset:
        return "both legs locked: waiting for the buyer's claim"
    if "open" in payment and "refunded" in asset:
        return "asset refunded: the payment is refunded at its expiry"
    return f"asset {'/'.join(sorted(asset)) or 'not locked'}, payment {'/'.join(sorted(payment))}"


async def trade_status(session: Session, record: TradeRecord) -> TradeStatus:
    """Both legs of a trade as the chains hold them now, and where they differ from the offer."""
    offer = record.offer
    asset = LegState("asset", offer.asset, offer.buyer, offer.asset_expiry)
    payment = LegState("payment", offer.payment, offer.seller, offer.payment_expiry)
    found = TradeStatus(offer, asset, payment, record.notes)
    found.offer_mismatches = await offer_mismatches(session, offer)
    known = {c.name for c in session.config.chains}
    for state in (asset, payment):
        chain = state.terms.chain
        if chain not in known:
            continue
        state.tokens[state.terms.token.lower()] = await token_facts(
            session, chain, state.terms.token
        )
        if offer.hashlock is None:
            continue
        state.now = await chain_time(session, chain)
        state.locks = await find_locks(session, chain, offer.hashlock, offer.search_block(chain))
        for lock in state.locks:
            if lock.token.lower() not in state.tokens:
                state.tokens[lock.token.lower()] = await token_facts(session, chain, lock.token)
            differences = lock_differences(state, lock)
            if differences:
                state.differences[lock.lock_id] = differences
    return found


def lock_differences(state: LegState, lock: LockView) -> list[str]:
    """How ``lock`` differs from the leg the offer describes, in words (empty: it matches)."""
    terms = state.terms
    agreed = state.token(terms.token)
    held = state.token(lock.token)
    found = []
    if lock.token.lower() != terms.token.lower():
        what = f"{held.symbol} " if held else ""
        found.append(f"locks token {what}{lock.token}, the offer says {terms.token}")
    elif lock.amount != terms.amount:
        decimals, symbol = (agreed.decimals, agreed.symbol) if agreed else (None, terms.symbol)
        found.append(
            f"holds {show_units(lock.amount, decimals, symbol)}, the offer says "
            f"{show_units(terms.amount, decimals, symbol)}"
        )
    if lock.receiver.lower() != state.receiver.lower():
        found.append(f"pays {lock.receiver}, the offer says {state.receiver}")
    if state.agreed_expiry is not None and lock.expiry != state.agreed_expiry:
        found.append(f"expires at {lock.expiry}, the offer says {state.agreed_expiry}")
    return found


def show_units(units: int, decimals: int | None, symbol: str) -> str:
    """``4 ACME`` (token units, as the contract's decimals say), else ``4000 base units``."""
    if decimals is None:
        return f"{units} base units of {symbol}"
    from decimal import Decimal

    text = f"{Decimal(units).scaleb(-decimals):,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {symbol}"


def _pays_as_agreed(lock: LockView, terms: Leg, receiver: str) -> bool:
    return (
        lock.token.lower() == terms.token.lower()
        and lock.receiver.lower() == receiver.lower()
        and lock.amount == terms.amount
    )


def trade_status_json(found: TradeStatus) -> dict[str, Any]:
    """A trade's status as JSON: the offer, each leg's locks as the chains hold them (amounts
    in base units, as strings), and every mismatch."""

    def leg(state: LegState) -> dict[str, Any]:
        facts = state.token(state.terms.token)
        return {
            "offer": state.terms.to_json(),
            "token_says": None if facts is None else {
                "symbol": facts.symbol, "decimals": facts.decimals,
            },
            "locks": [
                {
                    "lock_id": "0x" + lock.lock_id.hex(),
                    "token": lock.token,
                    "sender": lock.sender,
                    "receiver": lock.receiver,
                    "amount": str(lock.amount),
                    "hashlock": "0x" + lock.hashlock.hex(),
                    "expiry": lock.expiry,
                    "state": lock.state,
                    "matches_offer": lock.lock_id not in state.differences,
                    "differences": state.differences.get(lock.lock_id, []),
                }
                for lock in state.locks
            ],
        }  # fmt: skip

    return {
        "trade": found.offer.trade,
        "summary": found.summary,
        "asset": leg(found.asset),
        "payment": leg(found.payment),
        "mismatches": found.mismatches,
    }
