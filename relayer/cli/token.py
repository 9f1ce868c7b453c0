"""`stbridge token mint|burn|pause|unpause|forced-transfer` and `token rules show|set`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from relayer.cli.common import (
    ConfigOption,
    console,
    format_amount,
    get_config,
    parse_address,
    parse_decimal,
    resolve_key,
)
from relayer.cli.lines import say
from relayer.cli.output import JsonOption, emit
from relayer.config import Config, PrivateKey
from relayer.countries import by_numeric
from relayer.deployment.session import Session
from relayer.errors import InputError
from relayer.inputs import (
    format_expiry,
    parse_countries,
    parse_lockup,
    parse_optional_limit,
    scale_amount,
)
from relayer.issuer import token_admin
from relayer.issuer.token_admin import ChainTx, RuleChanges, RulesView

app = typer.Typer(help="The issuer agent's token commands.", no_args_is_help=True)
rules_app = typer.Typer(help="Show or set the token's compliance rules.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

T = TypeVar("T")

TokenOption = Annotated[str, typer.Option("--token", help="Token symbol or address.")]
AmountOption = Annotated[
    str, typer.Option("--amount", help="Token units (10, 2.5), or 'all' where allowed.")
]
ChainOption = Annotated[
    str | None, typer.Option("--chain", help="One chain only (default: see the command).")
]
AgentKeyOption = Annotated[
    str | None,
    typer.Option(
        "--key-env",
        help="Environment variable holding the agent's key (default on a devnet: issuer_agent).",
    ),
]


def _with_session(config: Config, work: Callable[[Session], Awaitable[T]]) -> T:
    async def go() -> T:
        async with Session(config) as session:
            return await work(session)

    return asyncio.run(go())


def _decimals(config: Config, token: str) -> tuple[str, int]:
    async def find(session: Session) -> tuple[str, int]:
        deployed = session.token(token)
        return deployed.symbol, deployed.decimals

    return _with_session(config, find)


def _written_or_all(text: str) -> Decimal | None:
    """An amount's syntax, checked before anything is read; None for 'all'."""
    return None if text.strip().lower() == "all" else parse_decimal(text)


def _scaled(written: Decimal | None, decimals: int) -> int | None:
    return None if written is None else scale_amount(written, decimals)


def _print_chain_lines(done: list[ChainTx]) -> None:
    for tx in done:
        hashes = f" (tx {', '.join(tx.tx_hashes)})" if tx.tx_hashes else ""
        say(f"{tx.chain}: {'; '.join(tx.what)}{hashes}")


def _agent(config: Config, key_env: str | None) -> PrivateKey:
    return resolve_key(config, key_env, "issuer_agent")


@app.command()
def mint(
    token: TokenOption,
    to: Annotated[str, typer.Option("--to", help="The investor receiving the new tokens.")],
    amount: AmountOption,
    key_env: AgentKeyOption = None,
    config_path: ConfigOption = None,
) -> None:
    """Issue new tokens on the home chain to a verified investor."""
    config = get_config(config_path)
    recipient = parse_address(to, "--to")
    written = parse_decimal(amount)
    key = _agent(config, key_env)
    symbol, decimals = _decimals(config, token)
    units = scale_amount(written, decimals)
    done = _with_session(config, lambda s: token_admin.mint(s, key, token, recipient, units))
    say(f"minted {format_amount(units, decimals)} {symbol} to {recipient}")
    _print_chain_lines([done])


@app.command()
def burn(
    token: TokenOption,
    holder: Annotated[str, typer.Option("--from", help="The holder whose tokens are burned.")],
    amount: AmountOption,
    key_env: AgentKeyOption = None,
    config_path: ConfigOption = None,
) -> None:
    """Destroy a holder's tokens on the home chain ('all' burns the whole balance)."""
    config = get_config(config_path)
    source = parse_address(holder, "--from")
    written = _written_or_all(amount)
    key = _agent(config, key_env)
    symbol, decimals = _decimals(config, token)
    units = _scaled(written, decimals)
    done, burned = _with_session(config, lambda s: token_admin.burn(s, key, token, source, units))
    say(f"burned {format_amount(burned, decimals)} {symbol} of {source}")
    _print_chain_lines([done])


@app.command("forced-transfer")
def forced_transfer(
    token: TokenOption,
    source: Annotated[str, typer.Option("--from", help="The wallet the tokens leave.")],
    to: Annotated[str, typer.Option("--to", help="The wallet that receives them.")],
    amount: AmountOption,
    chain: ChainOption = None,
    key_env: AgentKeyOption = None,
    config_path: ConfigOption = None,
) -> None:
    """Move tokens by enforcement on one chain (default: home), frozen ones included."""
    config = get_config(config_path)
    from_address = parse_address(source, "--from")
    to_address = parse_address(to, "--to")
    written = _written_or_all(amount)
    key = _agent(config, key_env)
    symbol, decimals = _decimals(config, token)
    units = _scaled(written, decimals)
    done, moved = _with_session(
        config,
        lambda s: token_admin.forced_transfer(
            s, key, token, chain=chain, source=from_address, to=to_address, amount=units
        ),
    )
    say(f"moved {format_amount(moved, decimals)} {symbol} from {from_address} to {to_address}")
    _print_chain_lines([done])


