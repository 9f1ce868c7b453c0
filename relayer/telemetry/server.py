"""The relayer's HTTP endpoint: /metrics (Prometheus), /healthz and /readyz.

/healthz answers 200 while the process and its event loop run. /readyz answers 200
when every chain answered within its grace (``rpc_grace``) and has its parts running,
every indexer is within a few blocks of its confirmed head and no lane is halted;
otherwise 503 with the reasons, one per line, each naming its chain.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from relayer.errors import StbridgeError
from relayer.telemetry.metrics import Metrics

ReadinessProbe = Callable[[], list[str]]
"""Returns the reasons the relayer is not ready (empty when ready)."""


class TelemetryServer:
    """A small aiohttp server; start() binds, stop() releases (idempotent)."""

    def __init__(
        self,
        metrics: Metrics,
        readiness: ReadinessProbe,
        host: str,
        port: int,
        install: Callable[[web.Application], None] | None = None,
    ) -> None:
        self.install = install  # more routes on the same port (the console)
        self.metrics = metrics
        self.readiness = readiness
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        if self.install is not None:
            self.install(app)
        return app

    async def start(self) -> int:
        """Bind and serve; returns the port (useful when 0 asked for a free one)."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, shutdown_timeout=2.0)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise StbridgeError(
                f"cannot serve metrics on {self.host}:{self.port} ({exc.strerror}): "
                "set relayer.metrics_port to a free port (0 picks one)"
            ) from None
        self._runner = runner
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), content_type="text/plain", charset="utf-8")

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _request: web.Request) -> web.Response:
        reasons = self.readiness()
        if reasons:
            return web.Response(status=503, text="\n".join(reasons) + "\n")
        return web.Response(text="ready\n")


class RouteSite:
    """More routes (``install``) on a port of their own, e.g. the console's."""

    def __init__(
        self,
        install: Callable[[web.Application], None],
        host: str,
        port: int,
        *,
        what: str = "the routes",
        setting: str = "the port",
    ) -> None:
        self.install, self.host, self.port = install, host, port
        self.what, self.setting = what, setting
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        app = web.Application()
        self.install(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, shutdown_timeout=2.0)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise StbridgeError(
                f"cannot serve {self.what} on {self.host}:{self.port} ({exc.strerror}): "
                f"set {self.setting} to a free port (0 picks one)"
            ) from None
        self._runner = runner
        sockets = getattr(getattr(site, "_server", None), "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
