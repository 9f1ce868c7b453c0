"""JSON-RPC envelope handling over raw HTTP: batches, malformed bodies, error codes.

Whatever a client sends, the node answers with the right JSON-RPC error and keeps
serving the next request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from chains.pyevm import ThreadedNode
from tests.fixtures.pyevm.support import CHAIN_ID, account, funded_config, post, rpc

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def node() -> Iterator[ThreadedNode]:
    with ThreadedNode(funded_config()) as running:
        yield running


def still_answers(url: str) -> None:
    assert rpc(url, "eth_chainId")["result"] == hex(CHAIN_ID)


def test_batch_answers_each_request_in_order(node: ThreadedNode) -> None:
    holder = account(0).address
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": "two", "method": "eth_getBalance", "params": [holder, "latest"]},
        {"jsonrpc": "2.0", "id": 3, "method": "no_suchMethod", "params": []},
        {"jsonrpc": "2.0", "id": 4, "method": "eth_getBalance", "params": ["0x12"]},
        {"jsonrpc": "2.0", "method": "eth_blockNumber", "params": []},  # notification
        {"jsonrpc": "2.0", "id": 5, "method": "eth_blockNumber"},
        7,
    ]
    status, answers = post(node.url, json.dumps(batch))
    assert status == 200
    assert [a["id"] for a in answers] == [1, "two", 3, 4, 5, None]
    assert answers[0]["result"] == hex(CHAIN_ID)
    assert int(answers[1]["result"], 16) == 1000 * 10**18
    assert answers[2]["error"]["code"] == -32601
    assert answers[3]["error"]["code"] == -32602
    assert answers[4]["result"].startswith("0x")
    assert answers[5]["error"]["code"] == -32600


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", -32700),
        (b"\xff\xfe", -32700),
        ("", -32700),
        ("[]", -32600),
        ('"eth_chainId"', -32600),
        ('{"jsonrpc": "2.0", "id": 1}', -32600),
        ('{"jsonrpc": "2.0", "id": 1, "method": 5}', -32600),
        ('{"jsonrpc": "1.0", "id": 1, "method": "eth_chainId"}', -32600),
        ('{"jsonrpc": "2.0", "id": [1], "method": "eth_chainId"}', -32600),
        ('{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": "x"}', -32600),
        ('{"jsonrpc": "2.0", "id": 1, "method": "eth_nope", "params": []}', -32601),
        ('{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": {"a": 1}}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": []}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["0xzz"]}', -32602),
        (
            '{"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["next"]}',
            -32602,
        ),
        ('{"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [{"topics": 5}]}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"to": "0x1"}]}', -32602),
        (
            '{"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x"]}',
            -32000,
        ),
    ],
)
def test_malformed_requests_get_their_error_code(node: ThreadedNode, body: str, code: int) -> None:
    status, answer = post(node.url, body)
    assert status == 200
    assert answer["error"]["code"] == code
    assert "\n" not in answer["error"]["message"]
    still_answers(node.url)


def test_an_unexpected_handler_failure_is_internal_error_and_logged(
    node: ThreadedNode, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(params: object) -> object:
        raise RuntimeError("boom\nsecond line")

    dispatcher = node.node._dispatcher
    dispatcher._table = {**dispatcher._table, "test_broken": broken}  # type: ignore[attr-defined]
    answer = rpc(node.url, "test_broken")
    assert answer["error"] == {
        "code": -32603,
        "message": "internal error in test_broken: RuntimeError: boom second line",
    }
    assert any("test_broken" in r.getMessage() for r in caplog.records)
    still_answers(node.url)


def test_notification_alone_gets_no_body(node: ThreadedNode) -> None:
    status, answer = post(node.url, '{"jsonrpc": "2.0", "method": "eth_chainId"}')
    assert (status, answer) == (204, None)


def test_oversized_batch_is_refused(node: ThreadedNode) -> None:
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(1001)]
    _, answer = post(node.url, json.dumps(batch))
    assert answer["error"]["code"] == -32600 and "at most 1000" in answer["error"]["message"]


def test_get_is_not_json_rpc(node: ThreadedNode) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(node.url, timeout=5)  # noqa: S310 - our test node
    assert refused.value.code == 405
    still_answers(node.url)
