"""Entitlements at a record date, in exact integer arithmetic (docs/distributions.md).

Rules:

- A *position* is one holder's balance on one chain at the record date (tokens in flight
  counted as ``snapshot`` says). A holder with balances on two chains has two positions and
  is paid on each chain for that chain's part.
- Pro rata: ``gross = floor(amount * balance / total)`` per position, where ``total`` is the
  sum of all positions' balances. Per unit: ``gross = floor(balance * per_unit /
  10**decimals)`` and the declared amount is what the issuer gives.
- Dust: ``amount - sum(gross)``, always ``0 <= dust < number of positions`` (pro rata),
  goes to the named dust account as a leaf of the home chain's tree, so the roots committed
  add up to the declared amount to the unit.
- Withholding: ``withheld = floor(gross * rate)`` with the rate of the holder's country at
  the record date (``Fraction`` from the config's decimal percentage; default none); the
  holder's ``net = gross - withheld``. Rounding down is in the holder's favour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Position:
    chain: str
    wallet: str
    balance: int
    country: int = 0
    investor_id: str = ""


@dataclass(frozen=True)
class Entitlement:
    chain: str
    wallet: str
    balance: int
    gross: int
    withheld: int
    country: int = 0
    investor_id: str = ""
    dust: bool = False

    @property
    def net(self) -> int:
        return self.gross - self.withheld


@dataclass(frozen=True)
class Allocation:
    amount: int
    entitlements: tuple[Entitlement, ...]
    dust: int
    dust_account: str

    def per_chain(self) -> dict[str, list[Entitlement]]:
        out: dict[str, list[Entitlement]] = {}
        for e in self.entitlements:
            out.setdefault(e.chain, []).append(e)
        return out

    def total(self, chain: str | None = None) -> int:
        return sum(e.gross for e in self.entitlements if chain is None or e.chain == chain)


def withholding(gross: int, rate: Fraction) -> int:
    """floor(gross * rate) for 0 <= rate <= 1."""
    if not 0 <= rate <= 1:
        raise ValueError(f"a withholding rate is between 0 and 1, not {rate}")
    return gross * rate.numerator // rate.denominator


def _merge(positions: Sequence[Position]) -> list[Position]:
    """One position per (chain, wallet), balances added; zero balances dropped; sorted."""
    merged: dict[tuple[str, str], Position] = {}
    for p in positions:
        if p.balance < 0:
            raise ValueError(f"negative balance for {p.wallet} on {p.chain}")
        key = (p.chain, p.wallet.lower())
        old = merged.get(key)
        merged[key] = (
            p
            if old is None
            else Position(
                p.chain, old.wallet, old.balance + p.balance, old.country, old.investor_id
            )
        )
    return sorted(
        (p for p in merged.values() if p.balance), key=lambda p: (p.chain, p.wallet.lower())
    )


def allocate(
    positions: Sequence[Position],
    amount: int,
    *,
    home: str,
    dust_account: str,
    rates: Mapping[int, Fraction] | None = None,
    per_unit: int | None = None,
    decimals: int = 0,
) -> Allocation:
    """The entitlements of ``positions`` to ``amount`` payment units (module docstring).

    With ``per_unit`` (payment units per whole token), ``amount`` must be at least what the
    positions need; the rest is dust.
    """
    if amount <= 0:
        raise ValueError("the amount must be positive")
    rates = rates or {}
    held = _merge(positions)
    total = sum(p.balance for p in held)
    if per_unit is None and total == 0:
        raise ValueError("nobody held the token at the record date")
    out: list[Entitlement] = []
    for p in held:
        if per_unit is None:
            gross = amount * p.balance // total
        else:
            gross = p.balance * per_unit // 10**decimals
        rate = rates.get(p.country, Fraction(0))
        out.append(
            Entitlement(
                p.chain, p.wallet, p.balance, gross, withholding(gross, rate), p.country,
                p.investor_id,
            )
        )  # fmt: skip
    dust = amount - sum(e.gross for e in out)
    if dust < 0:
        raise ValueError(f"the amount {amount} is {-dust} short of what the holders are owed")
    if dust:  # one leaf per (chain, wallet): a dust account that holds gets it on its leaf
        at = next(
            (
                i
                for i, e in enumerate(out)
                if e.chain == home and e.wallet.lower() == dust_account.lower()
            ),
            None,
        )
        if at is None:
            out.append(Entitlement(home, dust_account, 0, dust, 0, dust=True))
        else:
            e = out[at]
            out[at] = Entitlement(
                e.chain,
                e.wallet,
                e.balance,
                e.gross + dust,
                e.withheld,
                e.country,
                e.investor_id,
                True,
            )
    return Allocation(amount, tuple(out), dust, dust_account)
