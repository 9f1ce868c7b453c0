"""The config loader names the exact key and problem of a bad file, and never a key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from relayer.config import load_config, parse_config
from relayer.errors import ConfigError
from tests.helpers import DEVNET_TOML, devnet_raw, write_config

RELAYER_KEY = "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e"


def _error(raw: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source="test.toml", env=env or {})
    message = str(info.value)
    assert "\n" not in message
    return message


def test_shipped_devnet_config_loads() -> None:
    config = load_config(DEVNET_TOML)
    assert [c.chain_id for c in config.chains] == [65001, 65002]
    assert config.home_chain.name == "a"
    assert config.accounts.devnet_only
    assert config.validators.threshold <= len(config.accounts.validators)
    assert config.accounts.relayer.address == "0x976EA74026E726554dB657fA54763abd0C3a0aa9"


def test_unknown_key_is_named() -> None:
    raw = devnet_raw()
    raw["chains"][1]["confirmation"] = 2
    assert _error(raw) == "test.toml: chains[1].confirmation: unknown key"


def test_unknown_top_level_table_is_named() -> None:
    raw = devnet_raw()
    raw["relayr"] = {"store": "sqlite:///x.db"}
    assert "relayr: unknown key" in _error(raw)


def test_wrong_type_is_named_with_the_value() -> None:
    raw = devnet_raw()
    raw["chains"][0]["chain_id"] = "65001"
    message = _error(raw)
    assert message.startswith("test.toml: chains[0].chain_id: ")
    assert "'65001'" in message


def test_duplicate_chain_id() -> None:
    raw = devnet_raw()
    raw["chains"][1]["chain_id"] = 65001
    assert "chains[1].chain_id: duplicate chain id 65001 (also chains[0])" in _error(raw)


def test_duplicate_chain_name() -> None:
    raw = devnet_raw()
    raw["chains"][1]["name"] = "a"
    assert "chains[1].name: duplicate name a" in _error(raw)


def test_missing_required_key() -> None:
    raw = devnet_raw()
    del raw["chains"][0]["chain_id"]
    assert "chains[0].chain_id: required key is missing" in _error(raw)


def test_home_must_be_a_chain() -> None:
    raw = devnet_raw()
    raw["home"] = "c"
    assert "home: 'c' is not one of the chains (a, b)" in _error(raw)


def test_bad_rpc_url() -> None:
    raw = devnet_raw()
    raw["chains"][0]["rpc_url"] = "127.0.0.1:8545"
    assert "chains[0].rpc_url:" in _error(raw)


def test_missing_env_var_for_a_key() -> None:
    raw = devnet_raw()
    raw["accounts"]["relayer"] = "env:STB_TEST_RELAYER_KEY"
    message = _error(raw, env={})
    assert "accounts.relayer: environment variable STB_TEST_RELAYER_KEY is not set" in message


def test_key_from_env_var_loads_and_is_not_shown() -> None:
    raw = devnet_raw()
    raw["accounts"]["relayer"] = "env:STB_TEST_RELAYER_KEY"
    config = parse_config(raw, env={"STB_TEST_RELAYER_KEY": RELAYER_KEY})
    assert config.accounts.relayer.address == "0x976EA74026E726554dB657fA54763abd0C3a0aa9"
    shown = repr(config) + str(config.accounts) + repr(config.accounts.relayer)
    assert RELAYER_KEY[2:] not in shown.lower()


def test_malformed_key_is_refused_without_echoing_it() -> None:
    raw = devnet_raw()
    bad = RELAYER_KEY[:-1] + "g"
    raw["accounts"]["relayer"] = bad
    message = _error(raw)
    assert "accounts.relayer: not a 32-byte hex private key" in message
    assert bad[2:20] not in message


def test_env_var_with_a_malformed_key_is_refused_without_echoing_it() -> None:
    raw = devnet_raw()
    raw["accounts"]["validators"][1] = "env:V1"
    message = _error(raw, env={"V1": "0x1234deadbeef"})
    expected = "accounts.validators[1]: environment variable V1 does not hold a 32-byte hex key"
    assert expected in message
    assert "deadbeef" not in message


def test_inline_keys_need_devnet_only() -> None:
    raw = devnet_raw()
    raw["accounts"]["devnet_only"] = False
    message = _error(raw)
    expected = "accounts.deployer: inline keys are allowed only with accounts.devnet_only = true"
    assert expected in message


def test_threshold_above_validator_count() -> None:
    raw = devnet_raw()
    raw["validators"]["threshold"] = 4
    assert "validators.threshold: 4 is more than the 3 validator keys" in _error(raw)


def test_threshold_zero_refused() -> None:
    raw = devnet_raw()
    raw["validators"]["threshold"] = 0
    assert "validators.threshold:" in _error(raw)


def test_production_needs_a_majority_and_warns_below_two_thirds() -> None:
    raw = devnet_raw()
    accounts = raw["accounts"]
    env = {}
    for field in ("deployer", "issuer_agent", "guardian", "relayer"):
        env[field.upper()] = accounts[field]
        accounts[field] = f"env:{field.upper()}"
    keys = [*accounts["validators"], *accounts["investors"]]
    accounts["validators"] = []
    for i, key in enumerate(keys[:5]):
        env[f"V{i}"] = key
        accounts["validators"].append(f"env:V{i}")
    accounts["investors"] = []
    accounts["traders"] = []
    accounts["devnet_only"] = False
    raw["validators"]["threshold"] = 2
    message = _error(copy.deepcopy(raw), env=env)
    assert "validators.threshold: 2 of 5 is not a majority" in message
    raw["validators"]["threshold"] = 3
    config = parse_config(raw, env=env)
    assert config.weak_threshold_warning() == "validator threshold 3 of 5 is below two thirds"
    raw["validators"]["threshold"] = 4
    assert parse_config(raw, env=env).weak_threshold_warning() is None


def test_bad_store_url() -> None:
    raw = devnet_raw()
    raw["relayer"]["store"] = "mysql://x"
    assert "relayer.store: must be sqlite:///PATH or postgresql://" in _error(raw)


def test_lease_seconds_default_and_bounds() -> None:
    raw = devnet_raw()
    assert parse_config(raw).relayer.lease_seconds == 60.0
    raw["relayer"]["lease_seconds"] = 5  # an integer is taken as seconds
    assert parse_config(raw).relayer.lease_seconds == 5.0
    raw["relayer"]["lease_seconds"] = 0.5
    assert "relayer.lease_seconds: Input should be greater than or equal to 1" in _error(raw)


def test_several_problems_in_one_line() -> None:
    raw = devnet_raw()
    raw["chains"][0]["bogus"] = 1
    raw["chains"][1]["confirmations"] = -1
    message = _error(raw)
    assert "chains[0].bogus: unknown key" in message
    assert "chains[1].confirmations:" in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such config file \(pass --config PATH\)"):
        load_config(tmp_path / "nope.toml")


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("network = \n")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        load_config(path)


def test_file_round_trip(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "c.toml", devnet_raw(confirmations=3)))
    assert {c.confirmations for c in config.chains} == {3}
