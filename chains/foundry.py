"""Foundry's anvil and forge, found the same way on every platform.

``package.json`` pins Foundry's platform-neutral npm packages ``@foundry-rs/anvil`` and
``@foundry-rs/forge``; npm installs, as an optional dependency, the one build that fits
this machine (``@foundry-rs/<tool>-<os>-<arch>``: linux, darwin or win32; amd64 or
arm64). :func:`find_tool` returns that build's binary itself, not the packages' Node
wrapper, so a devnet's recorded pid is the node's and a signal reaches it.
``python -m chains.foundry forge`` prints the path for shell scripts and the Makefile.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path

TOOLS = ("anvil", "forge")
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "arm64": "arm64", "aarch64": "arm64"}


def platform_package(tool: str, system: str | None = None, machine: str | None = None) -> str:
    """The npm package holding ``tool``'s build for a platform (this machine's by default)."""
    system = system or sys.platform
    machine = (machine or platform.machine()).lower()
    arch = _ARCHES.get(machine, machine)
    return f"@foundry-rs/{tool}-{system}-{arch}"


def _binary_name(tool: str) -> str:
    return f"{tool}.exe" if sys.platform == "win32" else tool


def _roots() -> list[Path]:
    """The working directory, its parents, and the project this module belongs to."""
    return [Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parent.parent]


def find_tool(tool: str) -> Path | None:
    """The binary of ``tool`` (anvil or forge), or None when it is not installed.

    Looks at ``$STBRIDGE_ANVIL`` / ``$STBRIDGE_FORGE`` first (an explicit choice, used
    as given), then at the platform package under ``node_modules`` of the working
    directory, its parents and this project, then at ``PATH`` (a foundryup install).
    """
    if tool not in TOOLS:
        raise ValueError(f"unknown Foundry tool {tool!r}: use one of {', '.join(TOOLS)}")
    override = os.environ.get(f"STBRIDGE_{tool.upper()}")
    if override:
        return Path(override) if Path(override).is_file() else None
    relative = Path("node_modules", platform_package(tool), "bin", _binary_name(tool))
    for root in _roots():
        candidate = root / relative
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(tool)
    return Path(found) if found else None


def main(argv: list[str] | None = None) -> int:
    """``python -m chains.foundry TOOL``: print the tool's path, or one line and exit 1."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in TOOLS:
        print(f"usage: python -m chains.foundry {{{','.join(TOOLS)}}}", file=sys.stderr)
        return 2
    found = find_tool(args[0])
    if found is None:
        variable = f"STBRIDGE_{args[0].upper()}"
        if os.environ.get(variable):
            print(f"${variable} names no file: {os.environ[variable]}", file=sys.stderr)
        else:
            print(
                f"{args[0]} is not installed: run scripts/bootstrap (npm ci installs "
                f"{platform_package(args[0])})",
                file=sys.stderr,
            )
        return 1
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
