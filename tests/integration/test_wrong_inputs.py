"""The wrong-input tour, devnet-up half: what a person types wrong, and what only the chains
can refuse, answered in one line with nothing sent.

The commands run through the CLI's own entry point against the session's two chains.
After each refusal the senders' nonces (and the mailboxes' counts) are read again: a
refused command sent no transaction at all, in particular no ``approve`` ahead of a
``bridge send`` that the token's rules stop. The offline half (the same typos with the
chains unreachable) is tests/unit/test_inputs_offline.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from relayer.chain import contracts
from relayer.config import PrivateKey
from relayer.core.restrictions import MESSAGES, UNKNOWN
from relayer.deployment.session import Session
from relayer.errors import TransactionReverted
from relayer.inputs import format_tokens
from tests.integration.compliance_world import UNIT, Cli, one_line_error
from tests.integration.system import System

pytestmark = pytest.mark.integration

TYPO = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9956"  # one digit off its EIP-55 checksum
CHECKSUM = "has a bad EIP-55 checksum (a typo?); check it, or write it all lower-case"
SEPARATOR = "has a separator: write 1.5 or 1000.5 (a dot for decimals, no separators)"
TOKEN = contracts.load("SecurityToken")
BRIDGE = contracts.load("TokenBridge")


@pytest.fixture
def cli(system: System, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("STBRIDGE_HOME", str(system.home))
    return Cli(system, system.config_file(tmp_path / "c.toml", tmp_path / "store.db"))


def _send(frm: str, to: str, amount: str, recipient: str) -> list[str]:
    return ["bridge", "send", "--from", frm, "--to", to, "--token", "ACME",
            "--amount", amount, "--recipient", recipient]  # fmt: skip


async def _sent_so_far(system: System) -> dict[str, int]:
    """Every role's nonce on every chain, and every mailbox's message count."""
    seen: dict[str, int] = {}
    async with Session(system.config, system.deployment) as session:
        for chain in system.config.chains:
            rpc = session.rpc(chain.name)
            for role, key in system.config.accounts.roles():
                seen[f"{chain.name}:{role}"] = await rpc.nonce(key.address, "pending")
            mailbox = session.address(chain.name, "Mailbox")
            seen[f"{chain.name}:mailbox"] = await session.call(
                chain.name, mailbox, "Mailbox", "count"
            )
    return seen


async def _refused(cli: Cli, system: System, argv: list[str], code: int, says: str) -> None:
    """The command fails with one line naming ``says``, and nothing was sent."""
    before = await _sent_so_far(system)
    one_line_error(await cli(*argv), code, says, system)
    assert await _sent_so_far(system) == before, argv


async def test_typos_in_addresses_and_amounts(system: System, cli: Cli) -> None:
    investor, other = (k.address for k in system.config.accounts.investors[:2])
    cases = [
        (["investor", "add", TYPO, "--id", "INV-TYPO", "--country", "DE", "--expires",
          "2027-12-31"], f"wallet {TYPO} {CHECKSUM}"),
        (["token", "mint", "--token", "ACME", "--to", TYPO, "--amount", "5"],
         f"--to {TYPO} {CHECKSUM}"),
        (_send("a", "b", "1", TYPO), f"recipient {TYPO} {CHECKSUM}"),
        (["balances", "--wallet", TYPO], f"wallet {TYPO} {CHECKSUM}"),
        (_send("a", "b", "1,5", other), f"amount '1,5' {SEPARATOR}"),
        (_send("a", "b", "1,000", other), SEPARATOR),
        (_send("a", "b", "1e3", other), "amount '1e3' has an exponent: write the number out"),
        (_send("a", "b", "-1", other), "amount '-1' is negative"),
        (_send("a", "b", "0", other), "amount '0' is zero"),
        (_send("a", "b", "", other), "amount is empty"),
        (_send("a", "b", "1000000000000.0000000000000000001", other),
         "has more than 18 decimal places"),
        (["token", "mint", "--token", "ACME", "--to", investor, "--amount", "1,5"], SEPARATOR),
    ]  # fmt: skip
    for argv, says in cases:
        await _refused(cli, system, argv, 2, says)
    # the same address in one case carries no checksum and is taken
    lower = await cli.ok("balances", "--wallet", investor.lower())
    assert "ACME" in lower.out


async def test_what_the_chains_refuse_is_said_in_token_units(system: System, cli: Cli) -> None:
    investor, other = (k.address for k in system.config.accounts.investors[:2])
    timelock_b = system.deployment.chain("b").address("HashedTimelock")
    async with Session(system.config, system.deployment) as session:
        held = await session.call("a", system.token("a"), "SecurityToken", "balanceOf", investor)
    # what earlier tests on the shared chains left it, fractions too: said as held
    asked = held // UNIT + 1
    shown = format_tokens(held, 18, "ACME")
    await _refused(
        cli, system, _send("a", "b", str(asked), other), 2,
        f"{investor} holds {shown} on a, fewer than the {asked:,} ACME asked",
    )  # fmt: skip
    await _refused(
        cli, system, _send("a", "b", "1", timelock_b), 2,
        "the recipient is stbridge's HashedTimelock on b, a custodian contract: tokens sent "
        "there would be stuck",
    )  # fmt: skip


@contextlib.asynccontextmanager
async def _changed(
    session: Session, chain: str, key: PrivateKey, to: str, do: bytes, undo: bytes
) -> AsyncIterator[None]:
    """A state change on ``chain`` for the test's duration, undone even when it fails."""
    wallet = session.wallet(chain, key)
    await wallet.wait([await wallet.send(to, do, what="set up")])
    try:
        yield
    finally:
        await wallet.wait([await wallet.send(to, undo, what="undo")])


