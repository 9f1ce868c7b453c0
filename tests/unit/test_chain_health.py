"""Chain health's states, endpoint URLs as shown, and the failover config keys."""

from __future__ import annotations

import pytest

from relayer.chain.health import ChainHealth
from relayer.config import ChainConfig, parse_config, public_url
from relayer.errors import ConfigError
from relayer.telemetry.metrics import Metrics
from tests.helpers import devnet_raw


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_health_goes_down_on_a_failed_round_and_up_on_an_answer() -> None:
    clock, metrics = Clock(), Metrics()
    health = ChainHealth("b", 10.0, metrics=metrics, clock=clock)
    health.succeeded()
    assert health.answering()
    clock.now += 4
    health.failed("no answer within 3.33s")
    assert not health.answering()
    assert health.down_since == clock.now
    assert health.readiness_problem() is None  # inside the grace
    clock.now += 7
    problem = health.readiness_problem()
    assert problem is not None
    assert problem.startswith("chain b: unreachable, no RPC answer for 11s")
    assert "no answer within 3.33s" in problem
    text = metrics.render().decode()
    assert 'stbridge_chain_up{chain="b"} 0.0' in text
    assert 'stbridge_chain_last_rpc_success_timestamp_seconds{chain="b"} 1000.0' in text
    health.failed("again")  # a second failed round changes nothing but the reason
    assert health.down_since == clock.now - 7
    health.succeeded()
    assert health.answering() and health.readiness_problem() is None
    assert 'stbridge_chain_up{chain="b"} 1.0' in metrics.render().decode()


def test_a_chain_never_answered_is_named_after_its_grace() -> None:
    clock = Clock()
    health = ChainHealth("c", 10.0, clock=clock)
    clock.now += 10.5
    problem = health.readiness_problem()
    assert problem is not None and "since start" in problem


async def test_waiting_returns_at_once_without_a_watcher() -> None:
    health = ChainHealth("b", 10.0)
    health.failed("refused")
    assert await health.wait_answering(60) is False  # nobody probes: the caller tries
    health.watched = True
    assert await health.wait_answering(0.05) is False


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("https://user:pw@rpc.example:8443/?key=abc#x", "https://rpc.example:8443"),
        ("https://mainnet.example/v3/0123456789abcdef0123", "https://mainnet.example/v3/***"),
        ("https://rpc.example/eth/", "https://rpc.example/eth"),
    ],
)
def test_urls_are_shown_without_credentials(url: str, shown: str) -> None:
    assert public_url(url) == shown


def test_endpoints_and_grace_from_the_config() -> None:
    chain = ChainConfig(
        name="a",
        chain_id=1,
        rpc_url="http://127.0.0.1:1",
        rpc_urls=["http://127.0.0.1:2", "http://127.0.0.1:1"],
        block_time=12.0,
    )
    assert chain.endpoints == ["http://127.0.0.1:1", "http://127.0.0.1:2"]
    assert chain.grace == 36.0
    fast = ChainConfig(name="b", chain_id=2, rpc_url="http://127.0.0.1:3", block_time=0.25)
    assert fast.grace == 10.0
    raw = devnet_raw()
    raw["chains"][1]["rpc_urls"] = ["ftp://user:secret@rpc.example/?key=secret"]
    with pytest.raises(ConfigError, match=r"chains\[1\]\.rpc_urls") as caught:
        parse_config(raw)
    assert "secret" not in str(caught.value)
    assert "'ftp://rpc.example' is not an http(s) URL" in str(caught.value)
