"""What every command shares: the config option, consoles, and one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from relayer.config import Config, load_config

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML config file (default: configs/devnet.toml).",
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
