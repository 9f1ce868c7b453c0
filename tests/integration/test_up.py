"""`stbridge up`, the README's run command: the whole system, a transfer, a clean Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from chains.anvil import find_anvil
from chains.processes import process_alive
from tests.helpers import devnet_raw, write_config

pytestmark = pytest.mark.integration


def _wait_for(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(
        f"{text!r} not seen in {timeout}s:\n{path.read_text(errors='replace')[-3000:]}"
    )


@pytest.mark.parametrize("backend", [pytest.param("anvil", marks=pytest.mark.anvil), "pyevm"])
def test_up_then_send_from_a_second_terminal(backend: str, tmp_path: Path) -> None:
    if backend == "anvil" and find_anvil() is None:
        pytest.skip("anvil is not installed here (npm ci installs it); anvil tests skipped")
    raw = devnet_raw(block_time=0.5)
    raw["relayer"]["metrics_port"] = 0
    config = write_config(tmp_path / "devnet.toml", raw)
    home = tmp_path / "home"
    env = {**os.environ, "STBRIDGE_HOME": str(home), "COLUMNS": "200"}
    out = tmp_path / "up.out"
    with out.open("wb") as sink:
        up = subprocess.Popen(
            [sys.executable, "-m", "relayer", "up", "-c", str(config), "--backend", backend],
            stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_for(out, "relayer running", 180)
        state = json.loads((home / "devnet.json").read_text())
        pids = [c["pid"] for c in state["chains"]]
        recipient = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"
        sent = subprocess.run(
            [sys.executable, "-m", "relayer", "bridge", "send", "--from", "a", "--to", "b",
             "--token", "ACME", "--amount", "10", "--recipient", recipient, "-c", str(config)],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        message_id = sent.stdout.split()[0]
        assert message_id.startswith("0x")
        assert len(message_id) == 66
        deadline = time.monotonic() + 90
        status = ""
        while time.monotonic() < deadline:
            status = subprocess.run(
                [sys.executable, "-m", "relayer", "bridge", "status", message_id,
                 "-c", str(config)],
                capture_output=True, text=True, env=env, timeout=60, check=False,
            ).stdout  # fmt: skip
            if ": delivered" in status:
                break
            time.sleep(1)
        assert ": delivered" in status, status
        # the console whose URL `up` printed shows the delivery
        console_url = re.search(r"console: (http://\S+/console/)", out.read_text())
        assert console_url, out.read_text()
        api = console_url.group(1).removesuffix("/console/")
        with urllib.request.urlopen(f"{api}/api/lanes") as response:  # noqa: S310 - ours
            lanes = {lane["lane"]: lane for lane in json.loads(response.read())["data"]}
        assert set(lanes) == {"a->b", "b->a"}
        assert lanes["a->b"]["counts"]["delivered"] >= 1
        balances = subprocess.run(
            [sys.executable, "-m", "relayer", "balances", "--wallet", recipient, "-c", str(config),
             "--json"],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        ).stdout  # fmt: skip
        [acme] = [t for t in json.loads(balances)["data"]["tokens"] if t["symbol"] == "ACME"]
        assert int(acme["by_chain"]["b"]) == 10 * 10 ** acme["decimals"], balances
        up.send_signal(signal.SIGINT)
        try:
            code = up.wait(60)
        except subprocess.TimeoutExpired:
            up.send_signal(signal.SIGUSR1)  # stacks of every thread, into up.out
            time.sleep(2)
            raise AssertionError("stbridge up did not stop:\n" + out.read_text()[-6000:]) from None
        assert code == 0, out.read_text()
        text = out.read_text()
        assert "relayer stopped" in text
        assert "stopped 2 chain(s)" in text
        assert not any(process_alive(pid) for pid in pids)
        assert not (home / "devnet.json").exists()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait(10)
        from chains import devnet

        devnet.down(home)
