"""A typo is answered at once, with the devnet down: the wrong-input tour, offline half.

Every command parses what it was given before it connects to a chain. Here the config's
chains point at ports that refuse connections (bound, never listening), so a command that
reached for a chain before checking its inputs would fail with "cannot be reached"
(exit 1) instead of naming the input (exit 2). The deployment record is a local file,
written here, so amounts can be scaled by the token's decimals without any chain.
The devnet-up half, with what only the chains can say, is
tests/integration/test_wrong_inputs.py.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils.address import to_checksum_address

from relayer.cli import main
from relayer.config import parse_config
from relayer.core.hashing import keccak256
from relayer.deployment.record import ChainDeployment, Deployment, TokenDeployment, save_deployment
from tests.helpers import devnet_raw, write_config

TYPO = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9956"  # the issue's: one digit off its checksum
GOOD = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"
CHECKSUM = "has a bad EIP-55 checksum (a typo?); check it, or write it all lower-case"
SEPARATOR = "has a separator: write 1.5 or 1000.5 (a dot for decimals, no separators)"


def _address(name: str) -> str:
    return str(to_checksum_address("0x" + keccak256(name.encode())[:20].hex()))


@pytest.fixture
def refused_ports() -> Iterator[list[int]]:
    """Two loopback ports that are taken and refuse every connection."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(2)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        yield [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.fixture
def offline(
    tmp_path: Path, refused_ports: list[int], monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Deployment]:
    """A config whose chains cannot be reached, and a deployment record for it."""
    raw = devnet_raw()
    for chain, port in zip(raw["chains"], refused_ports, strict=True):
        chain["rpc_url"] = f"http://127.0.0.1:{port}"
    config = parse_config(raw)
    home = tmp_path / "home"
    monkeypatch.setenv("STBRIDGE_HOME", str(home))
    chains = {
        c.name: ChainDeployment(
            c.name,
            c.chain_id,
            0,
            {
                name: _address(f"{c.name}:{name}")
                for name in ("Mailbox", "TokenBridge", "HashedTimelock", "IdentityRegistry")
            },
        )
        for c in config.chains
    }
    acme = TokenDeployment(
        "ACME", "Acme", 18, config.home, {c.name: _address(f"{c.name}:ACME") for c in config.chains}
    )
    deployment = Deployment(
        config.network,
        config.home,
        chains,
        [acme],
        {c.name: _address(f"{c.name}:dUSD") for c in config.chains},
    )
    save_deployment(deployment, home)
    return write_config(tmp_path / "offline.toml", raw), deployment


