"""The console's API: store reads for lanes and a message's life, the documented routes,
security headers, and actions only with a token, a bearer header and the CSRF token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from relayer.config import parse_config
from relayer.console.api import ConsoleApi
from relayer.console.server import ConsoleServer, openapi_document, resolve_token
from relayer.deployment.record import Deployment
from relayer.errors import ConfigError
from relayer.store import NewMessage, Status, Store, TxRow
from tests.helpers import devnet_raw
from tests.pg import StoreBackend

A, B = 65001, 65002  # the devnet config's chain ids
TOKEN = "t0ken-long-enough-for-tests"


def message(nonce: int, at: float) -> NewMessage:
    mid = (A * 1_000_000 + nonce).to_bytes(32, "big")
    return NewMessage(
        id=mid, origin=A, nonce=nonce, destination=B, sender=b"\x01" * 32,
        recipient=b"\x02" * 32, raw=b"raw" + mid, kind=1, ref=None,
        dispatch_tx="0x" + "ab" * 32, dispatch_block=10 + nonce, dispatched_at=at,
    )  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> StoreBackend:
    if request.param == "sqlite":
        return StoreBackend("sqlite", str(tmp_path / "relayer.db"))
    return StoreBackend("postgresql", request.getfixturevalue("postgres").database())


@pytest.fixture
async def store(backend: StoreBackend) -> AsyncIterator[Store]:
    s = await backend.open(owner="r1")
    yield s
    await s.close()


async def test_lane_history_counts_throughput_backlog_and_latency(store: Store) -> None:
    # 1000: m0 sent; 1010: m1, m2 sent; m0 delivered at 1070 (70 s), m1 at 1130 (120 s)
    await store.add_messages([message(0, 1000.0), message(1, 1010.0), message(2, 1010.0)])
    await store.add_messages([message(3, 990.0), message(4, 1020.0)])
    await store.mark_refused([message(3, 0).id, message(4, 0).id], "refused: never waits")
    await store.mark_delivered([(message(0, 0).id, "0xd0", 5, 1070.0)])
    await store.mark_delivered([(message(1, 0).id, "0xd1", 6, 1130.0)])
    history = await store.lane_history(A, B, since=1005.0, until=1185.0, bucket=60.0)
    assert [b.start for b in history.buckets] == [1005.0, 1065.0, 1125.0, 1185.0]
    assert history.backlog_before == 1  # m0, sent before 1005 and not delivered then
    assert [b.dispatched for b in history.buckets] == [2, 0, 0, 0]
    assert [b.delivered for b in history.buckets] == [0, 1, 1, 0]
    assert [b.latency_avg for b in history.buckets] == [None, 70.0, 120.0, None]
    assert history.backlog() == [3, 2, 1, 1]
    assert (await store.backlog(A, B))[0] == history.backlog()[-1]
    empty = await store.lane_history(B, A, since=1005.0, until=1185.0, bucket=60.0)
    assert empty.backlog() == [0, 0, 0, 0]


async def test_a_message_life_has_its_transactions_and_checkpoint(store: Store) -> None:
    m = message(3, 1000.0)
    await store.add_messages([m])
    assert await store.checkpoint_covering(A, 3) is None
    for index, validator in ((2, "0xV1"), (4, "0xV1"), (4, "0xV2"), (9, "0xV1")):
        await store.add_signature(A, index, b"r" * 32, b"m" * 32, validator, b"s" * 65)
    cover = await store.checkpoint_covering(A, 3)
    assert cover is not None and cover.index == 4 and cover.validators == ["0xV1", "0xV2"]
    tx = TxRow(
        chain_id=B, sender="0xRelayer", nonce=7, hash="0x" + "cd" * 32, raw=b"signed",
        max_fee=2 * 10**9, priority_fee=10**9, gas_limit=900_000, purpose="processBatch a->b",
        sent_at=1001.0, message_ids=[m.id],
    )  # fmt: skip
    await store.submit(tx)
    [carried] = await store.message_txs(m.id)
    assert (carried.hash, carried.nonce, carried.gas_limit) == (tx.hash, 7, 900_000)
    assert await store.message_txs(b"\x00" * 32) == []


def _config_and_deployment() -> tuple[object, Deployment]:
    config = parse_config(devnet_raw())
    return config, Deployment(network=config.network, home=config.home)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await StoreBackend("sqlite", str(tmp_path / "c.db")).open(owner="r1")
    yield s
    await s.close()


async def _client(store: Store, token: str | None) -> TestClient:
    config, deployment = _config_and_deployment()
    api = ConsoleApi(config, deployment, store)  # type: ignore[arg-type]
    app = web.Application()
    ConsoleServer(api, token).install(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


def test_the_openapi_document_lists_exactly_the_api_routes() -> None:
    app = web.Application()
    config, deployment = _config_and_deployment()
    ConsoleServer(ConsoleApi(config, deployment, None), None).install(app)  # type: ignore[arg-type]
    routed = {
        (r.method.lower(), r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/api/")
        and r.method != "HEAD"
    }  # fmt: skip
    documented = {
        (method, path) for path, item in openapi_document()["paths"].items() for method in item
    }
    assert routed == documented


async def test_pages_and_api_carry_the_security_headers(sqlite_store: Store) -> None:
    client = await _client(sqlite_store, None)
    try:
        for path in ("/console/", "/console/issuer", "/console/static/operator.js", "/api/status"):
            response = await client.get(path)
            assert response.status == 200, path
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert "unsafe-inline" not in csp
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        page = await (await client.get("/console/")).text()
        assert "<script>" not in page  # no inline script: modules from /console/static only
        lanes = await (await client.get("/api/lanes?window=15m")).json()
        assert lanes["ok"] and {lane["lane"] for lane in lanes["data"]} == {"a->b", "b->a"}
        bad = await client.get("/api/lanes?window=week")
        assert bad.status == 400 and "15m, hour, day" in (await bad.json())["error"]["message"]
        missing = await client.get("/api/messages/0x1234")
        assert missing.status == 404
    finally:
        await client.close()


async def test_actions_are_off_without_a_token(sqlite_store: Store) -> None:
    await sqlite_store.add_messages([message(0, 1000.0)])
    await sqlite_store.mark_refused([message(0, 0).id], "Refused(reason)")
    client = await _client(sqlite_store, None)
    try:
        session = await (await client.get("/api/session")).json()
        assert session["data"] == {"actions": False, "csrf": None}
        mid = "0x" + message(0, 0).id.hex()
        response = await client.post(
            f"/api/messages/{mid}/retry", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status == 403
        assert (await sqlite_store.message(message(0, 0).id)).status == Status.REFUSED  # type: ignore[union-attr]
    finally:
        await client.close()


async def test_an_action_needs_the_bearer_token_and_the_csrf_token(sqlite_store: Store) -> None:
    await sqlite_store.add_messages([message(0, 1000.0)])
    await sqlite_store.mark_refused([message(0, 0).id], "Refused(reason)")
    client = await _client(sqlite_store, TOKEN)
    try:
        csrf = (await (await client.get("/api/session")).json())["data"]["csrf"]
        assert csrf
        url = f"/api/messages/0x{message(0, 0).id.hex()}/retry"
        good = {"Authorization": f"Bearer {TOKEN}", "X-CSRF-Token": csrf}
        assert (await client.post(url)).status == 401
        wrong = {**good, "Authorization": "Bearer nope"}
        assert (await client.post(url, headers=wrong)).status == 401
        assert (await client.post(url, headers={**good, "X-CSRF-Token": "x"})).status == 403
        foreign = {**good, "Origin": "http://evil.example"}
        assert (await client.post(url, headers=foreign)).status == 403
        assert (await sqlite_store.message(message(0, 0).id)).status == Status.REFUSED  # type: ignore[union-attr]
        done = await client.post(url, headers=good)
        assert done.status == 200, await done.text()
        assert (await sqlite_store.message(message(0, 0).id)).status == Status.FAILED  # type: ignore[union-attr]
    finally:
        await client.close()


def test_the_token_comes_from_the_config_or_the_environment() -> None:
    assert resolve_token(None, {}) is None
    assert resolve_token(None, {"STBRIDGE_CONSOLE_TOKEN": TOKEN}) == TOKEN
    assert resolve_token("env:MY_TOKEN", {"MY_TOKEN": TOKEN}) == TOKEN
    with pytest.raises(ConfigError, match="MY_TOKEN is not set"):
        resolve_token("env:MY_TOKEN", {})
    with pytest.raises(ConfigError, match="shorter than 16"):
        resolve_token("short", {})


class _DownRpc:
    async def block_number(self) -> int:
        from relayer.errors import ChainUnavailable

        raise ChainUnavailable("chain b at http://127.0.0.1:1: connection refused")


async def test_a_halted_chain_and_an_unreachable_one_are_named(sqlite_store: Store) -> None:
    from types import SimpleNamespace

    from relayer.daemon.indexer import IndexerState

    config, deployment = _config_and_deployment()
    halted = IndexerState(head=10, cursor=8, halted="reorg deeper than the confirmations")
    relayer = SimpleNamespace(
        parts=SimpleNamespace(
            indexers={"a": SimpleNamespace(state=halted)}, rpcs={"b": _DownRpc()}, origins={}
        ),
        not_ready=lambda: ["chain a: reorg deeper than the confirmations"],
    )
    api = ConsoleApi(config, deployment, sqlite_store, relayer=relayer)  # type: ignore[arg-type]
    chains = {c["name"]: c for c in await api.chains()}
    assert chains["a"]["halted"] == "reorg deeper than the confirmations"
    assert chains["a"]["reachable"] and not chains["b"]["reachable"]
    assert "connection refused" in chains["b"]["error"]
    lanes = {lane["lane"]: lane for lane in await api.lanes("15m")}
    assert lanes["a->b"]["halted"] == lanes["b->a"]["halted"] == halted.halted
    status = await api.status()
    assert not status["ready"] and status["reasons"]
