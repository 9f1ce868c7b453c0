"""The bridge refuses custodian contracts as recipients (issue 12, item 8).

A transfer to a timelock, a bridge, a mailbox or a registry would leave the tokens in a
contract that holds tokens only in its own books: `stbridge bridge send` says so in one
line and sends nothing, and the contract itself refuses (`CustodianRecipient`), so no
other client can do it either. deploy.py lists every chain's custodians on each bridge.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from relayer.chain import contracts
from relayer.deployment.deployer import deploy
from relayer.deployment.session import Session
from relayer.errors import TransactionReverted
from tests.integration.system import System

pytestmark = pytest.mark.integration

CUSTODIANS_ON_B = ("HashedTimelock", "TokenBridge", "Mailbox", "MirrorIdentityRegistry")


def stbridge(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STBRIDGE_HOME": str(system.home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "relayer", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def test_send_to_the_timelock_on_b_is_refused_and_moves_nothing(
    system: System, tmp_path: Path
) -> None:
    timelock_b = system.deployment.chain("b").address("HashedTimelock")
    bridge_a = system.deployment.chain("a").address("TokenBridge")
    sender = system.config.accounts.investors[0]  # the CLI's devnet default key
    token_abi = contracts.load("SecurityToken")
    mailbox_abi = contracts.load("Mailbox")
    mailbox_a = system.deployment.chain("a").address("Mailbox")

    async with Session(system.config, system.deployment) as session:
        wallet_a = session.wallet("a", sender)
        wallet_b = session.wallet("b", sender)

        async def state() -> tuple[int, int, int, int]:
            return (
                await wallet_a.call(system.token("a"), token_abi.fn("balanceOf"), sender.address),
                await wallet_a.call(system.token("a"), token_abi.fn("balanceOf"), bridge_a),
                await wallet_b.call(system.token("b"), token_abi.fn("balanceOf"), timelock_b),
                await wallet_a.call(mailbox_a, mailbox_abi.fn("count")),
            )

        before = await state()
        assert before[0] >= 10**18, "the devnet investor holds ACME on a"

        result = stbridge(
            system, "bridge", "send", "--from", "a", "--to", "b", "--token", "ACME",
            "--amount", "1", "--recipient", timelock_b,
            "-c", str(system.config_file(tmp_path / "c.toml", tmp_path / "store.db")),
        )  # fmt: skip
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0, result.stdout
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: "), lines[0]
        assert "custodian" in lines[0].lower(), lines[0]
        assert "HashedTimelock on b" in lines[0], lines[0]  # the CLI names it before sending
        assert sender.secret().hex() not in result.stderr + result.stdout
        assert await state() == before, "no token moved and nothing was dispatched"

        # The contract refuses too, whoever calls it: every custodian kind on b.
        bridge_abi = contracts.load("TokenBridge")
        chain_b = system.config.chain("b").chain_id
        for name in CUSTODIANS_ON_B:
            custodian = system.deployment.chain("b").address(name)
            assert await wallet_a.call(bridge_a, bridge_abi.fn("isCustodian"), chain_b, custodian)
            with pytest.raises(TransactionReverted, match=r"CustodianRecipient\(") as refused:
                await wallet_a.call(
                    bridge_a, bridge_abi.fn("send"), system.token("a"), chain_b, custodian, 1
                )
            assert custodian.lower() in str(refused.value).lower()
        assert await state() == before


async def test_deploy_lists_custodians_once(system: System) -> None:
    """The custodian wiring is idempotent: a second deploy sends nothing; each bridge knows
    every custodian of the chains it serves (the home bridge: all chains)."""
    report = await deploy(system.config)
    assert not report.changed, report.changes
    bridge_abi = contracts.load("TokenBridge")
    bridge_a = system.deployment.chain("a").address("TokenBridge")
    async with Session(system.config, system.deployment) as session:
        wallet = session.wallet("a", system.config.accounts.investors[0])
        for chain in system.config.chains:
            for name, address in system.deployment.chain(chain.name).contracts.items():
                wanted = name != "PaymentToken"
                got = await wallet.call(
                    bridge_a, bridge_abi.fn("isCustodian"), chain.chain_id, address
                )
                assert got is wanted, (chain.name, name)
