"""Helpers shared by the tests: configs on free ports, TOML writing."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from chains.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
DEVNET_TOML = ROOT / "configs" / "devnet.toml"


def devnet_raw(**chain_overrides: Any) -> dict[str, Any]:
    """The devnet config as a dict, with both chains moved to free loopback ports."""
    raw = tomllib.loads(DEVNET_TOML.read_text())
    for chain in raw["chains"]:
        chain["rpc_url"] = f"http://127.0.0.1:{free_port()}"
        chain.update(chain_overrides)
    return raw


def to_toml(value: dict[str, Any]) -> str:
    """A small TOML writer for the shapes our configs have (tables, arrays of tables)."""
    lines: list[str] = []

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        raise TypeError(type(v))

    def is_tables(v: Any) -> bool:
        return isinstance(v, list) and bool(v) and isinstance(v[0], dict)

    def table(prefix: str, d: dict[str, Any]) -> None:
        for k, v in d.items():
            if not isinstance(v, dict) and not is_tables(v):
                lines.append(f"{k} = {scalar(v)}")
        for k, v in d.items():
            name = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict):
                lines.append(f"\n[{name}]")
                table(name, v)
            elif is_tables(v):
                for item in v:
                    lines.append(f"\n[[{name}]]")
                    table(name, item)

    table("", value)
    return "\n".join(lines) + "\n"


def write_config(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(to_toml(raw))
    return path
