"""The edge between the relayer's command line and ``chains``: the config's chains as
ChainSpecs, and chains' errors as the relayer's one-line errors (nothing here starts a
chain)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chains import errors as chain_errors
from chains.devnet import up
from relayer import errors
from relayer.cli import main
from relayer.cli.devnet import chain_specs, map_chain_errors
from relayer.config import load_config
from tests.helpers import DEVNET_TOML


def test_chain_specs_carry_what_the_devnet_needs() -> None:
    config = load_config(DEVNET_TOML)
    specs = chain_specs(config)
    assert [(s.name, s.chain_id, s.rpc_url) for s in specs] == [
        (c.name, c.chain_id, c.rpc_url) for c in config.chains
    ]
    for spec, chain in zip(specs, config.chains, strict=True):
        assert (spec.host, spec.port) == (chain.host, chain.port)
        assert (spec.block_time, spec.gas_limit) == (chain.block_time, chain.gas_limit)


@pytest.mark.parametrize(
    ("theirs", "ours", "exit_code"),
    [
        (chain_errors.PortInUse, errors.PortInUse, 1),
        (chain_errors.BackendMissing, errors.BackendMissing, 1),
        (chain_errors.ChainStartTimeout, errors.ChainStartTimeout, 1),
        (chain_errors.DevnetError, errors.DevnetError, 1),
        (chain_errors.UnknownChain, errors.InputError, 2),
        (chain_errors.NodeUnavailable, errors.ChainUnavailable, 1),
        (chain_errors.RpcFailed, errors.ChainError, 1),
    ],
)
def test_chains_errors_become_the_relayers(
    theirs: type[Exception], ours: type[errors.StbridgeError], exit_code: int
) -> None:
    with pytest.raises(errors.StbridgeError) as raised, map_chain_errors():
        raise theirs("what went wrong: how to fix it")
    assert type(raised.value) is ours
    assert str(raised.value) == "what went wrong: how to fix it"
    assert raised.value.exit_code == exit_code


def test_other_errors_pass_through() -> None:
    with pytest.raises(KeyError), map_chain_errors():
        raise KeyError("x")


def test_a_devnet_error_is_one_line_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """chains raises its own DevnetError; main prints it as one line, exit 1."""
    monkeypatch.setenv("STBRIDGE_HOME", str(tmp_path))
    assert main(["devnet", "restart", "a"]) == 1
    err = capfd.readouterr().err
    assert err.strip() == "error: the devnet is not running: `stbridge devnet up` starts it"


def test_up_without_chains_is_refused(tmp_path: Path) -> None:
    with pytest.raises(chain_errors.DevnetError, match="no chains to start"):
        up([], [], directory=tmp_path)