async def test_bridge_send_the_token_refuses_sends_no_approve(system: System, cli: Cli) -> None:
    """Paused, locked up, a paused lane, above the rate limit: refused in words before any
    transaction (on main the bridge was approved first, then the send reverted)."""
    sender, other = system.config.accounts.investors[:2]
    agent, owner = system.config.accounts.issuer_agent, system.config.accounts.deployer
    token_a, token_b = system.token("a"), system.token("b")
    bridge_a = system.deployment.chain("a").address("TokenBridge")
    domain_b = system.config.chain("b").chain_id
    fn: Any = TOKEN.fn
    async with Session(system.config, system.deployment) as session:
        # an allowance short of the amount: a tool that approves first would do it now
        await session.wallet("a", sender).transact(token_a, fn("approve"), bridge_a, 0)

        async def allowance() -> int:
            return int(await session.call("a", token_a, "SecurityToken", "allowance",
                                          sender.address, bridge_a))  # fmt: skip

        pause, unpause = fn("pause").encode(), fn("unpause").encode()
        async with _changed(session, "a", agent, token_a, pause, unpause):
            await _refused(
                cli, system, _send("a", "b", "1", other.address), 2,
                f"{sender.address} cannot send ACME on a: Token is paused (ERC-1404 code 1)",
            )  # fmt: skip
            # a transfer forced past the tool reverts, and the revert is said in words too
            with pytest.raises(TransactionReverted, match=r"Token is paused \(ERC-1404 code 1\)"):
                await session.wallet("a", sender).transact(
                    token_a, fn("transfer"), other.address, 1
                )
        async with _changed(session, "b", agent, token_b, pause, unpause):
            await _refused(
                cli, system, _send("b", "a", "1", other.address), 2,
                "cannot send ACME on b: Token is paused (ERC-1404 code 1)",
            )  # fmt: skip

        head = await session.rpc("a").block("latest")
        lockup = fn("setLockupUntil")
        async with _changed(
            session, "a", agent, token_a,
            lockup.encode(head.timestamp + 86_400), lockup.encode(0),
        ):  # fmt: skip
            await _refused(
                cli, system, _send("a", "b", "1", other.address), 2,
                "cannot send ACME on a: Tokens are locked up (ERC-1404 code 10) until ",
            )  # fmt: skip

        lane_pause, lane_unpause = (
            BRIDGE.fn("pauseLane").encode(domain_b),
            BRIDGE.fn("unpauseLane").encode(domain_b),
        )
        async with _changed(session, "a", owner, bridge_a, lane_pause, lane_unpause):
            await _refused(
                cli, system, _send("a", "b", "1", other.address), 2,
                "the bridge's lane a -> b is paused by its guardian",
            )  # fmt: skip

        home = system.deployment.tokens[0].home_address
        _available, capacity, rate = await session.call(
            "a", bridge_a, "TokenBridge", "rateLimit", home, domain_b, False
        )
        limit = BRIDGE.fn("setRateLimit")
        async with _changed(
            session, "a", owner, bridge_a,
            limit.encode(home, domain_b, False, UNIT // 2, 1),
            limit.encode(home, domain_b, False, capacity, rate),
        ):  # fmt: skip
            await _refused(
                cli, system, _send("a", "b", "1", other.address), 2,
                "1 ACME is more than the bridge's lane a -> b lets through at once (0.5 ACME)",
            )  # fmt: skip
        assert await allowance() == 0  # nothing was approved along the way


async def test_restriction_words_are_the_tokens_own(system: System) -> None:
    """The table the CLI decodes reverts with says what the token itself says."""
    async with Session(system.config, system.deployment) as session:
        for code in range(12):
            said = await session.call(
                "a", system.token("a"), "SecurityToken", "messageForTransferRestriction", code
            )
            assert said == MESSAGES.get(code, UNKNOWN), code