def _run(config: Path, capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capfd.readouterr()
    code = main([*argv, "-c", str(config)])
    captured = capfd.readouterr()
    return code, captured.err


SEND = ["bridge", "send", "--from", "a", "--to", "b", "--token", "ACME"]


def _cases(deployment: Deployment) -> list[tuple[list[str], str]]:
    timelock_b = deployment.chain("b").address("HashedTimelock")
    return [
        # the example, then every other place an address is typed
        (["investor", "add", TYPO, "--id", "INV-TYPO", "--country", "DE", "--expires",
          "2027-12-31"], f"wallet {TYPO} {CHECKSUM}"),
        (["investor", "update", TYPO, "--country", "FR"], CHECKSUM),
        (["investor", "revoke", TYPO], CHECKSUM),
        (["investor", "show", TYPO], CHECKSUM),
        (["investor", "resync", GOOD, TYPO], CHECKSUM),
        (["token", "mint", "--token", "ACME", "--to", TYPO, "--amount", "5"],
         f"--to {TYPO} {CHECKSUM}"),
        (["token", "burn", "--token", "ACME", "--from", TYPO, "--amount", "all"], CHECKSUM),
        (["token", "forced-transfer", "--token", "ACME", "--from", GOOD, "--to", TYPO,
          "--amount", "1"], CHECKSUM),
        ([*SEND, "--amount", "1", "--recipient", TYPO], f"recipient {TYPO} {CHECKSUM}"),
        (["balances", "--wallet", TYPO], f"wallet {TYPO} {CHECKSUM}"),
        (["dvp", "offer", "--buyer", TYPO, "--sell", "1", "--price", "1"], CHECKSUM),
        (["token", "mint", "--token", TYPO, "--to", GOOD, "--amount", "1"],
         f"token {TYPO} {CHECKSUM}"),
        (["captable", "--token", TYPO], f"token {TYPO} {CHECKSUM}"),
        (["captable", "--token", "ACME", "--at-block", "a:ten"], "the block must be a whole"),
        (["audit", "--at-block", "2026-02-30"], "is not a calendar date"),
        # amounts, as people in other locales and other tools write them
        ([*SEND, "--amount", "1,5", "--recipient", GOOD], f"amount '1,5' {SEPARATOR}"),
        ([*SEND, "--amount", "1,000", "--recipient", GOOD], SEPARATOR),
        ([*SEND, "--amount", "1.000,50", "--recipient", GOOD], SEPARATOR),
        ([*SEND, "--amount", "1_000", "--recipient", GOOD], SEPARATOR),
        ([*SEND, "--amount", "1e3", "--recipient", GOOD],
         "amount '1e3' has an exponent: write the number out (1000)"),
        ([*SEND, "--amount", "-1", "--recipient", GOOD], "amount '-1' is negative"),
        ([*SEND, "--amount", "0", "--recipient", GOOD], "amount '0' is zero"),
        ([*SEND, "--amount", "", "--recipient", GOOD], "amount is empty"),
        ([*SEND, "--amount", "+5", "--recipient", GOOD], "has a sign"),
        ([*SEND, "--amount", "NaN", "--recipient", GOOD], "amount 'NaN' is not a number"),
        ([*SEND, "--amount", "Infinity", "--recipient", GOOD], "is not a number"),
        ([*SEND, "--amount", "0x10", "--recipient", GOOD], "is hex"),
        # 31 significant digits: Decimal's 28-digit default once rounded this to 10^12 ACME
        ([*SEND, "--amount", "1000000000000.0000000000000000001", "--recipient", GOOD],
         "has more than 18 decimal places"),
        (["token", "mint", "--token", "ACME", "--to", GOOD, "--amount", "1,5"], SEPARATOR),
        (["token", "burn", "--token", "ACME", "--from", GOOD, "--amount", "1e3"], "exponent"),
        (["token", "rules", "set", "--token", "ACME", "--max-balance", "1,000"], SEPARATOR),
        (["token", "rules", "set", "--token", "ACME", "--max-holders", "1,000"],
         "has a separator: write the digits only"),
        (["dvp", "offer", "--buyer", GOOD, "--sell", "1", "--price", "2,5"], SEPARATOR),
        # tokens sent to the deployment's own contracts would be stuck
        ([*SEND, "--amount", "1", "--recipient", timelock_b],
         "the recipient is stbridge's HashedTimelock on b, a custodian contract: tokens sent "
         "there would be stuck"),
        ([*SEND, "--amount", "1", "--recipient", deployment.tokens[0].addresses["b"]],
         "the recipient is stbridge's ACME token on b, a contract"),
        (["token", "mint", "--token", "ACME", "--to", deployment.chain("a").address("TokenBridge"),
          "--amount", "1"], "the recipient is stbridge's TokenBridge on a, a custodian contract"),
    ]  # fmt: skip


def test_every_wrong_input_is_one_line_before_any_chain(
    offline: tuple[Path, Deployment], capfd: pytest.CaptureFixture[str]
) -> None:
    config, deployment = offline
    for argv, says in _cases(deployment):
        code, err = _run(config, capfd, *argv)
        lines = err.strip().splitlines()
        assert code == 2, (argv, code, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
        assert says in lines[0], (argv, lines[0])
        assert "cannot be reached" not in err and "connection refused" not in err


def test_the_tour_reaches_for_the_chain_once_the_inputs_are_right(
    offline: tuple[Path, Deployment], capfd: pytest.CaptureFixture[str]
) -> None:
    """The control: the same commands with good inputs do try the chains (and say they
    cannot be reached), so the refusals above came before any connection."""
    config, _deployment = offline
    for argv in (
        [*SEND, "--amount", "1.5", "--recipient", GOOD.lower()],
        ["balances", "--wallet", GOOD],
        ["token", "mint", "--token", "ACME", "--to", GOOD.upper().replace("0X", "0x"),
         "--amount", "5"],
    ):  # fmt: skip
        code, err = _run(config, capfd, *argv)
        assert code == 1 and ("cannot be reached" in err or "connection refused" in err), (
            argv,
            err,
        )
