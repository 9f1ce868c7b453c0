"""What every command shares: the config option, consoles, and one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from relayer.config import Config, PrivateKey, load_config

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


def parse_address(value: str, what: str = "address") -> str:
    """A checksummed address, or InputError saying what is wrong with it."""
    from eth_utils.address import is_address, to_checksum_address

    from relayer.errors import InputError

    text = value.strip()
    if not text.startswith("0x") or len(text) != 42:
        raise InputError(f"{what} {value!r} is not an address (0x followed by 40 hex digits)")
    if not is_address(text):
        raise InputError(f"{what} {value!r} has a bad checksum or characters; check it")
    return str(to_checksum_address(text))


def parse_amount(value: str, decimals: int, what: str = "amount") -> int:
    """Token units as people write them ("10", "0.5", "1_000") into base units."""
    from decimal import Decimal, InvalidOperation

    from relayer.errors import InputError

    text = value.strip().replace("_", "").replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InputError(f"{what} {value!r} is not a number") from None
    if not amount.is_finite() or amount <= 0:
        raise InputError(f"{what} must be a positive number, got {value!r}")
    scaled = amount.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise InputError(f"{what} {value!r} has more than {decimals} decimal places")
    return int(scaled)


def format_amount(units: int, decimals: int) -> str:
    """Base units as token units, without trailing zeros."""
    from decimal import Decimal

    value = Decimal(units).scaleb(-decimals)
    text = f"{value:,.{decimals}f}" if decimals else f"{value:,}"
    return text.rstrip("0").rstrip(".") if "." in text else text


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
