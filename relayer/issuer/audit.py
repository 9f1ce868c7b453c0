"""``stbridge audit``: the escrow invariant per token and lane, and the mirrors against home.

At one cut (``relayer.issuer.ledger``):

- every token's escrow invariant on every lane, and the escrow's balance against the
  sum of its lanes;
- every wallet the home registry ever wrote (its ``RecordUpdated`` events) compared
  with each mirror's copy. A copy with a lower version is **catching up** when a
  RecordUpdate carrying the home version is dispatched and not yet delivered, and a
  violation otherwise (no message on its way would bring it level); a copy with a
  higher version, or the same version with other contents, is always a violation
  (only home records reach a mirror);
- every holder of every token on every chain whose record (home, or the copy that
  chain's token enforces) is revoked, expired or missing: a compliance **exception**,
  with the forced transfer that clears it; frozen holders are listed apart, since they
  may hold (``relayer.issuer.holdings_review``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from eth_utils.address import to_checksum_address

from relayer.chain import contracts
from relayer.core.bodies import BodyError, IdentityRecord, RecordUpdate, decode_body
from relayer.deployment.chainread import calls, logs, topic
from relayer.deployment.session import Session
from relayer.inputs import CutSpec, format_tokens
from relayer.issuer.holdings_review import Holding, review_holdings
from relayer.issuer.ledger import (
    Cut,
    EscrowCheck,
    History,
    escrow_check,
    read_history,
    resolve_cut,
)

SHOWN = 5  # differences listed per mirror


def _cs(address: str) -> str:
    return str(to_checksum_address(address))


@dataclass
class MirrorReport:
    chain: str
    wallets: int
    in_sync: int = 0
    catching_up: int = 0
    violations: list[str] = field(default_factory=list)
    behind: list[str] = field(default_factory=list)  # the first few catching up


@dataclass
class AuditReport:
    cut: Cut
    home: str
    escrow: list[EscrowCheck]
    mirrors: list[MirrorReport]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    exceptions: list[Holding] = field(default_factory=list)  # may not hold what they hold
    frozen: list[Holding] = field(default_factory=list)  # frozen, may hold: informational

    @property
    def ok(self) -> bool:
        return not self.problems and not self.exceptions


async def audit(session: Session, spec: CutSpec | None = None) -> AuditReport:
    """Check every token's escrow and every mirror at one cut (default: latest)."""
    cut = await resolve_cut(session, spec or CutSpec())
    history = await read_history(session, cut)
    report = AuditReport(cut, history.home, [], [], list(history.inconsistencies))
    for token in session.deployment.tokens:
        check = await escrow_check(session, history, token)
        report.escrow.append(check)
        show = partial(format_tokens, decimals=token.decimals, symbol=token.symbol)
        for lane in check.lanes:
            if not lane.ok:
                report.problems.append(
                    f"{token.symbol} lane {history.home}<->{lane.remote}: escrow holds "
                    f"{show(lane.locked)} for it, supply on {lane.remote} is "
                    f"{show(lane.remote_supply)}, in flight {show(lane.in_flight)} "
                    f"(difference {show(lane.difference)})"
                )
        if check.deficit:
            report.problems.append(
                f"{token.symbol}: the escrow holds {show(check.deficit)} less than its "
                "lanes account for"
            )
        if check.surplus:
            report.notes.append(
                f"{token.symbol}: the escrow holds {show(check.surplus)} more than its "
                "lanes account for (sent to the bridge outside a transfer)"
            )
    home_records = await _home_records(session, cut)
    await _check_home_reads(session, cut, home_records, report)
    for chain in session.config.remote_chains:
        mirror = await _check_mirror(session, history, home_records, chain.name)
        report.mirrors.append(mirror)
        report.problems += [f"mirror on {chain.name}: {v}" for v in mirror.violations[:SHOWN]]
        if len(mirror.violations) > SHOWN:
            report.problems.append(
                f"mirror on {chain.name}: and {len(mirror.violations) - SHOWN} more"
            )
    review = await review_holdings(session, cut, home_records)
    report.exceptions, report.frozen = review.exceptions, review.frozen
    return report


