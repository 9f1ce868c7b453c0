"""Where a DvP trade stands, read from both chains: its legs under the trade's hashlock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relayer.actions.dvp import chain_time, find_locks
from relayer.actions.dvp_files import TradeRecord
from relayer.actions.session import Session
from relayer.core.dvp import Leg, LockView, Offer


@dataclass
class LegState:
    """One leg's terms and the locks on chain that match them."""

    leg: str  # "asset" or "payment"
    terms: Leg
    receiver: str
    agreed_expiry: int | None
    now: int = 0
    locks: list[LockView] = field(default_factory=list)

    @property
    def states(self) -> set[str]:
        return {lock.state for lock in self.locks}

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

    @property
    def summary(self) -> str:
        return summarize(self.offer, self.asset.states, self.payment.states)


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
    """Both legs of a trade as the chains hold them now."""
    offer = record.offer
    asset = LegState("asset", offer.asset, offer.buyer, offer.asset_expiry)
    payment = LegState("payment", offer.payment, offer.seller, offer.payment_expiry)
    if offer.hashlock is not None:
        for state in (asset, payment):
            chain = state.terms.chain
            state.now = await chain_time(session, chain)
            found = await find_locks(session, chain, offer.hashlock, offer.search_block(chain))
            state.locks = [
                lock
                for lock in found
                if lock.token.lower() == state.terms.token.lower()
                and lock.receiver.lower() == state.receiver.lower()
            ]
    return TradeStatus(offer, asset, payment, record.notes)
