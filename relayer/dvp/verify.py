"""An offer checked against the chains and the deployment before anything is locked.

An offer is a document two traders pass to each other; any field of it can be edited
on the way. Every field the chains can tell is compared with them here: the network,
each leg's chain (known to the config, its id, the deployment holds the token there),
the two chains differing, each token's address (the deployed security token for the
asset, the deployed payment token for the payment), and its symbol and decimals as the
token contract itself answers them. What the chains cannot tell (amounts, expiries,
addresses of the parties) is checked for shape in ``relayer.dvp.protocol``.

Each mismatch is one line naming the field, what the offer says and what the chain
(or deployment) says.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from eth_abi.exceptions import DecodingError

from relayer.deployment.session import Session
from relayer.dvp.protocol import Leg, Offer
from relayer.errors import StbridgeError, TransactionReverted

ERC20 = "PaymentToken"  # any ERC-20's symbol() and decimals()


class OfferMismatch(StbridgeError):
    """An offer says something its chains or the deployment contradict; nothing was locked."""

    exit_code = 2


@dataclass(frozen=True)
class TokenFacts:
    """What a token contract answers about itself."""

    address: str
    symbol: str
    decimals: int


async def token_facts(session: Session, chain: str, address: str) -> TokenFacts | None:
    """``symbol()`` and ``decimals()`` read from the contract at ``address`` on ``chain``,
    or None when there is no ERC-20 there (no code, or it does not answer them)."""
    try:
        code = await session.rpc(chain).request("eth_getCode", [address, "latest"])
        if str(code) in ("0x", "0x0", ""):
            return None
        symbol = await session.call(chain, address, ERC20, "symbol")
        decimals = await session.call(chain, address, ERC20, "decimals")
    except (TransactionReverted, DecodingError, OverflowError, ValueError):
        return None
    return TokenFacts(address, str(symbol), int(decimals))


async def offer_mismatches(session: Session, offer: Offer) -> list[str]:
    """Every disagreement between ``offer`` and the chains, one line each, most basic first."""
    found: list[str] = []
    network = session.config.network
    if offer.network != network:
        found.append(f"network: the offer says {offer.network!r}, this config is {network!r}")
    legs = (("asset", offer.asset), ("payment", offer.payment))
    known = {c.name: c for c in session.config.chains}
    for name, leg in legs:
        found += _chain_mismatches(session, name, leg, known)
    if offer.asset.chain == offer.payment.chain:
        found.append(
            f"payment.chain: the offer puts the payment on {offer.payment.chain}, the chain of "
            f"the asset; the deployment settles a DvP across two chains"
        )
    for name, leg in legs:
        if leg.chain not in known:
            continue
        expected = _deployed_token(session, name, leg)
        if isinstance(expected, str):
            found.append(expected)
            continue
        found += await _token_mismatches(session, name, leg)
    return found


async def verify_offer(session: Session, offer: Offer) -> None:
    """OfferMismatch (one line: the first mismatch, and how many more) unless every field
    the chains can tell agrees with them."""
    found = await offer_mismatches(session, offer)
    if found:
        more = f" (and {len(found) - 1} more mismatch(es))" if len(found) > 1 else ""
        raise OfferMismatch(
            f"trade {offer.trade}: {found[0]}{more}; nothing was sent: ask for the offer again"
        )


def _chain_mismatches(session: Session, name: str, leg: Leg, known: Collection[str]) -> list[str]:
    if leg.chain not in known:
        names = ", ".join(known)
        return [f"{name}.chain: the offer says {leg.chain!r}, the config has chains {names}"]
    chain_id = session.config.chain(leg.chain).chain_id
    if leg.chain_id != chain_id:
        return [f"{name}.chain_id: the offer says {leg.chain_id}, chain {leg.chain} is {chain_id}"]
    return []


def _deployed_token(session: Session, name: str, leg: Leg) -> str | None:
    """None when ``leg.token`` is the deployment's token for that side on that chain, else
    the mismatch line."""
    if name == "asset":
        here = {
            t.addresses[leg.chain].lower(): t.symbol
            for t in session.deployment.tokens
            if leg.chain in t.addresses
        }
        if leg.token.lower() in here:
            return None
        if not here:
            return f"asset.chain: the deployment has no security token on chain {leg.chain}"
        listed = ", ".join(
            f"{t.symbol} {t.addresses[leg.chain]}"
            for t in session.deployment.tokens
            if leg.chain in t.addresses
        )
        return (
            f"asset.token: the offer says {leg.token}, the deployment's security token(s) on "
            f"{leg.chain}: {listed}"
        )
    real = session.deployment.payment_token.get(leg.chain)
    if real is None:
        return f"payment.chain: the deployment has no payment token on chain {leg.chain}"
    if real.lower() != leg.token.lower():
        return (
            f"payment.token: the offer says {leg.token}, the deployment's payment token on "
            f"{leg.chain} is {real}"
        )
    return None


async def _token_mismatches(session: Session, name: str, leg: Leg) -> list[str]:
    facts = await token_facts(session, leg.chain, leg.token)
    if facts is None:
        return [f"{name}.token: {leg.token} on {leg.chain} does not answer as an ERC-20"]
    found = []
    if facts.symbol != leg.symbol:
        found.append(
            f"{name}.symbol: the offer says {leg.symbol!r}, the token {leg.token} on "
            f"{leg.chain} says {facts.symbol!r}"
        )
    if facts.decimals != leg.decimals:
        found.append(
            f"{name}.decimals: the offer says {leg.decimals}, the token {facts.symbol} on "
            f"{leg.chain} says {facts.decimals}"
        )
    return found
