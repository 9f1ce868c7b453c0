"""Metrics, /healthz, /readyz and `stbridge health-check` against a running system."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import write_config
from tests.integration.system import Chains, System, running_relayer, send_many, wait_delivered

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


async def test_metrics_health_and_readiness(system: System, tmp_path: Path) -> None:
    chains = Chains(system)
    investors = system.config.accounts.investors
    try:
        async with running_relayer(system, tmp_path / "r.db") as relay:
            assert relay.telemetry is not None
            base = f"http://127.0.0.1:{relay.telemetry.port}"
            ids = await send_many(chains, "a", "b", [(investors[0], investors[1].address, 5)])
            await wait_delivered(relay.store, ids, 60)
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/healthz") as response:
                    assert response.status == 200
                for _ in range(100):
                    async with http.get(f"{base}/readyz") as response:
                        if response.status == 200:
                            break
                    await asyncio.sleep(0.2)
                assert response.status == 200
                await asyncio.sleep(5.5)  # one round of the gauges
                async with http.get(f"{base}/metrics") as response:
                    text = await response.text()
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
