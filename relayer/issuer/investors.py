"""Investors on the home identity registry: add, update, revoke, freeze, unfreeze, show.

Every write goes to the home chain's IdentityRegistry, which bumps the wallet's record
version and dispatches a RecordUpdate to the mirror of every enrolled remote chain; the
relayer carries it like a transfer. A write returns the new record and the ids of those
messages, so the issuer can follow them (``stbridge bridge status <id>``). ``show``
puts the home record beside each mirror's copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from relayer.chain import contracts
from relayer.config import PrivateKey
from relayer.core.bodies import IdentityRecord
from relayer.core.message import decode_message
from relayer.deployment.chainread import require_agent
from relayer.deployment.session import Session
from relayer.errors import InputError, NotFound

ZERO_ADDRESS = "0x" + "00" * 20
Flagging = Literal["revoke", "freeze", "unfreeze"]


@dataclass
class RegistryChange:
    """What one registry write did."""

    wallet: str
    action: str  # added, updated, revoked, frozen, unfrozen
    record: IdentityRecord
    tx_hash: str
    block: int
    messages: list[tuple[str, str]] = field(default_factory=list)  # (chain, message id)
    note: str = ""


@dataclass
class MirrorCopy:
    """A remote mirror's copy of a wallet's record."""

    chain: str
    record: IdentityRecord
    state: str  # in sync, behind, differs, ahead


@dataclass
class InvestorView:
    wallet: str
    home_chain: str
    record: IdentityRecord
    mirrors: list[MirrorCopy]
    home_time: int  # the home chain's latest block time, for "expired"


def record_status(record: IdentityRecord, now: int) -> str:
    """``verified``, or why not: ``no record``, ``revoked``, ``frozen``, ``expired``."""
    if not record.exists:
        return "no record"
    states = [s for s, on in (("revoked", record.revoked), ("frozen", record.frozen)) if on]
    if record.expires_at <= now:
        states.append("expired")
    return ", ".join(states) if states else "verified"


def _registry(session: Session) -> tuple[str, str]:
    home = session.config.home
    return home, session.address(home, "IdentityRegistry")


async def read_record(
    session: Session, chain: str, registry: str, wallet: str, block: int | str = "latest"
) -> IdentityRecord:
    """The record a registry (home or mirror) holds for ``wallet``."""
    fn = contracts.load("IdentityRegistry").fn("recordOf")
    raw = await session.rpc(chain).call(registry, fn.encode(wallet), block)
    (values,) = fn.decode(raw)
    return IdentityRecord(*values)


async def home_record(session: Session, wallet: str) -> IdentityRecord:
    home, registry = _registry(session)
    return await read_record(session, home, registry, wallet)


async def _chain_time(session: Session, chain: str) -> int:
    return (await session.rpc(chain).block("latest")).timestamp


def _check_wallet(wallet: str) -> None:
    if wallet.lower() == ZERO_ADDRESS:
        raise InputError("the wallet is the zero address")


async def _existing(session: Session, wallet: str) -> IdentityRecord:
    record = await home_record(session, wallet)
    if not record.exists:
        raise NotFound(
            f"{wallet} has no identity record on the home registry (chain "
            f"{session.config.home}): onboard it with `stbridge investor add`"
        )
    return record


async def add_investor(
    session: Session,
    key: PrivateKey,
    wallet: str,
    *,
    investor_id: bytes,
    country: int,
    expires_at: int,
    frozen: bool = False,
) -> RegistryChange:
    """Onboard ``wallet`` (or re-onboard a revoked one): a new record, flags cleared."""
    _check_wallet(wallet)
    await session.reachable(session.config.home)
    current = await home_record(session, wallet)
    if current.exists and not current.revoked:
        raise InputError(
            f"{wallet} already has a record (version {current.version}): "
            "change it with `stbridge investor update`"
        )
    flags = 2 if frozen else 0
    change = await _set_record(session, key, wallet, investor_id, country, expires_at, flags)
    change.action = "re-onboarded" if current.exists else "added"
    return change


async def update_investor(
    session: Session,
    key: PrivateKey,
    wallet: str,
    *,
    investor_id: bytes | None = None,
    country: int | None = None,
    expires_at: int | None = None,
) -> RegistryChange:
    """Change the id, country or expiry of an existing record; its flags stay as they are."""
    _check_wallet(wallet)
    if investor_id is None and country is None and expires_at is None:
        raise InputError("nothing to update: give --id, --country or --expires")
    await session.reachable(session.config.home)
    current = await _existing(session, wallet)
    if expires_at is None and current.expires_at <= await _chain_time(session, session.config.home):
        raise InputError(f"{wallet}'s record has expired: give a new --expires with the update")
    change = await _set_record(
        session,
        key,
        wallet,
        investor_id if investor_id is not None else current.investor_id,
        country if country is not None else current.country,
        expires_at if expires_at is not None else current.expires_at,
        current.flags,
    )
    change.action = "updated"
    return change


async def flag_investor(
    session: Session, key: PrivateKey, wallet: str, action: Flagging
) -> RegistryChange:
    """Revoke, freeze or unfreeze ``wallet`` on the home registry (and so everywhere).

    Repeating a revocation or a freeze is allowed: it pushes the record to the mirrors
    again under a new version, which is what to do when a mirror looks stale.
    """
    _check_wallet(wallet)
    await session.reachable(session.config.home)
    current = await _existing(session, wallet)
    note = ""
    if action == "revoke" and current.revoked:
        note = "it was already revoked; the record was pushed to the mirrors again"
    elif action == "freeze" and current.frozen:
        note = "it was already frozen; the record was pushed to the mirrors again"
    elif action == "unfreeze" and not current.frozen:
        raise InputError(f"{wallet} is not frozen")
    home, registry = _registry(session)
    await require_agent(session, home, registry, "IdentityRegistry", key)
    data = contracts.load("IdentityRegistry").fn(action).encode(wallet)
    past = {"revoke": "revoked", "freeze": "frozen", "unfreeze": "unfrozen"}[action]
    change = await _write(session, key, data, wallet, past)
    change.note = note
    return change


async def resync_investors(
    session: Session, key: PrivateKey, wallets: list[str]
) -> tuple[str, list[tuple[str, str]]]:
    """Push the current records of ``wallets`` to every mirror again (versions unchanged):
    for a mirror that is behind with nothing on its way (a chain enrolled late, a
    mirror re-pointed). Returns the transaction and the messages ``(chain, id)``."""
    if not wallets:
        raise InputError("name at least one wallet to push")
    await session.reachable(session.config.home)
    for wallet in wallets:
        _check_wallet(wallet)
        await _existing(session, wallet)
    home, registry = _registry(session)
    await require_agent(session, home, registry, "IdentityRegistry", key)
    agent = session.wallet(home, key)
    data = contracts.load("IdentityRegistry").fn("resync").encode(wallets)
    sent = await agent.send(registry, data, what=f"push {len(wallets)} record(s) again")
    receipt = (await agent.wait([sent]))[0]
    return sent.hash, _dispatched(session, receipt)


def _dispatched(session: Session, receipt: dict[str, Any]) -> list[tuple[str, str]]:
    """``(destination chain, message id)`` of every Dispatch in a receipt."""
    messages = []
    mailbox_abi = contracts.load("Mailbox")
    for event, values, _log in contracts.decode_logs(mailbox_abi, receipt.get("logs", [])):
        if event.name == "Dispatch":
            message = decode_message(bytes(values["message"]))
            chain = session.config.chain_by_id(message.destination).name
            messages.append((chain, "0x" + bytes(values["id"]).hex()))
    return messages


async def _set_record(
    session: Session,
    key: PrivateKey,
    wallet: str,
    investor_id: bytes,
    country: int,
    expires_at: int,
    flags: int,
) -> RegistryChange:
    home, registry = _registry(session)
    if not 1 <= country <= 999:
        raise InputError(f"country {country} is not an ISO 3166-1 numeric code (1 to 999)")
    now = await _chain_time(session, home)
    if expires_at <= now:
        raise InputError(
            f"expiry {expires_at} is not after the home chain's time ({now}): give a later date"
        )
    await require_agent(session, home, registry, "IdentityRegistry", key)
    data = (
        contracts.load("IdentityRegistry")
        .fn("setRecord")
        .encode(wallet, investor_id, country, expires_at, flags)
    )
    return await _write(session, key, data, wallet, "set")


async def _write(
    session: Session, key: PrivateKey, data: bytes, wallet: str, action: str
) -> RegistryChange:
    home, registry = _registry(session)
    agent = session.wallet(home, key)
    sent = await agent.send(registry, data, what=f"{action} the record of {wallet}")
    receipt = (await agent.wait([sent]))[0]
    registry_abi = contracts.load("IdentityRegistry")
    record = None
    for event, values, _log in contracts.decode_logs(registry_abi, receipt.get("logs", [])):
        if event.name == "RecordUpdated":
            record = IdentityRecord(
                bytes(values["investorId"]),
                values["country"],
                values["expiresAt"],
                values["flags"],
                values["version"],
            )
    if record is None:
        record = await home_record(session, wallet)
    messages = _dispatched(session, receipt)
    return RegistryChange(
        wallet=wallet,
        action=action,
        record=record,
        tx_hash=sent.hash,
        block=int(receipt["blockNumber"], 16),
        messages=messages,
    )


async def show_investor(session: Session, wallet: str) -> InvestorView:
    """The home record of ``wallet`` and every mirror's copy of it."""
    _check_wallet(wallet)
    await session.reachable(session.config.home)
    record = await _existing(session, wallet)
    mirrors = []
    for chain in session.config.remote_chains:
        mirror = session.address(chain.name, "MirrorIdentityRegistry")
        copy = await read_record(session, chain.name, mirror, wallet)
        mirrors.append(MirrorCopy(chain.name, copy, compare_copy(record, copy)))
    now = await _chain_time(session, session.config.home)
    return InvestorView(wallet, session.config.home, record, mirrors, now)


def compare_copy(home: IdentityRecord, copy: IdentityRecord) -> str:
    """How a mirror's copy stands against the home record."""
    if copy.version < home.version:
        return "behind"
    if copy.version > home.version:
        return "ahead"
    return "in sync" if copy == home else "differs"
