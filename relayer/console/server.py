"""The console over HTTP: the JSON API under /api/, the pages under /console/.

Read-only unless the operator set a token (``relayer.console_token`` or the environment
variable STBRIDGE_CONSOLE_TOKEN): then POST /api/messages/{id}/retry and
/api/investors/{wallet}/resync take ``Authorization: Bearer TOKEN`` and the page's
``X-CSRF-Token`` (from GET /api/session; a page of another origin can neither read it
nor send the header without a CORS preflight this server never grants). Without a
token those endpoints answer 403 and the pages show no buttons.

Every response carries a Content-Security-Policy that allows scripts, styles and
connections from this origin only (no inline script), ``frame-ancestors 'none'`` and
``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from relayer.console.api import SECTIONS, ConsoleApi
from relayer.errors import ChainError, ConfigError, InputError, NotFound, StbridgeError
from relayer.store import Status
from relayer.telemetry.server import RouteSite

if TYPE_CHECKING:
    from relayer.daemon.relayer import Relayer

TOKEN_ENV = "STBRIDGE_CONSOLE_TOKEN"  # noqa: S105 - the variable's name
MIN_TOKEN_LENGTH = 16
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def static_dir() -> Path:
    """The pages, scripts and the vendored chart library (package data)."""
    return Path(str(resources.files("relayer.console") / "static"))


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI description (relayer/console/openapi.json)."""
    text = (resources.files("relayer.console") / "openapi.json").read_text()
    doc: dict[str, Any] = json.loads(text)
    return doc


def resolve_token(configured: str | None, env: dict[str, str] | None = None) -> str | None:
    """The action token: the config's (``env:NAME`` or the token), else STBRIDGE_CONSOLE_TOKEN."""
    env = dict(os.environ) if env is None else env
    value = configured
    if value is not None and value.startswith("env:"):
        name = value.removeprefix("env:")
        if name not in env:
            raise ConfigError(f"relayer.console_token: environment variable {name} is not set")
        value = env[name]
    if value is None:
        value = env.get(TOKEN_ENV) or None
    if value is not None and len(value.strip()) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"relayer.console_token is shorter than {MIN_TOKEN_LENGTH} characters: "
            "use a long random one (python -c 'import secrets; print(secrets.token_hex(16))')"
        )
    return value.strip() if value else None


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    if isinstance(response, web.HTTPException):
        raise response
    return response


def _json(request: web.Request, data: Any, status: int = 200) -> web.Response:
    doc: dict[str, Any] = {"ok": status < 400, "command": f"{request.method} {request.path}"}
    if status < 400:
        doc["data"] = data
    else:
        doc["error"] = data
    return web.json_response(doc, status=status)


def _error(request: web.Request, status: int, kind: str, message: str) -> web.Response:
    return _json(request, {"type": kind, "message": message, "status": status}, status)


