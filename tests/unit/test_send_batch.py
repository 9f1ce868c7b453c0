"""Broadcasting a round's transactions in batch requests (``ChainRpc.send_raw_many``):
each request within the size a node accepts, every item's answer in order, a refusal
returned for its item alone, and one request each for a node that takes no batches."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from relayer.chain.rpc import SEND_BATCH_BYTES, ChainRpc, RetryPolicy, RpcError
from relayer.config import ChainConfig

BODY_LIMIT = 2 * SEND_BATCH_BYTES + 100_000  # like anvil: a larger body is refused whole


class _Node(BaseHTTPRequestHandler):
    batches = True
    bodies: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append(len(raw))
        body = json.loads(raw)
        answer: Any
        if len(raw) > BODY_LIMIT or (isinstance(body, list) and not type(self).batches):
            answer = {"jsonrpc": "2.0", "id": None,
                      "error": {"code": -32600, "message": "Invalid request"}}  # fmt: skip
        else:
            answer = (
                [self._answer(c) for c in body] if isinstance(body, list) else self._answer(body)
            )
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _answer(call: dict[str, Any]) -> dict[str, Any]:
        raw = call["params"][0]
        if raw.startswith("0xee"):  # the node refuses this one
            return {"jsonrpc": "2.0", "id": call["id"],
                    "error": {"code": -32000, "message": "transaction underpriced"}}  # fmt: skip
        return {"jsonrpc": "2.0", "id": call["id"], "result": "0x" + raw[2:10]}

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def node() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Node)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Node.bodies = []
    _Node.batches = True
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _raws(count: int, size: int, refused: int) -> list[bytes]:
    return [
        (b"\xee" if i == refused else b"\x02") + i.to_bytes(3, "big") + b"\x00" * (size - 4)
        for i in range(count)
    ]


async def test_a_round_goes_in_requests_a_node_accepts_each_answer_in_order(node: str) -> None:
    rpc = ChainRpc(ChainConfig(name="b", chain_id=1, rpc_url=node), retry=RetryPolicy(attempts=1))
    try:
        raws = _raws(12, 150_000, refused=5)  # 1.8 MB: more than one request may carry
        outcomes = await rpc.send_raw_many(raws)
        assert len(_Node.bodies) == 4  # three transactions a request
        assert max(_Node.bodies) <= BODY_LIMIT
        assert [o for i, o in enumerate(outcomes) if i != 5] == [
            "0x02" + i.to_bytes(3, "big").hex() for i in range(12) if i != 5
        ]
        assert isinstance(outcomes[5], RpcError)  # the refusal, for its item alone
        assert "underpriced" in str(outcomes[5])
    finally:
        await rpc.close()


async def test_a_node_without_batches_gets_one_request_each(node: str) -> None:
    _Node.batches = False
    rpc = ChainRpc(ChainConfig(name="b", chain_id=1, rpc_url=node), retry=RetryPolicy(attempts=1))
    try:
        outcomes = await rpc.send_raw_many(_raws(3, 100, refused=1))
        assert len(_Node.bodies) == 4  # the batch refused whole, then one each
        assert outcomes[0] == "0x02000000" and outcomes[2] == "0x02000002"
        assert isinstance(outcomes[1], RpcError)
    finally:
        await rpc.close()
