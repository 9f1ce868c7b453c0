"""JSON-RPC access to one chain, with the discipline a relayer needs.

Every request goes through :meth:`ChainRpc.request`: throttled per endpoint
(asyncio-throttle), bounded by a timeout, retried with growing backoff and jitter on
transient failures (connection errors, timeouts, HTTP 429 and 5xx, truncated or
garbled responses, a node's "limit exceeded"), counted in the metrics by chain and
method, and translated into our error tree with the chain and endpoint in the
message.

Requests go out on one aiohttp session per endpoint with keep-alive connections.
web3's AsyncHTTPProvider is not used for them: it opens a new connection for every
request (``force_close``) and passes each one through a process-wide lock taken in a
thread pool, which costs a thread hop per call and, when a waiting request is
abandoned, can leave the lock taken for good. ``self.w3`` is an AsyncWeb3 on the same
endpoint for code that wants web3's contract helpers.

A chain may have several endpoints (``rpc_url`` and ``rpc_urls``). Requests go to the
active one; a failed attempt moves the next attempt to the next endpoint, and
:meth:`ChainRpc.check_endpoints` (the daemon's chain watcher, every second or so) asks
each endpoint for its head, leaves one whose head lags the best by more than
``rpc_max_lag_blocks``, and comes back to the first healthy one in the config's order.
Every answer and failed round is reported to the chain's :class:`ChainHealth`.
Endpoints appear in logs, errors and metric labels without credentials
(:func:`relayer.config.public_url`).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from asyncio_throttle.throttler import Throttler

from relayer.chain.health import ChainHealth, HealthMetrics
from relayer.config import ChainConfig, public_url
from relayer.errors import (
    ChainError,
    ChainUnavailable,
    RpcTimeout,
    TransactionReverted,
    WrongChain,
)
from relayer.telemetry.logging import get_logger

if TYPE_CHECKING:  # web3 costs some 20 MB of a relayer's memory; imported when used
    from web3 import AsyncWeb3

# JSON-RPC error codes a node uses for "try again later" (EIP-1474: limit exceeded,
# resource unavailable) and that some providers use for overload.
_TRANSIENT_CODES = {-32005, -32002, 429}
_TRANSIENT_WORDS = ("rate limit", "too many requests", "timeout", "temporarily", "try again")


class RpcMetrics(Protocol):
    """What the RPC layer reports (implemented by relayer.telemetry.metrics)."""

    def rpc_request(self, chain: str, method: str) -> None: ...
    def rpc_error(self, chain: str, method: str, kind: str) -> None: ...
    def rpc_url_request(self, chain: str, url: str, outcome: str) -> None: ...
    def rpc_latency(self, chain: str, method: str, seconds: float) -> None: ...
    def rpc_active_url(self, chain: str, url: str, urls: Sequence[str]) -> None: ...


class _Metrics(RpcMetrics, HealthMetrics, Protocol):
    """The RPC layer's metrics and its chain health's."""


class RpcError(ChainError):
    """The node answered a request with a JSON-RPC error."""

    def __init__(self, message: str, *, code: int | None = None, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class CallReverted(TransactionReverted):
    """A call or gas estimate reverted; ``data`` holds the revert data when the node gave it."""

    def __init__(self, message: str, *, code: int | None = None, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class _Transient(Exception):
    """A failure worth retrying; carries what to report if retries run out."""

    def __init__(self, kind: str, detail: str, timeout: bool = False) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.timeout = timeout


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently transient failures are retried."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        ceiling: float = min(self.max_delay, self.base_delay * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto


class ChainRpc:
    """A chain's JSON-RPC endpoint, throttled, timed out, retried and measured."""

    def __init__(
        self,
        chain: ChainConfig,
        *,
        metrics: _Metrics | None = None,
        retry: RetryPolicy | None = None,
        requests_per_second: int | None = None,
        timeout: float | None = None,
        health: ChainHealth | None = None,
    ) -> None:
        self.chain = chain
        self.name = chain.name
        self.urls = chain.endpoints
        self._active = 0
        self._verified: set[str] = set()  # endpoints whose chain id was checked
        self.health = health or ChainHealth(chain.name, chain.grace, metrics=metrics)
        self.timeout = timeout if timeout is not None else chain.rpc_timeout
        self.retry = retry or RetryPolicy()
        self._metrics = metrics
        rate = requests_per_second or chain.rpc_requests_per_second
        self._throttler = Throttler(rate_limit=rate, period=1.0)
        self._session: aiohttp.ClientSession | None = None
        self._ids = 0
        self._w3: AsyncWeb3 | None = None
        self._closed = False
        self.log = get_logger("rpc", chain=chain.name)
        if metrics is not None:
            metrics.rpc_active_url(self.name, public_url(self.url), self._public_urls())

    def __repr__(self) -> str:
        return f"ChainRpc({self.name}, {public_url(self.url)})"

    @property
    def url(self) -> str:
        """The endpoint requests go to now."""
        return self.urls[self._active]

    def _public_urls(self) -> list[str]:
        return [public_url(u) for u in self.urls]

    @property
    def w3(self) -> AsyncWeb3:
        """An AsyncWeb3 on this endpoint, for web3's contract helpers (not the hot path)."""
        if self._w3 is None:
            from web3 import AsyncHTTPProvider, AsyncWeb3

            self._w3 = AsyncWeb3(AsyncHTTPProvider(self.url))
        return self._w3

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=16, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Content-Type": "application/json"},
            )
        return self._session

    def where(self) -> str:
        """How errors name this endpoint: ``chain a (http://127.0.0.1:8545)``."""
        return f"chain {self.name} ({public_url(self.url)})"

    async def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One JSON-RPC request; the result, or one of our errors."""
        return await self._with_retries(method, lambda url: self._single(method, list(params), url))

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several requests in one HTTP round trip; results in order.

        A JSON-RPC error in one item raises that item's error (as ``request`` would).
        """
        if not calls:
            return []
        label = "batch:" + ",".join(sorted({m for m, _ in calls}))
        payload = [(m, list(p)) for m, p in calls]
        return await self._with_retries(label, lambda url: self._batch(payload, url))

    async def _with_retries(self, method: str, attempt_fn: Any) -> Any:
        last: _Transient | None = None
        for attempt in range(self.retry.attempts):
            url = self.url
            if self._metrics:
                self._metrics.rpc_request(self.name, method)
            started = time.monotonic()
            try:
                async with self._throttler:
                    async with asyncio.timeout(self.timeout):
                        result = await attempt_fn(url)
                self._answered(method, url, started, "ok")
                return result
            except TimeoutError:
                last = _Transient("timeout", f"no answer within {self.timeout:g}s", timeout=True)
            except _Transient as exc:
                last = exc
            except (RpcError, CallReverted) as exc:  # the node answered
                self._answered(method, url, started, "rpc_error")
                if self._metrics and isinstance(exc, RpcError):
                    self._metrics.rpc_error(self.name, method, "rpc")
                raise exc
            if self._metrics:
                self._metrics.rpc_error(self.name, method, last.kind)
                self._metrics.rpc_url_request(self.name, public_url(url), last.kind)
                self._metrics.rpc_latency(self.name, method, time.monotonic() - started)
            self._fail_over(url, last.detail)
            if attempt + 1 < self.retry.attempts:
                await asyncio.sleep(self.retry.delay(attempt))
        assert last is not None
        message = (
            f"{self.where()}: {method} failed after {self.retry.attempts} tries: {last.detail}"
        )
        self.health.failed(last.detail)
        if last.timeout:
            raise RpcTimeout(message)
        raise ChainUnavailable(message)

    def _answered(self, method: str, url: str, started: float, outcome: str) -> None:
        self.health.succeeded()
        if self._metrics:
            self._metrics.rpc_url_request(self.name, public_url(url), outcome)
            self._metrics.rpc_latency(self.name, method, time.monotonic() - started)

    def _fail_over(self, url: str, reason: str) -> None:
        """An attempt on ``url`` failed: the next attempt goes to the next endpoint."""
        if len(self.urls) < 2 or url != self.url:
            return  # one endpoint, or another request already moved on
        self._use((self._active + 1) % len(self.urls), f"{public_url(url)} failed: {reason}")

    def _use(self, index: int, why: str) -> None:
        if index == self._active:
            return
        previous, self._active = self.url, index
        self.log.warning(
            f"chain {self.name}: RPC moves to {public_url(self.url)}",
            previous=public_url(previous),
            reason=why,
        )
        if self._metrics:
            self._metrics.rpc_active_url(self.name, public_url(self.url), self._public_urls())

    async def check_endpoints(self, probe_timeout: float) -> dict[str, int | str]:
        """One watcher round: every endpoint's head (or why it has none), at once.

        Moves to the first endpoint, in the config's order, that answers with a head
        within ``rpc_max_lag_blocks`` of the best (each asked with ``probe_timeout``);
        reports the round to the chain's health (failed when no endpoint answers and
        nothing else got an answer for half ``probe_timeout``).
        Returns the head or the error by endpoint (credentials stripped). An endpoint
        that serves another chain id raises WrongChain (the config is wrong).
        """
        body = {"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []}
        ask_id = {"jsonrpc": "2.0", "id": 0, "method": "eth_chainId", "params": []}

        async def head(url: str) -> int | str:
            started = time.monotonic()
            try:
                async with asyncio.timeout(probe_timeout):
                    answer = int(
                        str(self._result("eth_blockNumber", await self._post(body, url))), 16
                    )
                    if len(self.urls) > 1 and url not in self._verified:
                        served = int(
                            str(self._result("eth_chainId", await self._post(ask_id, url))), 16
                        )
                        if served != self.chain.chain_id:
                            raise WrongChain(
                                f"chain {self.name}: {public_url(url)} serves chain {served}, "
                                f"not {self.chain.chain_id}: fix chains.rpc_urls"
                            )
                        self._verified.add(url)
            except TimeoutError:
                outcome: int | str = f"no answer within {probe_timeout:g}s"
                kind = "timeout"
            except _Transient as exc:
                outcome, kind = exc.detail, exc.kind
            except WrongChain:
                raise
            except (ChainError, ValueError) as exc:
                outcome, kind = str(exc)[:200], "rpc_error"
            else:
                self._answered("eth_blockNumber", url, started, "ok")
                return answer
            if self._metrics:
                self._metrics.rpc_url_request(self.name, public_url(url), kind)
            return outcome

        answers = await asyncio.gather(*(head(u) for u in self.urls))
        heads = {i: h for i, h in enumerate(answers) if isinstance(h, int)}
        if not heads:
            # a flaky endpoint drops a probe now and then while other requests get
            # answers: the round fails only when the chain was silent for a while too
            if self.health.silent_for() >= probe_timeout / 2:
                self.health.failed(str(answers[self._active]))
        else:
            best = max(heads.values())
            lag = self.chain.rpc_max_lag_blocks
            healthy = [i for i, h in heads.items() if h >= best - lag]
            choice = healthy[0]
            if choice != self._active:
                mine = answers[self._active]
                why = (
                    f"{public_url(self.url)} is {best - mine} blocks behind"
                    if isinstance(mine, int)
                    else f"{public_url(self.url)}: {mine}"
                )
                if choice < self._active and (not isinstance(mine, int) or mine >= best - lag):
                    why = f"{public_url(self.urls[choice])} answers again"
                self._use(choice, why)
        return {public_url(u): a for u, a in zip(self.urls, answers, strict=True)}

    async def _single(self, method: str, params: list[Any], url: str) -> Any:
        self._ids += 1
        body = {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params}
        return self._result(method, await self._post(body, url))

    async def _batch(self, payload: list[tuple[str, list[Any]]], url: str) -> list[Any]:
        answers = await self._post_batch(payload, url)
        if not isinstance(answers, list):
            return [self._result("batch", answers)]
        return [self._result(m, r) for (m, _), r in zip(payload, answers, strict=True)]

    async def _post_batch(self, payload: list[tuple[str, list[Any]]], url: str) -> Any:
        """``payload`` as one batch request: the node's answers in the payload's order, or
        its one answer (not a list) when it answered the request as a whole."""
        first = self._ids + 1
        self._ids += len(payload)
        body = [
            {"jsonrpc": "2.0", "id": first + i, "method": m, "params": p}
            for i, (m, p) in enumerate(payload)
        ]
        responses = await self._post(body, url)
        if not isinstance(responses, list):
            return responses
        if len(responses) != len(payload):
            raise _Transient("truncated", f"batch of {len(payload)} got {len(responses)} answers")
        by_id = {r.get("id"): r for r in responses if isinstance(r, dict)}
        return [by_id.get(first + i) for i in range(len(payload))]

    async def _post(self, body: Any, url: str) -> Any:
        if self._closed:
            raise ChainUnavailable(f"{self.where()}: the connection is closed")
        try:
            async with self._http().post(url, data=json.dumps(body)) as response:
                if response.status == 429 or response.status >= 500:
                    raise _Transient(f"http_{response.status}", f"HTTP {response.status}")
                if response.status >= 400:
                    raise ChainUnavailable(f"{self.where()}: HTTP {response.status}")
                raw = await response.read()
            return json.loads(raw)
        except (aiohttp.ClientError, OSError) as exc:
            raise _Transient("connection", _describe_connection_error(exc)) from exc
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
            raise _Transient("garbled", f"unreadable response: {exc}") from exc

    def _result(self, method: str, response: Any) -> Any:
        if not isinstance(response, dict):
            raise _Transient("garbled", f"unexpected response {str(response)[:80]}")
        error = response.get("error")
        if error is None:
            if "result" not in response:
                raise _Transient("garbled", "response without result or error")
            return response["result"]
        if not isinstance(error, dict):
            raise _Transient("garbled", f"malformed error {str(error)[:80]}")
        code = error.get("code")
        text = str(error.get("message", "")).strip()
        if code in _TRANSIENT_CODES or any(w in text.lower() for w in _TRANSIENT_WORDS):
            raise _Transient("busy", f"{text} (code {code})")
        data = error.get("data")
        if code == 3 or "revert" in text.lower():
            raise CallReverted(f"{self.where()}: {method}: {text}", code=code, data=data)
        raise RpcError(f"{self.where()}: {method}: {text} (code {code})", code=code, data=data)

    async def close(self) -> None:
        """Close the HTTP session; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if self._session is not None:
            await self._session.close()

    # --- typed helpers the pipeline uses ----------------------------------

    async def chain_id(self) -> int:
        return int(await self.request("eth_chainId"), 16)

    async def block_number(self) -> int:
        return int(await self.request("eth_blockNumber"), 16)

    async def block(self, number: int | str) -> BlockHeader:
        tag = hex(number) if isinstance(number, int) else number
        raw = await self.request("eth_getBlockByNumber", [tag, False])
        if raw is None:
            raise ChainError(f"{self.where()}: block {number} does not exist")
        return BlockHeader.from_rpc(raw)

    async def logs(
        self,
        address: str | Sequence[str],
        from_block: int,
        to_block: int,
        topics: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {
            "address": address if isinstance(address, str) else list(address),
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
        }
        if topics:
            query["topics"] = list(topics)
        result = await self.request("eth_getLogs", [query])
        return list(result)

    async def call(self, to: str, data: bytes, block: int | str = "latest") -> bytes:
        tag = hex(block) if isinstance(block, int) else block
        result = await self.request("eth_call", [{"to": to, "data": "0x" + data.hex()}, tag])
        return bytes.fromhex(str(result)[2:])

    async def balance(self, address: str, block: int | str = "latest") -> int:
        tag = hex(block) if isinstance(block, int) else block
        return int(await self.request("eth_getBalance", [address, tag]), 16)

    async def nonce(self, address: str, block: str = "pending") -> int:
        return int(await self.request("eth_getTransactionCount", [address, block]), 16)

    async def send_raw(self, raw: bytes) -> str:
        return str(await self.request("eth_sendRawTransaction", ["0x" + raw.hex()]))

    async def send_raw_many(self, raws: Sequence[bytes]) -> list[str | RpcError | CallReverted]:
        """Several signed transactions in batch requests, in order: each one's hash, or the
        node's refusal of it (returned, not raised; the node takes the others). A request
        carries at most ``SEND_BATCH_BYTES`` of transactions (anvil refuses a body of a
        few MB). A failure worth retrying, of a request or of one item, sends that request
        again: what the node took comes back as already known. A node that refuses the
        batch as a whole gets them one request each."""
        outcomes: list[str | RpcError | CallReverted] = []
        for group in _byte_groups(raws, SEND_BATCH_BYTES):
            payload = [("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in group]
            try:
                outcomes += await self._with_retries(
                    "batch:eth_sendRawTransaction",
                    lambda url, payload=payload: self._batch_outcomes(payload, url),
                )
            except _BatchRefused:
                for raw in group:
                    try:
                        outcomes.append(await self.send_raw(raw))
                    except (RpcError, CallReverted) as exc:
                        outcomes.append(exc)
        return outcomes

    async def _batch_outcomes(
        self, payload: list[tuple[str, list[Any]]], url: str
    ) -> list[str | RpcError | CallReverted]:
        answers = await self._post_batch(payload, url)
        if not isinstance(answers, list):
            try:
                self._result("batch", answers)
            except (RpcError, CallReverted) as exc:
                raise _BatchRefused(str(exc)) from exc
            raise _Transient("garbled", "one answer to a batch request")
        outcomes: list[str | RpcError | CallReverted] = []
        for (method, _params), answer in zip(payload, answers, strict=True):
            try:
                outcomes.append(str(self._result(method, answer)))
            except (RpcError, CallReverted) as exc:
                outcomes.append(exc)
        return outcomes

    async def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        result = await self.request("eth_getTransactionReceipt", [tx_hash])
        return dict(result) if result else None


SEND_BATCH_BYTES = 500_000  # signed bytes per broadcast request (twice that in hex), at most


class _BatchRefused(Exception):
    """The node answered a batch request with one error (too large, or no batches)."""


def _byte_groups(raws: Sequence[bytes], limit: int) -> list[list[bytes]]:
    """``raws`` in order, cut into groups of at most ``limit`` bytes (one at least)."""
    groups: list[list[bytes]] = []
    size = limit
    for raw in raws:
        if size + len(raw) > limit or not groups:
            groups.append([])
            size = 0
        groups[-1].append(raw)
        size += len(raw)
    return groups


def revert_data(error: BaseException) -> bytes | None:
    """The revert bytes a node attached to a reverted call, if any."""
    data = getattr(error, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    return None


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """The parts of a block the relayer needs."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int
    base_fee: int | None

    @classmethod
    def from_rpc(cls, raw: dict[str, Any]) -> BlockHeader:
        base_fee = raw.get("baseFeePerGas")
        return cls(
            number=int(raw["number"], 16),
            hash=str(raw["hash"]),
            parent_hash=str(raw["parentHash"]),
            timestamp=int(raw["timestamp"], 16),
            base_fee=int(base_fee, 16) if base_fee is not None else None,
        )


def _describe_connection_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "Connect call failed" in text or "Cannot connect" in text:
        return "connection refused (is the node running?)"
    return text.splitlines()[0][:200]
