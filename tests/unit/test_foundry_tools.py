"""Foundry's anvil and forge install and are found the same way on every platform."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from chains import foundry

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = [
    ("linux", "x86_64", "linux-amd64"),
    ("linux", "aarch64", "linux-arm64"),
    ("darwin", "arm64", "darwin-arm64"),
    ("darwin", "x86_64", "darwin-amd64"),
    ("win32", "AMD64", "win32-amd64"),
]


def test_package_json_pins_the_platform_neutral_packages() -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]
    foundry_pins = {name: v for name, v in pinned.items() if name.startswith("@foundry-rs/")}
    assert foundry_pins == {"@foundry-rs/anvil": "1.7.1", "@foundry-rs/forge": "1.7.1"}


@pytest.mark.parametrize(("system", "machine", "suffix"), PLATFORMS)
def test_lock_holds_the_build_the_resolver_looks_for(
    system: str, machine: str, suffix: str
) -> None:
    """npm ci on any of these platforms installs the package find_tool looks in."""
    packages = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for tool in foundry.TOOLS:
        name = foundry.platform_package(tool, system, machine)
        assert name == f"@foundry-rs/{tool}-{suffix}"
        entry = packages.get(f"node_modules/{name}")
        assert entry is not None, f"package-lock.json lacks {name}"
        assert entry.get("optional") is True and entry["version"] == "1.7.1"


def _fake_build(root: Path, tool: str) -> Path:
    binary = root / "node_modules" / foundry.platform_package(tool) / "bin" / tool
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


@pytest.mark.parametrize("tool", foundry.TOOLS)
def test_finds_this_platforms_build_from_a_subdirectory(
    tool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(f"STBRIDGE_{tool.upper()}", raising=False)
    binary = _fake_build(tmp_path, tool)
    (tmp_path / "contracts").mkdir()
    monkeypatch.chdir(tmp_path / "contracts")
    assert foundry.find_tool(tool) == binary


def test_override_is_used_as_given_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "my-forge"
    own.write_text("")
    monkeypatch.setenv("STBRIDGE_FORGE", str(own))
    assert foundry.find_tool("forge") == own
    monkeypatch.setenv("STBRIDGE_FORGE", str(tmp_path / "missing"))
    assert foundry.find_tool("forge") is None
    assert foundry.main(["forge"]) == 1


def test_unknown_tool_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown Foundry tool 'cast'"):
        foundry.find_tool("cast")
    assert foundry.main(["cast"]) == 2


@pytest.mark.skipif(foundry.find_tool("forge") is None, reason="npm ci has not run here")
def test_installed_build_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert foundry.main(["forge"]) == 0
    printed = Path(capsys.readouterr().out.strip())
    assert printed.is_file() and os.access(printed, os.X_OK)
