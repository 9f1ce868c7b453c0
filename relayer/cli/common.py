"""What every command shares: the config option, consoles, and one-line errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import typer
from rich.console import Console

from relayer.config import Config, PrivateKey, load_config
from relayer.deployment.session import Session

# one parser per kind of value, shared with the actions (relayer/inputs.py)
from relayer.inputs import format_amount as format_amount
from relayer.inputs import parse_address as parse_address
from relayer.inputs import parse_amount as parse_amount
from relayer.inputs import parse_decimal as parse_decimal

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="STBRIDGE_CONFIG",
        help="TOML config file (default: $STBRIDGE_CONFIG, else configs/devnet.toml).",
        show_default=False,
    ),
]


LogFormatOption = Annotated[
    Literal["auto", "console", "json"],
    typer.Option(
        "--log-format", help="auto (readable on a terminal, JSON otherwise), console or json."
    ),
]


def get_config(path: Path | None) -> Config:
    """Load and validate the config; errors surface as ConfigError (one line)."""
    return load_config(path)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {message}")


def resolve_key(config: Config, key_env: str | None, default_role: str) -> PrivateKey:
    """The key to sign with: from $KEY_ENV, or on a devnet the config's ``default_role``."""
    import os

    from relayer.config import parse_key
    from relayer.errors import InputError

    if key_env:
        if key_env not in os.environ:
            raise InputError(f"environment variable {key_env} is not set (export {key_env}=0x…)")
        try:
            return parse_key(f"env:{key_env}", os.environ)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    if not config.accounts.devnet_only:
        raise InputError("pass --key-env VARIABLE naming the environment variable with your key")
    for role, key in config.accounts.roles():
        if role == default_role:
            return key
    raise InputError(f"the config has no {default_role} key; pass --key-env VARIABLE")


T = TypeVar("T")


def run_in_session(config: Config, work: Callable[[Session], Awaitable[T]]) -> T:
    """Run ``work`` on a session of the config's deployment, from a command."""

    async def go() -> T:
        async with Session(config) as session:
            return await work(session)

    return asyncio.run(go())
