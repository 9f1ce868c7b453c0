"""The embedded node: a :class:`DevChain` behind an aiohttp JSON-RPC server.

One lock serializes chain access; chain work runs on a single worker thread, so
the event loop keeps accepting (keep-alive) connections and answering the
inline methods while a block is mined. With a block time above zero a task
mines a block on every tick, empty or not.

Two ways to run it in-process::

    async with EmbeddedNode(NodeConfig(chain_id=65001, port=0)) as node:
        ...  # node.url

    with ThreadedNode(NodeConfig(chain_id=65001, port=0)) as node:
        ...  # its own loop on a thread: usable from synchronous code
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from aiohttp import web

from chains.pyevm.chain import DevChain
from chains.pyevm.cheats import CheatMethods
from chains.pyevm.config import NodeConfig
from chains.pyevm.dispatch import Dispatcher
from chains.pyevm.errors import NodeStartError, PortInUse
from chains.pyevm.methods import INLINE, NodeMethods

log = logging.getLogger("chains.pyevm")

T = TypeVar("T")
MAX_BODY_BYTES = 64 * 1024 * 1024


class EmbeddedNode:
    """One chain served over HTTP JSON-RPC; ``start`` binds, ``stop`` (idempotent) ends it."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.chain = DevChain(
            config.chain_id, config.gas_limit, config.alloc, automine=config.block_time == 0
        )
        self._lock = threading.Lock()
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pyevm-chain")
        methods = NodeMethods(self.chain)
        cheats = CheatMethods(self.chain)
        self._dispatcher = Dispatcher({**methods.table, **cheats.table}, INLINE, self._on_chain)
        self._runner: web.AppRunner | None = None
        self._miner: asyncio.Task[None] | None = None
        self._stopped = False
        self.port: int | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the node is not started")
        return f"http://{self.config.host}:{self.port}"

    def locked(self, work: Callable[[], T]) -> T:
        """Run ``work`` under the chain lock (from any thread)."""
        with self._lock:
            return work()

    async def _on_chain(self, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.locked, work)

    async def start(self) -> None:
        """Bind the HTTP port and start the interval miner; PortInUse when taken."""
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post("/", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            where = f"{self.config.host}:{self.config.port}"
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"port {self.config.port} ({where}) is already in use: "
                    "stop the process that holds it, or pass another --port"
                ) from None
            raise NodeStartError(f"cannot listen on {where}: {exc.strerror or exc}") from None
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        if self.config.block_time > 0:
            self._miner = asyncio.create_task(self._mine_on_interval(), name="pyevm-miner")
        log.info("listening on %s (chain id %d)", self.url, self.config.chain_id)

    async def stop(self) -> None:
        """Stop mining, close the server and the chain thread. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self._miner is not None:
            self._miner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._miner
        if self._runner is not None:
            await self._runner.cleanup()
        self._executor.shutdown(wait=True)

    async def __aenter__(self) -> EmbeddedNode:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        answer = await self._dispatcher.handle(body)
        if answer is None:
            return web.Response(status=204)
        return web.Response(body=answer, content_type="application/json")

    async def _mine_on_interval(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.config.block_time
        due = loop.time() + interval
        while True:
            await asyncio.sleep(max(due - loop.time(), 0))
            try:
                await self._on_chain(self.chain.mine_block)
            except Exception:  # keep mining; the log has the traceback
                log.exception("mining a block failed")
            due = max(due + interval, loop.time())


class ThreadedNode:
    """An :class:`EmbeddedNode` on its own event loop in a daemon thread."""

    def __init__(self, config: NodeConfig, *, start_timeout: float = 30.0) -> None:
        self.node = EmbeddedNode(config)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="pyevm-node", daemon=True
        )
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.node.start(), self._loop).result(start_timeout)
        except BaseException:
            self._shutdown_loop()
            raise

    @property
    def url(self) -> str:
        return self.node.url

    @property
    def chain(self) -> DevChain:
        return self.node.chain

    def stop(self) -> None:
        """Stop the node and its loop thread (idempotent)."""
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self.node.stop(), self._loop).result(30)
        self._shutdown_loop()

    def _shutdown_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> ThreadedNode:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
