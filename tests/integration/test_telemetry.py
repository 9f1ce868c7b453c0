"""Metrics, /healthz, /readyz and `stbridge health-check` against a running system."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chains.processes import free_port
from tests.helpers import write_config
from tests.integration.system import Chains, System, running_relayer, send_many, wait_delivered
from tests.waiting import eventually

pytestmark = pytest.mark.integration

EXPECTED = [
    "stbridge_messages_dispatched_total",
    "stbridge_messages_delivered_total",
    "stbridge_backlog_messages",
    "stbridge_backlog_oldest_age_seconds",
    "stbridge_checkpoint_index",
    "stbridge_cursor_block",
    "stbridge_rpc_requests_total",
    "stbridge_transactions_submitted_total",
    "stbridge_transactions_confirmed_total",
    "stbridge_relayer_balance_eth",
    "stbridge_delivery_latency_seconds_bucket",
]


def _gauge(text: str, name: str, **labels: str) -> float | None:
    """The value of one labelled sample in a /metrics page, or None when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return float(sample.value)
    return None


async def test_metrics_health_and_readiness(system: System, tmp_path: Path) -> None:
    chains = Chains(system)
    investors = system.config.accounts.investors
    balance = "stbridge_relayer_balance_eth"
    try:
        async with (
            running_relayer(system, tmp_path / "r.db") as relay,
            aiohttp.ClientSession() as http,
        ):
            assert relay.telemetry is not None
            base = f"http://127.0.0.1:{relay.telemetry.port}"

            async def metrics() -> str:
                async with http.get(f"{base}/metrics") as response:
                    return await response.text()

            async def balance_on_b() -> float | None:
                return _gauge(await metrics(), balance, chain="b")

            before = await eventually(balance_on_b, "the first round of the gauges")
            ids = await send_many(chains, "a", "b", [(investors[0], investors[1].address, 5)])
            await wait_delivered(relay.store, ids, 120)
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200

            async def ready() -> bool:
                async with http.get(f"{base}/readyz") as response:
                    return response.status == 200

            await eventually(ready, "/readyz answering 200")

            async def paid_for_the_delivery() -> bool:
                after = await balance_on_b()
                return after is not None and after < before

            await eventually(paid_for_the_delivery, "a round of the gauges after the delivery")
            text = await metrics()
            for name in EXPECTED:
                assert name in text, name
            assert 'stbridge_messages_delivered_total{destination="b",origin="a"}' in text
            assert "0x" + "ab" * 32 not in text
    finally:
        await chains.close()


def test_health_check_names_the_problem(system: System, tmp_path: Path) -> None:
    env = {**os.environ, "STBRIDGE_HOME": str(system.home)}
    good = system.config_file(tmp_path / "good.toml", tmp_path / "r.db")
    ok = subprocess.run(
        [sys.executable, "-m", "relayer", "health-check", "-c", str(good)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "healthy" in ok.stdout
    raw = {**system.raw, "relayer": {**system.raw["relayer"], "min_relayer_balance_wei": 10**30}}
    poor = write_config(tmp_path / "poor.toml", raw)
    bad = subprocess.run(
        [sys.executable, "-m", "relayer", "health-check", "-c", str(poor)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 1
    relayer = system.config.accounts.relayer.address
    assert f"relayer key {relayer} on chain a holds" in bad.stderr
    assert "fund it" in bad.stderr


def test_health_check_asks_every_endpoint(system: System, tmp_path: Path) -> None:
    """A backup endpoint that is down is a warning (the relayer works, without failover);
    one that serves another chain is a problem: failing over to it would be wrong."""
    env = {**os.environ, "STBRIDGE_HOME": str(system.home)}
    a, b = system.raw["chains"][0], system.raw["chains"][1]
    nobody = f"http://127.0.0.1:{free_port()}"

    def run(backups: list[str]) -> subprocess.CompletedProcess[str]:
        chains = [{**a, "rpc_urls": backups}, b]
        path = write_config(tmp_path / f"c{len(backups)}.toml", {**system.raw, "chains": chains})
        return subprocess.run(
            [sys.executable, "-m", "relayer", "health-check", "-c", str(path)],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip

    down = run([nobody])
    assert down.returncode == 0, down.stderr
    assert "healthy" in down.stdout
    assert f"chain a (endpoint 2 of 2, {nobody}) cannot be reached" in down.stderr
    wrong = run([nobody, b["rpc_url"]])
    assert wrong.returncode == 1
    assert f"chain a (endpoint 3 of 3, {b['rpc_url']}) answers chain id {b['chain_id']}" in (
        wrong.stderr
    )
