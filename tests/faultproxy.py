"""A fault-injecting JSON-RPC proxy on loopback, for testing what a flaky node does to us.

It forwards HTTP POSTs to an upstream node and, per request and at the configured
rates, drops the connection, delays the answer, answers 429 or 5xx, or cuts the
response short. It can also be switched fully down (connections refused at the
HTTP level with a reset) and back up, or hold the requests that carry a marker (a
function selector, say) until released. Every fault is counted.

    python -m tests.faultproxy --upstream http://127.0.0.1:8545 --port 9545 \\
        --drop 0.05 --delay 0.1:0.5 --http429 0.05 --http5xx 0.05 --truncate 0.02
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web


@dataclass
class Faults:
    """Probabilities (0..1) of each fault per request, and the delay range in seconds."""

    drop: float = 0.0
    delay: float = 0.0
    delay_range: tuple[float, float] = (0.05, 0.3)
    http429: float = 0.0
    http5xx: float = 0.0
    truncate: float = 0.0
    down: bool = False
    seed: int | None = None
    counts: Counter[str] = field(default_factory=Counter)


class FaultProxy:
    """Serve on ``host:port``, forward to ``upstream`` with faults."""

    def __init__(
        self, upstream: str, faults: Faults | None = None, host: str = "127.0.0.1", port: int = 0
    ):
        self.upstream = upstream
        self.faults = faults or Faults()
        self.host = host
        self.port = port
        self._rng = random.Random(self.faults.seed)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._marker: bytes | None = None
        self._released = asyncio.Event()
        self.holding = asyncio.Event()  # set once a request waits in ``hold``

    def hold(self, marker: bytes) -> None:
        """From now on, hold every request whose body contains ``marker`` until
        ``release``: its caller waits as on a node that does not answer."""
        self._marker = marker
        self._released.clear()
        self.holding.clear()

    def release(self) -> None:
        """Forward the held requests, and hold no more."""
        self._marker = None
        self._released.set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self._forward)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, shutdown_timeout=1.0)
        await site.start()
        sockets = getattr(getattr(site, "_server", None), "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.url

    async def stop(self) -> None:
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _roll(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        faults = self.faults
        body = await request.read()
        if faults.down:
            faults.counts["down"] += 1
            return await self._reset(request)
        if self._marker is not None and self._marker in body:
            faults.counts["held"] += 1
            self.holding.set()
            await self._released.wait()
        if self._roll(faults.drop):
            faults.counts["drop"] += 1
            return await self._reset(request)
        if self._roll(faults.http429):
            faults.counts["429"] += 1
            return web.Response(status=429, text="Too Many Requests")
        if self._roll(faults.http5xx):
            faults.counts["5xx"] += 1
            return web.Response(status=self._rng.choice([500, 502, 503]), text="upstream trouble")
        if self._roll(faults.delay):
            faults.counts["delay"] += 1
            await asyncio.sleep(self._rng.uniform(*faults.delay_range))
        assert self._session is not None
        try:
            async with self._session.post(
                self.upstream, data=body, headers={"Content-Type": "application/json"}
            ) as upstream:
                payload = await upstream.read()
                status = upstream.status
        except aiohttp.ClientError:
            faults.counts["upstream_down"] += 1
            return web.Response(status=502, text="upstream unreachable")
        faults.counts["forwarded"] += 1
        if self._roll(faults.truncate) and len(payload) > 2:
            faults.counts["truncate"] += 1
            payload = payload[: self._rng.randint(1, len(payload) - 1)]
        return web.Response(status=status, body=payload, content_type="application/json")

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.abort()  # the client sees its connection reset
        return web.Response(status=500)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    for name in ("drop", "http429", "http5xx", "truncate"):
        parser.add_argument(f"--{name}", type=float, default=0.0)
    parser.add_argument("--delay", default="0", help="RATE or RATE:MAX_SECONDS")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    rate, _, most = args.delay.partition(":")
    faults = Faults(
        drop=args.drop, http429=args.http429, http5xx=args.http5xx, truncate=args.truncate,
        delay=float(rate), delay_range=(0.0, float(most or 0.3)), seed=args.seed,
    )  # fmt: skip
    proxy = FaultProxy(args.upstream, faults, args.host, args.port)

    async def serve() -> None:
        url = await proxy.start()
        print(f"faultproxy ready url={url} upstream={args.upstream}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await proxy.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
