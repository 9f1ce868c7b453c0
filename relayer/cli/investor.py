"""`stbridge investor add|update|revoke|freeze|unfreeze|show`: the home identity registry."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer

from relayer.cli.common import ConfigOption, get_config, parse_address, resolve_key
from relayer.cli.lines import say
from relayer.cli.output import JsonOption, emit
from relayer.console.objects import investor_json, record_json
from relayer.core.bodies import IdentityRecord
from relayer.countries import describe
from relayer.deployment.session import Session
from relayer.errors import InputError
from relayer.inputs import (
    format_expiry,
    format_investor_id,
    format_time,
    parse_country,
    parse_expiry,
    parse_investor_id,
)
from relayer.issuer.investors import (
    InvestorView,
    RegistryChange,
    add_investor,
    flag_investor,
    record_status,
    resync_investors,
    show_investor,
    update_investor,
)

app = typer.Typer(
    help="Manage investors on the home identity registry (the issuer agent's key).",
    no_args_is_help=True,
)

WalletArg = Annotated[str, typer.Argument(help="The investor's wallet address.")]
AgentKeyOption = Annotated[
    str | None,
    typer.Option(
        "--key-env",
        help="Environment variable holding the agent's key (default on a devnet: issuer_agent).",
    ),
]
CountryOption = Annotated[
    str | None, typer.Option("--country", help="ISO 3166-1: DE, DEU or 276.", show_default=False)
]
ExpiresOption = Annotated[
    str | None,
    typer.Option(
        "--expires",
        help="2027-12-31 (valid through that day, UTC), a date-time, or a duration like 365d.",
        show_default=False,
    ),
]
IdOption = Annotated[
    str | None,
    typer.Option(
        "--id", help="Investor id: a label (INV-0042) or 0x and 64 hex digits.", show_default=False
    ),
]


def _record_line(record: IdentityRecord) -> str:
    return (
        f"id {format_investor_id(record.investor_id)}, country {describe(record.country)}, "
        f"{format_expiry(record.expires_at)}, flags {_flags(record)}, version {record.version}"
    )


def _flags(record: IdentityRecord) -> str:
    names = [n for n, on in (("revoked", record.revoked), ("frozen", record.frozen)) if on]
    return "+".join(names) or "none"


def _report(change: RegistryChange) -> None:
    say(
        f"{change.action} {change.wallet} on the home registry (tx {change.tx_hash}, "
        f"block {change.block})"
    )
    say(f"  record: {_record_line(change.record)}")
    if change.note:
        say(f"  note: {change.note}")
    for chain, message_id in change.messages:
        say(
            f"  update for chain {chain}: message {message_id} "
            f"(`stbridge bridge status {message_id}`)"
        )
    if not change.messages:
        say("  no remote chain is enrolled: nothing to relay")


@app.command()
def add(
    wallet: WalletArg,
    investor_id: IdOption = None,
    country: CountryOption = None,
    expires: ExpiresOption = None,
    frozen: Annotated[bool, typer.Option("--frozen", help="Start frozen.")] = False,
    key_env: AgentKeyOption = None,
    config_path: ConfigOption = None,
) -> None:
    """Onboard an investor (or re-onboard a revoked one)."""
    config = get_config(config_path)
    address = parse_address(wallet, "wallet")
    missing = [n for n, v in (("--id", investor_id), ("--country", country), ("--expires", expires))
               if v is None]  # fmt: skip
    if missing:
        raise InputError(f"investor add needs {' and '.join(missing)}")
    assert investor_id is not None and country is not None and expires is not None
    ident, code, until = (
        parse_investor_id(investor_id),
        parse_country(country),
        parse_expiry(expires, int(time.time())),
    )
    key = resolve_key(config, key_env, "issuer_agent")

    async def go() -> RegistryChange:
        async with Session(config) as session:
            return await add_investor(
                session, key, address, investor_id=ident, country=code, expires_at=until,
                frozen=frozen,
            )  # fmt: skip

    _report(asyncio.run(go()))


@app.command()
def update(
    wallet: WalletArg,
    investor_id: IdOption = None,
    country: CountryOption = None,
    expires: ExpiresOption = None,
    key_env: AgentKeyOption = None,
    config_path: ConfigOption = None,
) -> None:
    """Change an investor's id, country or expiry (flags stay as they are)."""
    config = get_config(config_path)
    address = parse_address(wallet, "wallet")
    ident = parse_investor_id(investor_id) if investor_id is not None else None
    code = parse_country(country) if country is not None else None
    until = parse_expiry(expires, int(time.time())) if expires is not None else None
    key = resolve_key(config, key_env, "issuer_agent")

    async def go() -> RegistryChange:
        async with Session(config) as session:
            return await update_investor(
                session, key, address, investor_id=ident, country=code, expires_at=until
            )

    _report(asyncio.run(go()))


def _flag_command(action: str, doc: str) -> None:
    def command(
        wallet: WalletArg, key_env: AgentKeyOption = None, config_path: ConfigOption = None
    ) -> None:
        config = get_config(config_path)
        address = parse_address(wallet, "wallet")
        key = resolve_key(config, key_env, "issuer_agent")

        async def go() -> RegistryChange:
            async with Session(config) as session:
                return await flag_investor(session, key, address, action)  # type: ignore[arg-type]

        _report(asyncio.run(go()))

    command.__doc__ = doc
    app.command(action)(command)


_flag_command("revoke", "Revoke an investor: no chain lets them receive or send once relayed.")
_flag_command("freeze", "Freeze an investor on every chain (they keep their tokens).")
_flag_command("unfreeze", "Lift an investor's freeze on every chain.")


@app.command()
def resync(
    wallets: Annotated[list[str], typer.Argument(help="The wallets whose records to push.")],
    key_env: AgentKeyOption = None,
    config_path: ConfigOption = None,
) -> None:
    """Push records to every mirror again, unchanged (for a mirror behind with nothing
    on its way, as `stbridge audit` reports)."""
    config = get_config(config_path)
    addresses = [parse_address(w, "wallet") for w in wallets]
    key = resolve_key(config, key_env, "issuer_agent")

    async def go() -> tuple[str, list[tuple[str, str]]]:
        async with Session(config) as session:
            return await resync_investors(session, key, addresses)

    tx_hash, messages = asyncio.run(go())
    say(f"pushed {len(addresses)} record(s) again (tx {tx_hash})")
    for chain, message_id in messages:
        say(f"  update for chain {chain}: message {message_id}")


@app.command()
def show(
    wallet: WalletArg,
    as_json: JsonOption = False,
    config_path: ConfigOption = None,
) -> None:
    """The home record and each mirror's copy (version, flags, whether it is behind)."""
    config = get_config(config_path)
    address = parse_address(wallet, "wallet")

    async def go() -> InvestorView:
        async with Session(config) as session:
            return await show_investor(session, address)

    view = asyncio.run(go())
    if as_json:
        emit(_as_json(view))
        return
    say(f"investor {view.wallet}: {record_status(view.record, view.home_time)}")
    say(f"  home ({view.home_chain}): {_record_line(view.record)}")
    say(f"  expires at {format_time(view.record.expires_at)}", style="dim")
    for copy in view.mirrors:
        if copy.state == "in sync":
            say(f"  mirror on {copy.chain}: in sync (version {copy.record.version})")
        else:
            say(
                f"  mirror on {copy.chain}: [yellow]{copy.state}[/yellow] "
                f"(version {copy.record.version}, flags {_flags(copy.record)})"
            )


_record_json = record_json  # the API's object (relayer/console/objects.py)


_as_json = investor_json
