"""Fixtures for every test: an isolated state directory and devnet configs on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import devnet_raw, write_config
from tests.pg import INSTALL_HINT, PostgresServer, find_bindir, running_server


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (tests/pg.py); skips without PostgreSQL."""
    if find_bindir() is None:
        pytest.skip(f"PostgreSQL is not installed (no initdb): {INSTALL_HINT}")
    with running_server() as server:
        yield server
