"""Who holds a security token without being allowed to: the audit's compliance exceptions.

A revocation stops a wallet from receiving, sending and claiming once its chain knows
it, but it does not take back what the wallet already holds, and a transfer delivered
before the revocation reached that chain lands anyway (docs/compliance.md, "What a
revocation guarantees"). So the audit reads, per token and chain at its cut, every
holder with a balance (custodians excepted) and both records that bear on it:

- the **home record** (compliance truth), read at the home chain's cut block and
  judged at its time;
- the **record the chain's token enforces**: the home registry on the home chain, that
  chain's mirror on a remote chain, judged at that chain's cut time.

A holding is an **exception** when either record is revoked, expired or missing: the
issuer should move it (forced transfer) to an eligible wallet. A holder that is only
frozen (registry flag, or the token's address or partial freeze) may keep what it holds
and is listed apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from relayer.chain import contracts
from relayer.core.bodies import IdentityRecord
from relayer.deployment.chainread import calls
from relayer.deployment.record import TokenDeployment
from relayer.deployment.session import Session
from relayer.inputs import format_time
from relayer.issuer.captable import _candidates, _roles
from relayer.issuer.ledger import Cut

INELIGIBLE = ("revoked", "expired", "no record")


@dataclass
class Holding:
    """One wallet's balance of one token on one chain, and why it is listed."""

    chain: str
    token: str  # symbol
    decimals: int
    wallet: str
    balance: int  # base units
    reasons: list[str] = field(default_factory=list)

    def command(self, home: str) -> str:
        """The forced transfer that moves the holding to an eligible wallet of the issuer's."""
        where = "" if self.chain == home else f" --chain {self.chain}"
        return (
            f"stbridge token forced-transfer --token {self.token} --from {self.wallet} "
            f"--to <eligible wallet> --amount all{where}"
        )


@dataclass
class HoldingsReview:
    exceptions: list[Holding] = field(default_factory=list)
    frozen: list[Holding] = field(default_factory=list)


async def review_holdings(
    session: Session, cut: Cut, home_records: dict[str, IdentityRecord]
) -> HoldingsReview:
    """Every token's holders on every chain at ``cut``, sorted into exceptions and frozen."""
    review = HoldingsReview()
    for token in session.deployment.tokens:
        for chain in token.addresses:
            await _review_chain(session, cut, home_records, token, chain, review)
    return review


async def _review_chain(
    session: Session,
    cut: Cut,
    home_records: dict[str, IdentityRecord],
    token: TokenDeployment,
    chain: str,
    review: HoldingsReview,
) -> None:
    home = session.config.home
    address, block = token.addresses[chain], cut.blocks[chain]
    roles = _roles(session, chain)
    accounts = sorted((await _candidates(session, chain, address, block)) - set(roles))
    if not accounts:
        return
    st = contracts.load("SecurityToken").fn
    registry = session.address(
        chain, "IdentityRegistry" if chain == home else "MirrorIdentityRegistry"
    )
    record_of = contracts.load("IdentityRegistry").fn("recordOf")
    n = len(accounts)
    answers = await calls(
        session.rpc(chain),
        [(address, st("balanceOf"), [a]) for a in accounts]
        + [(address, st("isCustodian"), [a]) for a in accounts]
        + [(address, st("isAddressFrozen"), [a]) for a in accounts]
        + [(address, st("getFrozenTokens"), [a]) for a in accounts]
        + [(registry, record_of, [a]) for a in accounts],
        block,
    )
    balances, custodian = answers[:n], answers[n : 2 * n]
    address_frozen, frozen_amount = answers[2 * n : 3 * n], answers[3 * n : 4 * n]
    local_records = answers[4 * n :]
    where = "home registry" if chain == home else f"mirror on {chain}"
    for i, wallet in enumerate(accounts):
        if custodian[i] or not int(balances[i]):
            continue
        holding = Holding(chain, token.symbol, token.decimals, wallet, int(balances[i]))
        records = [("home registry", home_records.get(wallet), cut.times[home])]
        if chain != home:
            records.append((where, IdentityRecord(*local_records[i]), cut.times[chain]))
        holding.reasons = [
            reason for name, record, now in records for reason in _ineligible(name, record, now)
        ]
        frozen = [f"frozen ({name})" for name, record, _now in records if record and record.frozen]
        if address_frozen[i]:
            frozen.append(f"address frozen by the token on {chain}")
        if int(frozen_amount[i]):
            part = _units(int(frozen_amount[i]), token.decimals)
            frozen.append(f"{part} {token.symbol} frozen by the token on {chain}")
        if holding.reasons:
            holding.reasons += frozen
            review.exceptions.append(holding)
        elif frozen:
            holding.reasons = frozen
            review.frozen.append(holding)


def _units(units: int, decimals: int) -> str:
    text = f"{Decimal(units).scaleb(-decimals):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _ineligible(name: str, record: IdentityRecord | None, now: int) -> list[str]:
    """Why ``record`` (as ``name`` holds it) does not allow holding at time ``now``."""
    if record is None or not record.exists:
        return [f"no record ({name})"]
    found = []
    if record.revoked:
        found.append(f"revoked ({name}, version {record.version})")
    if record.expires_at <= now:
        found.append(f"expired {format_time(record.expires_at)} ({name})")
    return found
