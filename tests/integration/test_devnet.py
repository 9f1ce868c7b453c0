"""`stbridge devnet up|status|down` on real chains, and its one-line failures."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chains.anvil import find_anvil
from chains.processes import process_alive, rpc_call
from relayer.config import load_config
from tests.helpers import devnet_raw, write_config

pytestmark = pytest.mark.integration

BACKENDS = [
    pytest.param("anvil", marks=pytest.mark.anvil),
    "pyevm",
]


def stbridge(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STBRIDGE_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "relayer", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def skip_without_anvil(backend: str) -> None:
    if backend == "anvil" and find_anvil() is None:
        pytest.skip("anvil is not installed here (npm ci installs it); anvil tests skipped")


@pytest.mark.parametrize("backend", BACKENDS)
def test_up_status_down(backend: str, stbridge_home: Path, devnet_config_file: Path) -> None:
    skip_without_anvil(backend)
    config = load_config(devnet_config_file)
    up = stbridge(
        "devnet",
        "up",
        "--backend",
        backend,
        "--detach",
        "-c",
        str(devnet_config_file),
        home=stbridge_home,
    )
    assert up.returncode == 0, up.stderr
    assert "65001" in up.stdout and "65002" in up.stdout
    assert config.accounts.relayer.address in up.stdout
    assert (stbridge_home / "devnet.json").exists()

    for chain in config.chains:
        assert int(rpc_call(chain.rpc_url, "eth_chainId"), 16) == chain.chain_id
        for _role, key in config.accounts.roles():
            assert int(rpc_call(chain.rpc_url, "eth_getBalance", [key.address, "latest"]), 16) > 0

    status = stbridge("devnet", "status", home=stbridge_home)
    assert status.returncode == 0, status.stderr
    assert status.stdout.count(" up ") == 2

    from chains import devnet

    state = devnet.read_state(stbridge_home)
    assert state is not None and state.backend == backend
    pids = [c.pid for c in state.chains]
    down = stbridge("devnet", "down", home=stbridge_home)
    assert down.returncode == 0, down.stderr
    assert not any(process_alive(pid) for pid in pids)
    assert not (stbridge_home / "devnet.json").exists()
    after = stbridge("devnet", "status", home=stbridge_home)
    assert after.returncode == 1 and "not running" in after.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_busy_port_is_one_line_and_starts_nothing(
    backend: str, stbridge_home: Path, tmp_path: Path
) -> None:
    skip_without_anvil(backend)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        raw = devnet_raw()
        raw["chains"][1]["rpc_url"] = f"http://127.0.0.1:{port}"
        path = write_config(tmp_path / "busy.toml", raw)
        result = stbridge(
            "devnet", "up", "--backend", backend, "--detach", "-c", str(path), home=stbridge_home
        )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {port} for chain b is in use" in lines[0]
    assert not (stbridge_home / "devnet.json").exists()


def _fake_node(tmp_path: Path, body: str) -> Path:
    """An executable called 'anvil' that records its pid and then does ``body``."""
    script = tmp_path / "bin" / "anvil"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\necho $$ >> {tmp_path}/pids\n{body}\n")
    script.chmod(0o755)
    return script


def _recorded_pids(tmp_path: Path) -> list[int]:
    path = tmp_path / "pids"
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def test_chain_that_never_answers_times_out_and_is_stopped(
    stbridge_home: Path, devnet_config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STBRIDGE_ANVIL", str(_fake_node(tmp_path, "exec sleep 600")))
    result = stbridge(
        "devnet",
        "up",
        "--backend",
        "anvil",
        "--detach",
        "--timeout",
        "2",
        "-c",
        str(devnet_config_file),
        home=stbridge_home,
    )
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "did not answer" in result.stderr and "within 2s" in result.stderr
    pids = _recorded_pids(tmp_path)
    assert pids, "the fake node never started"
    deadline = time.monotonic() + 60
    while any(process_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(process_alive(p) for p in pids), "an orphan chain process was left"


def test_chain_that_dies_at_start_reports_its_last_words(
    stbridge_home: Path, devnet_config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _fake_node(tmp_path, "echo 'Error: cannot bind: permission denied' >&2; exit 3")
    monkeypatch.setenv("STBRIDGE_ANVIL", str(fake))
    result = stbridge(
        "devnet",
        "up",
        "--backend",
        "anvil",
        "--detach",
        "-c",
        str(devnet_config_file),
        home=stbridge_home,
    )
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "exited at start: Error: cannot bind: permission denied" in result.stderr


def test_missing_anvil_is_one_line(
    stbridge_home: Path, devnet_config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STBRIDGE_ANVIL", str(tmp_path / "no-such-anvil"))
    result = stbridge(
        "devnet",
        "up",
        "--backend",
        "anvil",
        "--detach",
        "-c",
        str(devnet_config_file),
        home=stbridge_home,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "error: anvil is not installed: run `npm ci` in the project root, or use --backend pyevm"
    )


def test_unknown_backend(stbridge_home: Path, devnet_config_file: Path) -> None:
    result = stbridge(
        "devnet", "up", "--backend", "geth", "-c", str(devnet_config_file), home=stbridge_home
    )
    assert result.returncode != 0
    assert "unknown backend 'geth': use anvil or pyevm" in result.stderr


def test_default_backend_is_announced(
    stbridge_home: Path, devnet_config_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STBRIDGE_ANVIL", str(tmp_path / "no-such-anvil"))
    result = stbridge("devnet", "up", "--detach", "-c", str(devnet_config_file), home=stbridge_home)
    try:
        assert result.returncode == 0, result.stderr
        assert "backend: pyevm (anvil is not installed" in result.stdout
    finally:
        stbridge("devnet", "down", home=stbridge_home)


def test_bad_config_is_one_line(stbridge_home: Path, tmp_path: Path) -> None:
    raw = devnet_raw()
    raw["chains"][1]["chain_id"] = 65001
    path = write_config(tmp_path / "dup.toml", raw)
    result = stbridge("devnet", "up", "-c", str(path), home=stbridge_home)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: chains[1].chain_id: duplicate chain id 65001 (also chains[0])"
    ]
