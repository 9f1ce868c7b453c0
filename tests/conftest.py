"""Fixtures for every test: an isolated state directory and devnet configs on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import devnet_raw, write_config


@pytest.fixture
def stbridge_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private .stbridge directory, so tests never touch the user's devnet."""
    home = tmp_path / "stbridge-home"
    monkeypatch.setenv("STBRIDGE_HOME", str(home))
    yield home
    from chains import devnet

    devnet.down(home)  # never leave a chain behind, whatever the test did


@pytest.fixture
def devnet_config_file(tmp_path: Path) -> Path:
    """configs/devnet.toml with both chains on free ports, written to a temp file."""
    return write_config(tmp_path / "devnet.toml", devnet_raw())
