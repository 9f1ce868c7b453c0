"""One output contract for every command that prints data: the ``--json`` envelope.

With ``--json`` a command prints exactly one JSON document on stdout, and whatever
is meant for people goes to stderr::

    {"ok": true, "command": "bridge status", "data": {...}}

A command that fails prints, still on stdout and still one document::

    {"ok": false, "command": "bridge send",
     "error": {"type": "InputError", "message": "...", "exit_code": 2}}

A check that ran and found problems (``audit``, ``health-check``, ``captable``,
``devnet status``) carries both its ``data`` and an ``error`` of type ``CheckFailed``.
``ok`` is true exactly when the exit code is 0. Amounts are decimal strings of base
units, times are Unix seconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from relayer.cli.common import console

JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print one JSON envelope on stdout, ok or not (README: Scripting).",
    ),
]

CHECK_FAILED = "CheckFailed"


def envelope(command: str, data: Any = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """The document every ``--json`` output is: ``ok``, ``command``, then data and/or error."""
    doc: dict[str, Any] = {"ok": error is None, "command": command}
    if data is not None or error is None:
        doc["data"] = data
    if error is not None:
        doc["error"] = error
    return doc


def error_body(kind: str, message: str, exit_code: int) -> dict[str, Any]:
    return {"type": kind, "message": message, "exit_code": exit_code}


def current_command() -> str:
    """The running command's path without the program name, e.g. ``messages list``."""
    try:  # typer vendors click from 0.2x on (no `click` package); older typers use click
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover - depends on the installed typer
        from click import get_current_context  # type: ignore[no-redef]

    names: list[str] = []
    ctx = get_current_context(silent=True)
    while ctx is not None and ctx.parent is not None:  # the root is the program's name
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


def write(doc: dict[str, Any]) -> None:
    """One JSON document on the command console's stdout (never wrapped or coloured)."""
    out = console.file
    out.write(json.dumps(doc, indent=2) + "\n")
    out.flush()


def emit(data: Any) -> None:
    """Success: ``{"ok": true, "command": ..., "data": data}``."""
    write(envelope(current_command(), data))


def emit_failed_check(data: Any, message: str, exit_code: int = 1) -> typer.Exit:
    """A check that found problems: print its data with an error; returns the Exit to raise."""
    write(envelope(current_command(), data, error_body(CHECK_FAILED, message, exit_code)))
    return typer.Exit(exit_code)


def wants_json(argv: Sequence[str]) -> bool:
    """Whether ``--json`` is among the options (before a ``--``)."""
    args = list(argv)
    if "--" in args:
        args = args[: args.index("--")]
    return "--json" in args


def command_name(root: Any, argv: Sequence[str]) -> str:
    """The subcommand path ``argv`` names in the click group ``root`` (as far as it exists)."""
    words: list[str] = []
    node = root
    for token in argv:
        commands = getattr(node, "commands", None)
        if commands is None or token not in commands:
            break
        words.append(token)
        node = commands[token]
    return " ".join(words)


def write_error(command: str, kind: str, message: str, exit_code: int) -> None:
    """A failure as the envelope, for main() when ``--json`` was asked for."""
    write(envelope(command, error=error_body(kind, message, exit_code)))
