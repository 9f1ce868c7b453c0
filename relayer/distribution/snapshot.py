"""The record-date snapshot over every chain (docs/distributions.md, "In flight").

Balances come from the cap table read at the record date (``captable --at-block DATE``:
every chain at its last block not after the date, custodians left out). A bridge transfer
in flight at that moment (sent, not yet delivered) is counted for its *recipient on the
destination chain*: the sender gave the tokens up when it sent them, and they belong to the
recipient from then on. A bounced transfer whose Return is in flight is counted for the
original *sender on the chain the transfer left*, where the Return gives it back. So every
unit of supply at the record date is counted exactly once, for one holder on one chain, and
the positions add up to the issued supply minus what custodians (timelocks) hold. A cap
table that does not balance at the record date is refused: no entitlement from broken books.
"""

from __future__ import annotations

from eth_utils.address import to_checksum_address

from relayer.chain import contracts
from relayer.core.bodies import IdentityRecord
from relayer.deployment.chainread import calls
from relayer.deployment.session import Session
from relayer.distribution.entitlements import Position
from relayer.errors import InputError
from relayer.inputs import CutSpec
from relayer.issuer.captable import cap_table
from relayer.issuer.ledger import History, read_history


def in_flight(history: History, home_token: str) -> list[tuple[str, str, int]]:
    """(chain, holder, amount) of ``home_token`` in flight at the cut, by the rule above."""
    ht = home_token.lower()
    by_id = {c.chain_id: c for c in history.chains.values()}
    out: list[tuple[str, str, int]] = []
    for chain in history.chains.values():
        for sent in chain.sent:
            there = by_id.get(sent.destination)
            if sent.home_token.lower() != ht or there is None:
                continue
            bounced = any(b.transfer_id == sent.id for b in there.bounced)
            if sent.id not in there.processed:
                out.append((there.chain, _cs(sent.recipient), sent.amount))
            elif bounced:
                bounce = next(b for b in there.bounced if b.transfer_id == sent.id)
                if bounce.return_id not in chain.processed:
                    out.append((chain.chain, _cs(sent.sender), sent.amount))
    return out


def _cs(address: str) -> str:
    return str(to_checksum_address(address))


async def snapshot(session: Session, token: str, record_date: int) -> list[Position]:
    """Every holder's position per chain at ``record_date`` (unix seconds)."""
    table = await cap_table(session, token, CutSpec(at_time=record_date))
    if table.problems:
        raise InputError(
            f"the {table.symbol} cap table at {table.cut.label} does not balance "
            f"({table.problems[0]}): run `stbridge captable --at-block` and settle it first"
        )
    deployed = session.token(token)
    history = await read_history(session, table.cut)
    balances: dict[tuple[str, str], int] = {}
    for holder in table.holders:
        for chain, amount in holder.balances.items():
            if amount:
                balances[(chain, holder.wallet)] = amount
    for chain, wallet, amount in in_flight(history, deployed.home_address):
        balances[(chain, wallet)] = balances.get((chain, wallet), 0) + amount
    wallets = sorted({w for _c, w in balances})
    home = session.config.home
    registry = session.address(home, "IdentityRegistry")
    fn = contracts.load("IdentityRegistry").fn("recordOf")
    records = await calls(
        session.rpc(home), [(registry, fn, [w]) for w in wallets], table.cut.blocks[home]
    )
    info = {w: IdentityRecord(*r) for w, r in zip(wallets, records, strict=True)}
    return [
        Position(chain, wallet, amount, info[wallet].country,
                 "0x" + info[wallet].investor_id.hex())
        for (chain, wallet), amount in sorted(balances.items())
    ]  # fmt: skip
