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
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from asyncio_throttle.throttler import Throttler

from relayer.config import ChainConfig
from relayer.errors import ChainError, ChainUnavailable, RpcTimeout, TransactionReverted

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
        metrics: RpcMetrics | None = None,
        retry: RetryPolicy | None = None,
        requests_per_second: int | None = None,
        timeout: float | None = None,
    ) -> None:
        self.chain = chain
        self.name = chain.name
        self.url = chain.rpc_url
        self.timeout = timeout if timeout is not None else chain.rpc_timeout
        self.retry = retry or RetryPolicy()
        self._metrics = metrics
        rate = requests_per_second or chain.rpc_requests_per_second
        self._throttler = Throttler(rate_limit=rate, period=1.0)
        self._session: aiohttp.ClientSession | None = None
        self._ids = 0
        self._w3: AsyncWeb3 | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"ChainRpc({self.name}, {self.url})"

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
        return f"chain {self.name} ({self.url})"

    async def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One JSON-RPC request; the result, or one of our errors."""
        return await self._with_retries(method, lambda: self._single(method, list(params)))

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several requests in one HTTP round trip; results in order.

        A JSON-RPC error in one item raises that item's error (as ``request`` would).
        """
        if not calls:
            return []
        label = "batch:" + ",".join(sorted({m for m, _ in calls}))
        payload = [(m, list(p)) for m, p in calls]
        return await self._with_retries(label, lambda: self._batch(payload))

    async def _with_retries(self, method: str, attempt_fn: Any) -> Any:
        last: _Transient | None = None
        for attempt in range(self.retry.attempts):
            if self._metrics:
                self._metrics.rpc_request(self.name, method)
            try:
                async with self._throttler:
                    async with asyncio.timeout(self.timeout):
                        return await attempt_fn()
            except TimeoutError:
                last = _Transient("timeout", f"no answer within {self.timeout:g}s", timeout=True)
            except _Transient as exc:
                last = exc
            except RpcError as exc:
                if self._metrics:
                    self._metrics.rpc_error(self.name, method, "rpc")
                raise exc
            if self._metrics:
                self._metrics.rpc_error(self.name, method, last.kind)
            if attempt + 1 < self.retry.attempts:
                await asyncio.sleep(self.retry.delay(attempt))
        assert last is not None
        message = (
            f"{self.where()}: {method} failed after {self.retry.attempts} tries: {last.detail}"
        )
        if last.timeout:
            raise RpcTimeout(message)
        raise ChainUnavailable(message)

    async def _single(self, method: str, params: list[Any]) -> Any:
        self._ids += 1
        body = {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params}
        return self._result(method, await self._post(body))

    async def _batch(self, payload: list[tuple[str, list[Any]]]) -> list[Any]:
        first = self._ids + 1
        self._ids += len(payload)
        body = [
            {"jsonrpc": "2.0", "id": first + i, "method": m, "params": p}
            for i, (m, p) in enumerate(payload)
        ]
        responses = await self._post(body)
        if not isinstance(responses, list):
            return [self._result("batch", responses)]
        if len(responses) != len(payload):
            raise _Transient("truncated", f"batch of {len(payload)} got {len(responses)} answers")
        by_id = {r.get("id"): r for r in responses if isinstance(r, dict)}
        ordered = [by_id.get(first + i) for i in range(len(payload))]
        return [self._result(m, r) for (m, _), r in zip(payload, ordered, strict=True)]

    async def _post(self, body: Any) -> Any:
        if self._closed:
            raise ChainUnavailable(f"{self.where()}: the connection is closed")
        try:
            async with self._http().post(self.url, data=json.dumps(body)) as response:
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

    async def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        result = await self.request("eth_getTransactionReceipt", [tx_hash])
        return dict(result) if result else None


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
