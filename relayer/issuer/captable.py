"""One cap table over every chain, reconciled with the issued supply.

Holders are every address a token ``Transfer`` ever touched on any chain (from the
deployment's start block to the cut), read at the cut. Custodians (the home bridge's
escrow, each chain's timelock and bridge, any other account the token marks as a
custodian) are listed apart and never counted as holders. Then the books must balance:

- on each chain, the token's supply equals what its holders and custodians hold, and
  its on-chain holder count equals the holders found;
- for each remote chain, the escrow invariant (``relayer.issuer.ledger``);
- so the issued supply (the home chain's) equals what investors hold on every chain,
  plus what timelocks and other custodians hold, plus what is in flight.

Anything that does not balance is listed in ``problems`` with the amounts on each side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from relayer.chain import contracts
from relayer.core.bodies import IdentityRecord
from relayer.deployment.chainread import calls, logs, topic
from relayer.deployment.record import TokenDeployment
from relayer.deployment.session import Session
from relayer.inputs import CutSpec, format_tokens
from relayer.issuer.investors import record_status
from relayer.issuer.ledger import (
    Cut,
    EscrowCheck,
    History,
    escrow_check,
    read_history,
    resolve_cut,
)

ZERO = "0x" + "00" * 20


@dataclass
class Holder:
    wallet: str
    balances: dict[str, int]
    status: str  # verified, revoked, frozen, expired, no record

    @property
    def total(self) -> int:
        return sum(self.balances.values())


@dataclass
class Custodian:
    chain: str
    role: str  # bridge escrow, bridge, timelock, custodian
    address: str
    balance: int


@dataclass
class CapTable:
    symbol: str
    decimals: int
    cut: Cut
    chains: list[str]
    supplies: dict[str, int]
    holders: list[Holder]
    custodians: list[Custodian]
    onchain_holder_counts: dict[str, int]
    escrow: EscrowCheck
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def issued(self) -> int:
        return self.supplies[self.escrow_chain]

    @property
    def escrow_chain(self) -> str:
        return next(c.chain for c in self.custodians if c.role == "bridge escrow")

    @property
    def held(self) -> int:
        return sum(h.total for h in self.holders)

    @property
    def in_custody(self) -> int:
        """Held by custodians other than the home escrow (timelocks, remote bridges)."""
        return sum(c.balance for c in self.custodians if c.role != "bridge escrow")

    @property
    def in_flight(self) -> int:
        return sum(lane.in_flight for lane in self.escrow.lanes)

    @property
    def holder_count(self) -> int:
        return sum(1 for h in self.holders if h.total > 0)

    @property
    def ok(self) -> bool:
        return not self.problems


async def _candidates(session: Session, chain: str, address: str, block: int) -> set[str]:
    rpc = session.rpc(chain)
    start = session.deployment.chain(chain).start_block
    found = await logs(rpc, address, start, block, [topic("SecurityToken", "Transfer")])
    seen: set[str] = set()
    abi = contracts.load("SecurityToken")
    for event, values, _ in contracts.decode_logs(abi, found):
        if event.name == "Transfer":
            seen.update(str(values[k]) for k in ("from", "to"))
    seen.discard(ZERO)
    return {_cs(a) for a in seen}


def _cs(address: str) -> str:
    from eth_utils.address import to_checksum_address

    return str(to_checksum_address(address))


def _roles(session: Session, chain: str) -> dict[str, str]:
    deployed = session.deployment.chain(chain)
    home = chain == session.config.home
    roles = {deployed.address("TokenBridge"): "bridge escrow" if home else "bridge"}
    roles[deployed.address("HashedTimelock")] = "timelock"
    return {_cs(a): r for a, r in roles.items()}


async def cap_table(session: Session, token: str, spec: CutSpec | None = None) -> CapTable:
    """The cap table of ``token`` at the cut ``spec`` names (default: latest)."""
    deployed = session.token(token)
    cut = await resolve_cut(session, spec or CutSpec())
    history = await read_history(session, cut)
    fn = contracts.load("SecurityToken").fn
    balances: dict[str, dict[str, int]] = {}
    custodians: list[Custodian] = []
    supplies: dict[str, int] = {}
    counts: dict[str, int] = {}
    problems: list[str] = list(history.inconsistencies)
    for chain, address in deployed.addresses.items():
        block = cut.blocks[chain]
        roles = _roles(session, chain)
        accounts = sorted((await _candidates(session, chain, address, block)) | set(roles))
        rpc = session.rpc(chain)
        answers = await calls(
            rpc,
            [(address, fn("balanceOf"), [a]) for a in accounts]
            + [(address, fn("isCustodian"), [a]) for a in accounts]
            + [(address, fn("totalSupply"), []), (address, fn("holderCount"), [])],
            block,
        )
        n = len(accounts)
        held, custodian = answers[:n], answers[n : 2 * n]
        supplies[chain], counts[chain] = int(answers[-2]), int(answers[-1])
        for account, amount, is_custodian in zip(accounts, held, custodian, strict=True):
            if is_custodian or account in roles:
                custodians.append(
                    Custodian(chain, roles.get(account, "custodian"), account, int(amount))
                )
            elif amount:
                balances.setdefault(account, {})[chain] = int(amount)
        _check_chain(
            problems, deployed, chain, supplies[chain], counts[chain], balances, custodians
        )
    escrow = await escrow_check(session, history, deployed)
    holders = await _holders(session, deployed, cut, balances)
    table = CapTable(
        deployed.symbol, deployed.decimals, cut, list(deployed.addresses), supplies,
        holders, custodians, counts, escrow, problems,
    )  # fmt: skip
    _reconcile(table, history)
    return table


def _check_chain(
    problems: list[str],
    token: TokenDeployment,
    chain: str,
    supply: int,
    onchain_count: int,
    balances: dict[str, dict[str, int]],
    custodians: list[Custodian],
) -> None:
    found = sum(b.get(chain, 0) for b in balances.values())
    kept = sum(c.balance for c in custodians if c.chain == chain)
    if found + kept != supply:
        show = partial(format_tokens, decimals=token.decimals, symbol=token.symbol)
        problems.append(
            f"chain {chain}: {token.symbol} supply is {show(supply)}, but holders hold "
            f"{show(found)} and custodians {show(kept)} (difference {show(supply - found - kept)})"
        )
    holders = sum(1 for b in balances.values() if b.get(chain, 0) > 0)
    if holders != onchain_count:
        problems.append(
            f"chain {chain}: the token counts {onchain_count} holders, "
            f"the cap table finds {holders}"
        )


async def _holders(
    session: Session, token: TokenDeployment, cut: Cut, balances: dict[str, dict[str, int]]
) -> list[Holder]:
    home = session.config.home
    registry = session.address(home, "IdentityRegistry")
    wallets = sorted(balances)
    fn = contracts.load("IdentityRegistry").fn("recordOf")
    records = await calls(
        session.rpc(home), [(registry, fn, [w]) for w in wallets], cut.blocks[home]
    )
    now = cut.times[home]
    holders = [
        Holder(w, balances[w], record_status(IdentityRecord(*r), now))
        for w, r in zip(wallets, records, strict=True)
    ]
    holders.sort(key=lambda h: (-h.total, h.wallet.lower()))
    return holders


def _reconcile(table: CapTable, history: History) -> None:
    show = partial(format_tokens, decimals=table.decimals, symbol=table.symbol)
    for lane in table.escrow.lanes:
        if not lane.ok:
            table.problems.append(
                f"lane {history.home}<->{lane.remote}: escrow holds {show(lane.locked)} for "
                f"{lane.remote}, but {lane.remote} has supply {show(lane.remote_supply)} and "
                f"{show(lane.in_flight)} is in flight (difference {show(lane.difference)})"
            )
    if table.escrow.deficit:
        table.problems.append(
            f"the escrow {table.escrow.escrow} holds {show(table.escrow.balance)}, "
            f"{show(table.escrow.deficit)} less than its lanes account for"
        )
    if table.escrow.surplus:
        table.notes.append(
            f"the escrow holds {show(table.escrow.surplus)} more than its lanes account for "
            "(tokens transferred to the bridge outside a bridge transfer; they back nothing)"
        )
    accounted = table.held + table.in_custody + table.in_flight + table.escrow.surplus
    if accounted != table.issued:
        table.problems.append(
            f"issued supply {show(table.issued)} != held {show(table.held)} + in custody "
            f"{show(table.in_custody)} + in flight {show(table.in_flight)}"
            + (f" + escrow surplus {show(table.escrow.surplus)}" if table.escrow.surplus else "")
            + f" = {show(accounted)} (difference {show(table.issued - accounted)})"
        )