class ConsoleServer:
    """The console's routes over a ConsoleApi; ``install`` adds them to an aiohttp app."""

    def __init__(self, api: ConsoleApi, token: str | None) -> None:
        self.api = api
        self.token = token
        self.csrf = secrets.token_urlsafe(24) if token else None

    @property
    def actions(self) -> bool:
        return self.token is not None

    def install(self, app: web.Application) -> None:
        app.middlewares.append(security_headers)
        get, post = app.router.add_get, app.router.add_post
        get("/", self._root)
        get("/console", self._root)
        get("/console/", self._page("operator.html"))
        get("/console/issuer", self._page("issuer.html"))
        app.router.add_static("/console/static/", static_dir(), show_index=False)
        get("/api/openapi.json", self._openapi)
        get("/api/session", self._session)
        get("/api/status", self._call(lambda r: self.api.status()))
        get("/api/chains", self._call(lambda r: self.api.chains()))
        get("/api/lanes", self._call(lambda r: self.api.lanes(r.query.get("window", "hour"))))
        get("/api/messages", self._call(self._messages))
        get("/api/messages/{id}", self._call(lambda r: self.api.message(r.match_info["id"])))
        get("/api/validators", self._call(lambda r: self.api.validators()))
        get("/api/keys", self._call(lambda r: self.api.keys()))
        get("/api/dvp", self._call(lambda r: self.api.dvp(r.query.get("state"))))
        get("/api/captable", self._call(
            lambda r: self.api.captable(r.query.get("token"), r.query.get("at"))
        ))  # fmt: skip
        get("/api/audit", self._call(lambda r: self.api.audit()))
        get("/api/investors", self._call(lambda r: self.api.investors()))
        get("/api/investors/{wallet}", self._call(
            lambda r: self.api.investor(r.match_info["wallet"])
        ))  # fmt: skip
        get("/api/sections", self._call(self._sections))
        get("/api/sections/{name}", self._call(self._section))
        post("/api/messages/{id}/retry", self._action(self._retry))
        post("/api/investors/{wallet}/resync", self._action(self._resync))

    # --- pages ----------------------------------------------------------------------

    async def _root(self, _request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/console/")

    def _page(self, name: str) -> Handler:
        async def page(_request: web.Request) -> web.StreamResponse:
            return web.FileResponse(static_dir() / name, headers={"Cache-Control": "no-cache"})

        return page

    async def _openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document())

    async def _session(self, request: web.Request) -> web.Response:
        return _json(request, {"actions": self.actions, "csrf": self.csrf})

    # --- reads ----------------------------------------------------------------------

    def _call(self, read: Callable[[web.Request], Awaitable[Any]]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                return _json(request, await read(request))
            except InputError as exc:
                return _error(request, 400, type(exc).__name__, str(exc))
            except NotFound as exc:
                return _error(request, 404, type(exc).__name__, str(exc))
            except ChainError as exc:
                return _error(request, 502, type(exc).__name__, str(exc))
            except StbridgeError as exc:
                return _error(request, 500, type(exc).__name__, str(exc))

        return handler

    async def _messages(self, request: web.Request) -> Any:
        q = request.query
        try:
            limit = int(q.get("limit", "50"))
        except ValueError:
            raise InputError(f"limit {q.get('limit')!r} is not a whole number") from None
        return await self.api.messages(
            message_id=q.get("id"), wallet=q.get("wallet"), lane=q.get("lane"),
            status=q.get("status"), limit=limit,
        )  # fmt: skip

    async def _sections(self, request: web.Request) -> Any:
        return sorted(SECTIONS)

    async def _section(self, request: web.Request) -> Any:
        name = request.match_info["name"]
        if name not in SECTIONS:
            raise NotFound(f"no section {name!r} (sections: {', '.join(sorted(SECTIONS))})")
        return await SECTIONS[name](self.api)

    # --- actions --------------------------------------------------------------------

    def _action(self, act: Callable[[web.Request], Awaitable[Any]]) -> Handler:
        inner = self._call(act)

        async def handler(request: web.Request) -> web.StreamResponse:
            if self.token is None or self.csrf is None:
                return _error(
                    request, 403, "ActionsOff",
                    "actions are off: set relayer.console_token (or STBRIDGE_CONSOLE_TOKEN)",
                )  # fmt: skip
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                return _error(request, 401, "Unauthorized", "a valid bearer token is needed")
            csrf = request.headers.get("X-CSRF-Token", "")
            if not hmac.compare_digest(csrf.encode(), self.csrf.encode()):
                return _error(request, 403, "CsrfRefused", "missing or wrong X-CSRF-Token")
            origin = request.headers.get("Origin")
            if origin is not None and origin != f"{request.scheme}://{request.host}":
                return _error(request, 403, "CsrfRefused", f"cross-origin request from {origin}")
            return await inner(request)

        return handler

    async def _retry(self, request: web.Request) -> Any:
        from relayer.store.lookup import resolve_message

        m = await resolve_message(self.api.store, request.match_info["id"])
        if m.status in (Status.DELIVERED, Status.SUBMITTED, Status.IGNORED):
            raise InputError(f"message {m.id_hex} is {m.status.value}: nothing to retry")
        if not await self.api.store.retry_now(m.id):
            raise InputError(f"message {m.id_hex} is not retryable ({m.status.value})")
        return {"id": m.id_hex, "retrying": True}

    async def _resync(self, request: web.Request) -> Any:
        from relayer.deployment.session import Session
        from relayer.inputs import parse_address
        from relayer.issuer.investors import resync_investors

        wallet = parse_address(request.match_info["wallet"], "wallet")
        config = self.api.config
        async with Session(config, self.api.deployment) as session:
            tx, sent = await resync_investors(session, config.accounts.issuer_agent, [wallet])
        self.api.forget()
        return {"wallet": wallet, "tx": tx, "messages": [{"chain": c, "id": i} for c, i in sent]}


class ConsoleSite(RouteSite):
    """The console on a port of its own (``relayer.console_port``)."""

    def __init__(self, console: ConsoleServer, host: str, port: int) -> None:
        super().__init__(
            console.install, host, port, what="the console", setting="relayer.console_port"
        )
        self.console = console


def console_routes(relayer: Relayer) -> Callable[[web.Application], None]:
    """What the relayer mounts for its console (``Relayer(console=console_routes)``): the
    API over its config, deployment, store and running parts, and the pages."""
    api = ConsoleApi(relayer.config, relayer.deployment, relayer.store, relayer=relayer)
    return ConsoleServer(api, resolve_token(relayer.config.relayer.console_token)).install