def _pause_command(paused: bool) -> None:
    def command(
        token: TokenOption,
        chain: ChainOption = None,
        key_env: AgentKeyOption = None,
        config_path: ConfigOption = None,
    ) -> None:
        config = get_config(config_path)
        key = _agent(config, key_env)
        done = _with_session(config, lambda s: token_admin.set_paused(s, key, token, paused, chain))
        _print_chain_lines(done)

    command.__doc__ = (
        "Pause every movement but the agent's enforcement, on every chain (or --chain)."
        if paused
        else "Lift the pause on every chain (or --chain)."
    )
    app.command("pause" if paused else "unpause")(command)


_pause_command(True)
_pause_command(False)


@rules_app.command("show")
def rules_show(
    token: TokenOption,
    as_json: JsonOption = False,
    config_path: ConfigOption = None,
) -> None:
    """The rules on every chain; a chain whose rules differ from the home chain's is flagged."""
    config = get_config(config_path)
    symbol, decimals = _decimals(config, token)
    views = _with_session(config, lambda s: token_admin.read_rules(s, token))
    home = next(v for v in views if v.chain == config.home)
    if as_json:
        emit([_view_json(v, v.rules() != home.rules()) for v in views])
        return
    table = Table(title=f"{symbol} rules")
    table.add_column("rule")
    for v in views:
        differs = " [red](differs)[/red]" if v.rules() != home.rules() else ""
        table.add_column(f"{v.chain}{differs}", justify="right")
    rows: list[tuple[str, Callable[[RulesView], str]]] = [
        ("paused", lambda v: "yes" if v.paused else "no"),
        ("allow list", lambda v: "on" if v.allow_list_enabled else "off"),
        ("allowed countries", lambda v: _countries(v.allowed)),
        ("denied countries", lambda v: _countries(v.denied)),
        ("max holders", lambda v: str(v.max_holders) if v.max_holders else "none"),
        (
            "max balance",
            lambda v: format_amount(v.max_balance, decimals) if v.max_balance else "none",
        ),
        ("lock-up", lambda v: format_expiry(v.lockup_until)),
        ("holders now", lambda v: str(v.holder_count)),
    ]
    for label, cell in rows:
        table.add_row(label, *[cell(v) for v in views])
    console.print(table)
    for v in views:
        if v.rules() != home.rules():
            say(
                f"[red]chain {v.chain}'s rules differ from the home chain's[/red]: "
                f"`stbridge token rules set` with the wanted values brings every chain in line"
            )


def _countries(codes: list[int]) -> str:
    return ",".join((c.alpha2 if (c := by_numeric(code)) else str(code)) for code in codes) or "-"


def _view_json(v: RulesView, differs: bool) -> dict[str, object]:
    return {
        "chain": v.chain,
        "paused": v.paused,
        "allow_list_enabled": v.allow_list_enabled,
        "allowed": v.allowed,
        "denied": v.denied,
        "max_holders": v.max_holders,
        "max_balance": str(v.max_balance),
        "lockup_until": v.lockup_until,
        "holder_count": v.holder_count,
        "differs_from_home": differs,
    }


@rules_app.command("set")
def rules_set(
    token: TokenOption,
    allow: Annotated[
        str | None, typer.Option(help="Add countries to the allow list (DE,FR or 276,250).")
    ] = None,
    disallow: Annotated[str | None, typer.Option(help="Take countries off the allow list.")] = None,
    deny: Annotated[str | None, typer.Option(help="Bar countries (deny list).")] = None,
    undeny: Annotated[str | None, typer.Option(help="Take countries off the deny list.")] = None,
    allow_list: Annotated[
        str | None, typer.Option("--allow-list", help="on: only allowed countries receive; off.")
    ] = None,
    max_holders: Annotated[
        str | None, typer.Option("--max-holders", help="A whole number, or 'none'.")
    ] = None,
    max_balance: Annotated[
        str | None, typer.Option("--max-balance", help="Token units per wallet, or 'none'.")
    ] = None,
    lockup: Annotated[
        str | None,
        typer.Option("--lockup", help="Investors may not send before: 2027-12-31, 90d, or 'none'."),
    ] = None,
    key_env: AgentKeyOption = None,
    config_path: ConfigOption = None,
) -> None:
    """Set rules on every chain; only what differs is sent, one line per chain."""
    config = get_config(config_path)
    balance_cap = _written_or_none(max_balance) if max_balance else None
    _symbol, decimals = _decimals(config, token)
    changes = RuleChanges(
        allow=parse_countries(allow) if allow else [],
        disallow=parse_countries(disallow) if disallow else [],
        deny=parse_countries(deny) if deny else [],
        undeny=parse_countries(undeny) if undeny else [],
        allow_list=_on_off(allow_list) if allow_list is not None else None,
        max_holders=(parse_optional_limit(max_holders, "maximum holders") if max_holders else None),
        max_balance=_max_balance(balance_cap, decimals) if max_balance else None,
        lockup_until=parse_lockup(lockup, int(time.time())) if lockup else None,
    )
    key = _agent(config, key_env)
    done = _with_session(
        config,
        lambda s: token_admin.set_rules(
            s, key, token, changes, lambda units: format_amount(units, decimals)
        ),
    )
    _print_chain_lines(done)


def _on_off(text: str) -> bool:
    word = text.strip().lower()
    if word in ("on", "true", "yes"):
        return True
    if word in ("off", "false", "no"):
        return False
    raise InputError(f"--allow-list {text!r}: say on or off")


def _written_or_none(text: str) -> Decimal | None:
    """A maximum balance's syntax; None for no limit."""
    if text.strip().lower() in ("none", "0", "off"):
        return None
    return parse_decimal(text, "maximum balance")


def _max_balance(written: Decimal | None, decimals: int) -> int:
    return 0 if written is None else scale_amount(written, decimals, "maximum balance")
