"""`python -m chains.pyevm` as the devnet runs it, and the in-process start/stop API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from chains.processes import free_port
from chains.pyevm import EmbeddedNode, NodeConfig, PortInUse, ThreadedNode
from chains.pyevm.__main__ import main
from tests.fixtures.pyevm.support import ETHER, account, rpc

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def start_node(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "chains.pyevm", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.fixture
def listener() -> Iterator[int]:
    """A port some other process listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_cli_prints_ready_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    funded = account(0).address
    fund_file = tmp_path / "accounts.json"
    fund_file.write_text(json.dumps([{"address": account(1).address, "balance": "0x10"}]))
    proc = start_node(
        "--chain-id",
        "65002",
        "--port",
        str(port),
        "--block-time",
        "0",
        "--fund",
        f"{funded}={3 * ETHER}",
        "--fund-file",
        str(fund_file),
        "--fund",
        f"{funded}=1",
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == f"pyevm ready chain_id=65002 url=http://127.0.0.1:{port}"
        url = f"http://127.0.0.1:{port}"
        assert rpc(url, "eth_chainId")["result"] == hex(65002)
        assert rpc(url, "eth_getBalance", [funded, "latest"])["result"] == hex(3 * ETHER + 1)
        assert rpc(url, "eth_getBalance", [account(1).address, "latest"])["result"] == "0x10"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert "Traceback" not in stderr


def test_cli_port_in_use_is_one_line_naming_the_port(listener: int) -> None:
    proc = start_node("--chain-id", "65001", "--port", str(listener))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert out == ""
    assert err.strip().splitlines() == [
        f"pyevm: port {listener} (127.0.0.1:{listener}) is already in use: "
        "stop the process that holds it, or pass another --port"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fund", "0x1234=5"], "--fund: '0x1234' is not a 0x-prefixed 20-byte hex address"),
        (["--fund", "nonsense"], "--fund 'nonsense': expected 0xADDRESS=WEI"),
        (["--fund-file", "/nonexistent/accounts.json"], "does not exist"),
        (["--block-time", "-1"], "block time -1.0 is invalid"),
        (["--gas-limit", "10"], "gas limit 10 is out of range"),
        (["--port", "70000"], "port 70000 is out of range"),
    ],
)
def test_cli_bad_options_are_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--chain-id", "65001", "--port", "0", *args]) == 2
    out, err = capsys.readouterr()
    (line,) = err.strip().splitlines()
    assert out == "" and line.startswith("pyevm: ") and message in line


def test_cli_usage_mistakes_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--chain-id", "65001", "--block-time", "soon"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "pyevm: argument --block-time: invalid float value: 'soon' (see --help)\n"
    )


async def test_embedded_node_starts_on_a_free_port_and_stops_idempotently() -> None:
    config = NodeConfig(chain_id=65003, port=0)
    node = EmbeddedNode(config)
    await node.start()
    try:
        assert node.port and node.port > 0
        # the blocking call runs in a thread so the node's loop (this one) can answer it
        answer = await asyncio.to_thread(rpc, node.url, "eth_chainId")
        assert answer["result"] == hex(65003)
    finally:
        await node.stop()
        await node.stop()
    with pytest.raises(urllib.error.URLError, match="Connection refused"):
        rpc(node.url, "eth_chainId")


def test_threaded_node_reports_a_busy_port(listener: int) -> None:
    with pytest.raises(PortInUse, match=f"port {listener}"):
        ThreadedNode(NodeConfig(chain_id=65001, port=listener))
