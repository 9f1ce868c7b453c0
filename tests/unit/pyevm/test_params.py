"""Parameter parsing: what is accepted, and the -32602 message for what is not."""

from __future__ import annotations

import pytest

from chains.pyevm.errors import InvalidParams
from chains.pyevm.params import (
    BlockRef,
    address,
    block_ref,
    call_request,
    hex_data,
    log_query,
    positional,
    quantity,
    topics,
)

T1, T2 = "0x" + "01" * 32, "0x" + "02" * 32


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0x0", 0), ("0x1f", 31), ("0x00ff", 255), (7, 7), (2**256 - 1, 2**256 - 1)],
)
def test_quantities(value: object, expected: int) -> None:
    assert quantity(value, "argument 0") == expected


@pytest.mark.parametrize(
    "value", ["0x", "12", "0xg1", True, -1, 2**256, None, 1.5, "0x" + "f" * 65]
)
def test_bad_quantities_name_the_argument(value: object) -> None:
    with pytest.raises(InvalidParams, match="invalid argument 0"):
        quantity(value, "argument 0")


def test_hex_data_and_addresses() -> None:
    assert hex_data("0x", "a") == b""
    assert hex_data("0x00Ff", "a") == b"\x00\xff"
    for bad in ("0x1", "00", "0xzz", 5):
        with pytest.raises(InvalidParams):
            hex_data(bad, "a")
    assert address("0x" + "Ab" * 20, "a") == b"\xab" * 20
    with pytest.raises(InvalidParams, match="expected 20 bytes, got 19"):
        address("0x" + "ab" * 19, "a")


def test_block_references() -> None:
    assert block_ref(None, "b") == BlockRef(tag="latest")
    assert block_ref("finalized", "b") == BlockRef(tag="finalized")
    assert block_ref("0x10", "b") == BlockRef(number=16)
    assert block_ref({"blockHash": T1}, "b") == BlockRef(block_hash=bytes.fromhex(T1[2:]))
    assert block_ref({"blockNumber": "0x2"}, "b") == BlockRef(number=2)
    for bad in ("next", 5, {"blockHash": "0x12"}, {"foo": 1}, "0x"):
        with pytest.raises(InvalidParams, match="invalid b"):
            block_ref(bad, "b")


def test_positional_params() -> None:
    assert positional(None, 0, 1) == [None]
    assert positional(["a"], 1, 2) == ["a", None]
    with pytest.raises(InvalidParams, match="expected 1 to 2 params, got 3"):
        positional([1, 2, 3], 1, 2)
    with pytest.raises(InvalidParams, match="params must be an array"):
        positional({"a": 1}, 0, 1)


def test_call_requests() -> None:
    request = call_request({"from": "0x" + "11" * 20, "input": "0x1234", "value": "0x5"}, "a")
    assert request.data == b"\x12\x34" and request.value == 5 and request.to is None
    assert not request.names_a_price
    assert call_request({"gasPrice": "0x1"}, "a").names_a_price
    assert call_request({}, "a").sender == b"\x00" * 20
    with pytest.raises(InvalidParams, match="unknown field 'gasLimit'"):
        call_request({"gasLimit": "0x1"}, "a")
    with pytest.raises(InvalidParams, match="both data and input"):
        call_request({"data": "0x12", "input": "0x34"}, "a")
    with pytest.raises(InvalidParams, match="both gasPrice and"):
        call_request({"gasPrice": "0x1", "maxFeePerGas": "0x1"}, "a")
    with pytest.raises(InvalidParams, match=r"invalid a\.to"):
        call_request({"to": "0x12"}, "a")


def test_topic_positions() -> None:
    t1, t2 = bytes.fromhex(T1[2:]), bytes.fromhex(T2[2:])
    assert topics(None, "t") == ()
    assert topics([T1, None, [T1, T2]], "t") == (frozenset({t1}), None, frozenset({t1, t2}))
    assert topics([[], [T1, None]], "t") == (None, None)  # [] and a list with null: any
    with pytest.raises(InvalidParams, match="at most 4"):
        topics([None] * 5, "t")
    with pytest.raises(InvalidParams, match=r"invalid t\[0\]"):
        topics(["0x12"], "t")


def test_log_queries() -> None:
    query = log_query({"address": ["0x" + "11" * 20, "0x" + "22" * 20], "fromBlock": "0x1"}, "f")
    assert query.criteria.addresses == {b"\x11" * 20, b"\x22" * 20}
    assert query.from_block == BlockRef(number=1) and query.to_block == BlockRef(tag="latest")
    assert log_query({"blockHash": T1}, "f").block_hash == bytes.fromhex(T1[2:])
    with pytest.raises(InvalidParams, match="cannot be combined"):
        log_query({"blockHash": T1, "fromBlock": "0x1"}, "f")
    with pytest.raises(InvalidParams, match="unknown field 'limit'"):
        log_query({"limit": 1}, "f")
