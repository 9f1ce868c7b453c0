"""JSON-RPC 2.0 over one HTTP body: single requests, batches, notifications, errors.

The dispatcher never raises: a body that is not JSON answers -32700, a value
that is not a request object -32600 (each bad member of a batch gets its own
error), an unknown method -32601, bad parameters -32602, and an unexpected
exception in a handler -32603 with a one-line message (the traceback goes to
the log). Inline methods are answered on the event loop; the others of one body
run together in a single job on the chain thread, in order.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chains.pyevm.errors import InternalError, InvalidRequest, MethodNotFound, ParseError, RpcError

log = logging.getLogger("chains.pyevm.rpc")

MAX_BATCH = 1_000
Handler = Callable[[Any], Any]
Answer = bytes | None  # an encoded response, or None for a notification
RunOnChain = Callable[[Callable[[], list[Answer]]], Awaitable[list[Answer]]]


@dataclass(frozen=True, slots=True)
class _Call:
    id: Any
    notification: bool
    method: str
    params: Any


class Dispatcher:
    """Turns request bodies into response bodies using a method table."""

    def __init__(
        self, table: Mapping[str, Handler], inline: frozenset[str], run_on_chain: RunOnChain
    ) -> None:
        self._table = table
        self._inline = inline
        self._run_on_chain = run_on_chain

    async def handle(self, body: bytes) -> bytes | None:
        """The response body, or None when every request was a notification."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(None, ParseError(f"parse error: {_one_line(exc)}"))
        if isinstance(payload, list):
            if not payload:
                return _error(None, InvalidRequest("invalid request: empty batch"))
            if len(payload) > MAX_BATCH:
                message = f"invalid request: batch of {len(payload)} requests (at most {MAX_BATCH})"
                return _error(None, InvalidRequest(message))
            answers = [a for a in await self._answer(payload) if a is not None]
            return b"[" + b",".join(answers) + b"]" if answers else None
        if isinstance(payload, dict):
            (answer,) = await self._answer([payload])
            return answer
        message = "invalid request: expected a request object or a batch array"
        return _error(None, InvalidRequest(message))

    async def _answer(self, items: list[Any]) -> list[Answer]:
        answers: list[Answer] = [None] * len(items)
        deferred: list[tuple[int, _Call, Handler]] = []
        for i, item in enumerate(items):
            call = _parse(item)
            if isinstance(call, bytes):
                answers[i] = call
                continue
            handler = self._table.get(call.method)
            if handler is None:
                error = MethodNotFound(f"the method {call.method} does not exist/is not available")
                answers[i] = None if call.notification else _error(call.id, error)
            elif call.method in self._inline:
                answers[i] = _invoke(call, handler)
            else:
                deferred.append((i, call, handler))
        if deferred:
            results = await self._run_on_chain(lambda: [_invoke(c, h) for _, c, h in deferred])
            for (i, _, _), answer in zip(deferred, results, strict=True):
                answers[i] = answer
        return answers


def _parse(item: Any) -> _Call | bytes:
    """A call, or the encoded error answering a malformed request."""
    if not isinstance(item, dict):
        return _error(None, InvalidRequest("invalid request: expected a request object"))
    request_id = item.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, str | int | float | None):
        message = "invalid request: id must be a string, a number or null"
        return _error(None, InvalidRequest(message))
    if item.get("jsonrpc") != "2.0":
        return _error(request_id, InvalidRequest('invalid request: "jsonrpc" must be "2.0"'))
    method = item.get("method")
    if not isinstance(method, str):
        return _error(request_id, InvalidRequest("invalid request: method must be a string"))
    params = item.get("params")
    if params is not None and not isinstance(params, list | dict):
        return _error(request_id, InvalidRequest("invalid request: params must be an array"))
    return _Call(request_id, "id" not in item, method, params)


def _invoke(call: _Call, handler: Handler) -> Answer:
    try:
        encoded = _encode({"jsonrpc": "2.0", "id": call.id, "result": handler(call.params)})
    except RpcError as exc:
        encoded = _error(call.id, exc)
    except Exception as exc:  # a bug: answer -32603, keep serving
        log.exception("internal error in %s", call.method)
        message = f"internal error in {call.method}: {_one_line(exc)}"
        encoded = _error(call.id, InternalError(message))
    return None if call.notification else encoded


def _error(request_id: Any, error: RpcError) -> bytes:
    return _encode({"jsonrpc": "2.0", "id": request_id, "error": error.to_json()})


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    text = f"{name}: {text}" if text else name
    return text if len(text) <= 200 else text[:197] + "..."
