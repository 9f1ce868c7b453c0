"""Printing a line that must stay whole (addresses, hashes, ids), whatever the width."""

from __future__ import annotations

from relayer.cli.common import console


def say(text: str, style: str | None = None) -> None:
    """Print ``text`` without wrapping it, so hashes and addresses copy whole."""
    console.print(text, style=style, soft_wrap=True)
