"""The JSON-RPC envelope on a fake method table: routing, batches, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chains.pyevm.dispatch import Answer, Dispatcher
from chains.pyevm.errors import InvalidParams


class FakeChainThread:
    """Runs chain jobs inline and counts them."""

    def __init__(self) -> None:
        self.jobs = 0

    async def __call__(self, work: Callable[[], list[Answer]]) -> list[Answer]:
        self.jobs += 1
        return work()


def dispatcher() -> tuple[Dispatcher, FakeChainThread]:
    def echo(params: Any) -> Any:
        return params

    def picky(params: Any) -> Any:
        raise InvalidParams("invalid argument 0: no")

    def broken(params: Any) -> Any:
        raise KeyError("missing\nthing")

    thread = FakeChainThread()
    table = {"fast_echo": echo, "slow_echo": echo, "slow_picky": picky, "slow_broken": broken}
    return Dispatcher(table, frozenset({"fast_echo"}), thread), thread


def request(method: str, params: Any = None, id_: Any = 1) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params or []}
    if id_ is not ...:
        body["id"] = id_
    return body


async def ask(body: Any) -> Any:
    handler, _ = dispatcher()
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = await handler.handle(raw)
    return None if answer is None else json.loads(answer)


async def test_inline_methods_skip_the_chain_thread_and_batches_use_it_once() -> None:
    handler, thread = dispatcher()
    await handler.handle(json.dumps(request("fast_echo", [1])).encode())
    assert thread.jobs == 0
    batch = [request("slow_echo", [i], id_=i) for i in range(5)] + [request("fast_echo", [9], 9)]
    answers = json.loads(await handler.handle(json.dumps(batch).encode()) or b"")
    assert thread.jobs == 1
    assert [a["result"] for a in answers] == [[0], [1], [2], [3], [4], [9]]


async def test_errors_per_request_in_a_batch() -> None:
    answers = await ask([request("slow_picky"), request("nope"), request("slow_broken"), 5])
    assert [a["error"]["code"] for a in answers] == [-32602, -32601, -32603, -32600]
    assert (
        answers[2]["error"]["message"]
        == "internal error in slow_broken: KeyError: 'missing\\nthing'"
    )


async def test_notifications_get_no_answer() -> None:
    assert await ask(request("slow_echo", id_=...)) is None
    assert await ask([request("slow_echo", id_=...), request("nope", id_=...)]) is None
    answers = await ask([request("slow_echo", id_=...), request("slow_echo", [2], id_="x")])
    assert answers == [{"jsonrpc": "2.0", "id": "x", "result": [2]}]


async def test_envelope_errors() -> None:
    assert (await ask(b"{"))["error"]["code"] == -32700
    assert (await ask(b"\xff"))["error"]["code"] == -32700
    assert (await ask([]))["error"]["code"] == -32600
    assert (await ask(3))["error"]["code"] == -32600
    bad_id = await ask({"jsonrpc": "2.0", "id": {"a": 1}, "method": "fast_echo"})
    assert bad_id["id"] is None and bad_id["error"]["code"] == -32600
    wrong_version = await ask({"jsonrpc": "1.0", "id": 4, "method": "fast_echo"})
    assert wrong_version["id"] == 4 and wrong_version["error"]["code"] == -32600