async def _home_records(session: Session, cut: Cut) -> dict[str, IdentityRecord]:
    """Each wallet's latest record, from the home registry's RecordUpdated events."""
    home = session.config.home
    rpc = session.rpc(home)
    start = session.deployment.chain(home).start_block
    registry = session.address(home, "IdentityRegistry")
    found = await logs(
        rpc, registry, start, cut.blocks[home], [topic("IdentityRegistry", "RecordUpdated")]
    )
    records: dict[str, IdentityRecord] = {}
    abi = contracts.load("IdentityRegistry")
    for _event, v, _ in contracts.decode_logs(abi, found):
        records[_cs(v["wallet"])] = IdentityRecord(
            bytes(v["investorId"]), v["country"], v["expiresAt"], v["flags"], v["version"]
        )
    return records


async def _read_records(
    session: Session, chain: str, registry: str, wallets: list[str], block: int
) -> list[IdentityRecord]:
    fn = contracts.load("IdentityRegistry").fn("recordOf")
    raw = await calls(session.rpc(chain), [(registry, fn, [w]) for w in wallets], block)
    return [IdentityRecord(*r) for r in raw]


async def _check_home_reads(
    session: Session, cut: Cut, records: dict[str, IdentityRecord], report: AuditReport
) -> None:
    """The registry's state must be what its own events say (else the scan missed some)."""
    home = session.config.home
    wallets = sorted(records)
    registry = session.address(home, "IdentityRegistry")
    read = await _read_records(session, home, registry, wallets, cut.blocks[home])
    for wallet, held in zip(wallets, read, strict=True):
        if held != records[wallet]:
            report.problems.append(
                f"home registry: {wallet} holds version {held.version}, its events say "
                f"{records[wallet].version}"
            )


def _pending_versions(history: History, session: Session, remote: str) -> dict[str, int]:
    """The newest undelivered RecordUpdate version per wallet on the lane home→remote."""
    home = history.chains[history.home]
    there = history.chains[remote]
    registry = session.address(history.home, "IdentityRegistry").lower()
    mirror = session.address(remote, "MirrorIdentityRegistry").lower()
    pending: dict[str, int] = {}
    for message_id, message in home.dispatched.items():
        if message.destination != there.chain_id or message_id in there.processed:
            continue
        if "0x" + message.sender[12:].hex() != registry:
            continue
        if "0x" + message.recipient[12:].hex() != mirror:
            continue
        try:
            body = decode_body(message.body)
        except BodyError:
            continue
        if isinstance(body, RecordUpdate):
            wallet = _cs(body.wallet)
            pending[wallet] = max(pending.get(wallet, 0), body.record.version)
    return pending


async def _check_mirror(
    session: Session, history: History, home: dict[str, IdentityRecord], chain: str
) -> MirrorReport:
    wallets = sorted(home)
    mirror = session.address(chain, "MirrorIdentityRegistry")
    copies = await _read_records(session, chain, mirror, wallets, history.cut.blocks[chain])
    pending = _pending_versions(history, session, chain)
    report = MirrorReport(chain, len(wallets))
    for wallet, copy in zip(wallets, copies, strict=True):
        want = home[wallet]
        if copy == want:
            report.in_sync += 1
        elif copy.version < want.version and pending.get(wallet, 0) >= want.version:
            report.catching_up += 1
            if len(report.behind) < SHOWN:
                report.behind.append(
                    f"{wallet}: version {copy.version}, home {want.version}, update in flight"
                )
        elif copy.version < want.version:
            report.violations.append(
                f"{wallet} is at version {copy.version}, home at {want.version}, and no update "
                "carrying it is on its way (push it again: `stbridge investor resync`)"
            )
        elif copy.version > want.version:
            report.violations.append(
                f"{wallet} is at version {copy.version}, ahead of home ({want.version})"
            )
        else:
            report.violations.append(
                f"{wallet}: version {copy.version} differs from the home record's contents"
            )
    return report
