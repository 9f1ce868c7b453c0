"""Node settings and genesis funding from --fund and --fund-file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chains.pyevm.config import (
    MAX_CHAIN_ID,
    NodeConfig,
    load_fund_file,
    merge_alloc,
    parse_balance,
    parse_fund,
)
from chains.pyevm.errors import NodeStartError

A = "0x" + "aB" * 20
B = "0x" + "cd" * 20


def test_fund_specs() -> None:
    assert parse_fund(f"{A}=1000") == (b"\xab" * 20, 1000)
    assert parse_fund(f"{A}=0x10") == (b"\xab" * 20, 16)
    bad_specs = [
        ("nonsense", "expected 0xADDRESS=WEI"),
        (f"{A}=-1", "out of range"),
        (f"{A}=ten", "not an integer"),
        ("0x12=1", "not a 0x-prefixed"),
    ]
    for bad, message in bad_specs:
        with pytest.raises(NodeStartError, match=message):
            parse_fund(bad)


def test_fund_file_in_both_shapes(tmp_path: Path) -> None:
    as_map = tmp_path / "map.json"
    as_map.write_text(json.dumps({A: "5", B: 7}))
    as_list = tmp_path / "list.json"
    as_list.write_text(json.dumps([{"address": A, "balance": "0x5"}, {"address": B, "balance": 7}]))
    assert (
        load_fund_file(as_map) == load_fund_file(as_list) == [(b"\xab" * 20, 5), (b"\xcd" * 20, 7)]
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('"text"', "expected an object"),
        ('[{"address": "0x12", "balance": 1}]', "entry 0: '0x12' is not"),
        (json.dumps([{"address": A}]), 'entry 0: expected {"address": ..., "balance": ...}'),
        (json.dumps({A: True}), "is not an amount of wei"),
    ],
)
def test_bad_fund_files_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "accounts.json"
    path.write_text(content)
    with pytest.raises(NodeStartError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_fund_file(path)
    with pytest.raises(NodeStartError, match="does not exist"):
        load_fund_file(tmp_path / "missing.json")


def test_alloc_sums_and_bounds() -> None:
    assert merge_alloc([(b"a" * 20, 1), (b"a" * 20, 2)]) == {b"a" * 20: 3}
    with pytest.raises(NodeStartError, match="more than 2\\*\\*256-1"):
        merge_alloc([(b"a" * 20, 2**255), (b"a" * 20, 2**255)])
    assert parse_balance(2**256 - 1, "x") == 2**256 - 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"chain_id": 0}, "chain id 0 is out of range"),
        ({"chain_id": MAX_CHAIN_ID + 1}, "is out of range"),
        ({"block_time": -0.5}, "block time -0.5 is invalid"),
        ({"block_time": float("nan")}, "block time nan is invalid"),
        ({"gas_limit": 20_999}, "gas limit 20999 is out of range"),
        ({"port": 65536}, "port 65536 is out of range"),
    ],
)
def test_config_bounds(fields: dict[str, float], message: str) -> None:
    with pytest.raises(NodeStartError, match=message):
        NodeConfig(**{"chain_id": 1, **fields})  # type: ignore[arg-type]
