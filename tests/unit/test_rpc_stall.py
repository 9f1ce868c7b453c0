"""After the event loop stalls past the request timeouts, the RPC layer still answers.

web3's provider takes a process-wide lock in a thread pool around every request;
requests abandoned while waiting for it used to leave it taken for good, so every later
request of the process hung (and the process could not exit). ChainRpc now sends on its
own keep-alive session; this test keeps that failure from coming back.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from relayer.chain.rpc import ChainRpc, RetryPolicy
from relayer.config import ChainConfig


class _Node(BaseHTTPRequestHandler):
    """Answers every JSON-RPC call (and batch) with block number 7."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        calls = body if isinstance(body, list) else [body]
        answers = [{"jsonrpc": "2.0", "id": c["id"], "result": "0x7"} for c in calls]
        data = json.dumps(answers if isinstance(body, list) else answers[0]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def node() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Node)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_requests_still_answer_after_the_loop_stalled(node: str) -> None:
    chain = ChainConfig(name="a", chain_id=1, rpc_url=node, rpc_timeout=0.5)
    rpc = ChainRpc(chain, retry=RetryPolicy(attempts=2, base_delay=0.05, max_delay=0.1))
    try:
        assert await rpc.block_number() == 7
        waiting = [asyncio.create_task(rpc.block_number()) for _ in range(40)]
        await asyncio.sleep(0)
        time.sleep(1.5)  # noqa: ASYNC251 - a synchronous call holds the loop; the timeouts expire
        await asyncio.gather(*waiting, return_exceptions=True)
        assert await asyncio.wait_for(rpc.block_number(), 60) == 7
    finally:
        await rpc.close()
