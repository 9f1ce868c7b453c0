"""The issuer's commands as people type them: `investor`, `token`, `captable`, `audit`.

The commands run in this process through the CLI's own entry point (``main``, which is
what the ``stbridge`` script calls), against the session's two chains. Every bad input
gets one line on stderr and a non-zero exit; keys never appear.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from relayer.chain import contracts
from relayer.deployment.session import Session
from tests.integration.compliance_world import UNIT, Cli, World, make_key, one_line_error
from tests.integration.system import System, running_relayer

pytestmark = pytest.mark.integration

AGENT_ENV = "STB_TEST_NOT_AGENT_KEY"


@pytest.fixture
def cli(system: System, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("STBRIDGE_HOME", str(system.home))
    monkeypatch.setenv(AGENT_ENV, "0x" + system.config.accounts.investors[0].secret().hex())
    monkeypatch.delenv("STB_TEST_UNSET", raising=False)
    return Cli(system, system.config_file(tmp_path / "c.toml", tmp_path / "store.db"))


UNKNOWN = "0x000000000000000000000000000000000000c0DE"


def _bad_inputs(system: System) -> list[tuple[list[str], int, str]]:
    investor = system.config.accounts.investors[0].address
    fresh = make_key("cli-never-onboarded").address
    good = ["--id", "INV-X", "--country", "DE", "--expires", "2030-01-01"]
    wrong_key = ["--key-env", AGENT_ENV]
    return [
        (["investor", "revoke", UNKNOWN], 1, "has no identity record"),
        (["investor", "freeze", UNKNOWN], 1, "has no identity record"),
        (["investor", "show", UNKNOWN], 1, "has no identity record"),
        (["investor", "update", UNKNOWN, "--country", "FR"], 1, "has no identity record"),
        (["investor", "resync", UNKNOWN], 1, "has no identity record"),
        (["investor", "add", fresh, "--id", "X", "--country", "XX", "--expires", "2030-01-01"],
         2, "'XX' is not an ISO 3166-1 alpha-2 country code"),
        (["investor", "add", fresh, "--id", "X", "--country", "1000", "--expires", "2030-01-01"],
         2, "1 to 999"),
        (["investor", "update", investor, "--country", "QQQ"], 2, "alpha-3"),
        (["investor", "add", fresh, "--id", "X", "--country", "DE", "--expires", "2020-01-01"],
         2, "expiry '2020-01-01' is in the past"),
        (["investor", "update", investor, "--expires", "2021-06-30T12:00:00Z"], 2, "in the past"),
        (["investor", "add", fresh, "--id", "X", "--country", "DE", "--expires", "someday"],
         2, "is not a date"),
        (["investor", "add", fresh, "--country", "DE", "--expires", "2030-01-01"], 2, "--id"),
        (["investor", "add", "0x1234", *good], 2, "is not an address"),
        (["investor", "add", fresh, *good, *wrong_key],
         2, "is not an agent of the IdentityRegistry"),
        (["investor", "revoke", investor, *wrong_key], 2, "lacks AGENT_ROLE"),
        (["investor", "revoke", investor, "--key-env", "STB_TEST_UNSET"], 2, "is not set"),
        (["investor", "unfreeze", investor], 2, "is not frozen"),
        (["investor", "add", investor, *good], 2, "already has a record"),
        (["token", "mint", "--token", "ACME", "--to", UNKNOWN, "--amount", "1"],
         2, "cannot receive ACME: Recipient is not a verified investor (ERC-1404 code 5)"),
        (["token", "mint", "--token", "ACME", "--to", investor, "--amount", "1", *wrong_key],
         2, "is not an agent of the SecurityToken on chain a"),
        (["token", "mint", "--token", "NOPE", "--to", investor, "--amount", "1"],
         1, "unknown token 'NOPE'"),
        (["token", "mint", "--token", "ACME", "--to", investor, "--amount", "-1"], 2, "positive"),
        (["token", "mint", "--token", "ACME", "--to", investor, "--amount",
          "0.0000000000000000001"], 2, "more than 18 decimal places"),
        (["token", "burn", "--token", "ACME", "--from", UNKNOWN, "--amount", "all"],
         2, "holds no ACME"),
        (["token", "forced-transfer", "--token", "ACME", "--from", investor, "--to", UNKNOWN,
          "--amount", "1"], 2, "cannot receive ACME on chain a"),
        (["token", "forced-transfer", "--token", "ACME", "--from", investor, "--to", UNKNOWN,
          "--amount", "1", "--chain", "c"], 2, "not deployed on chain c"),
        (["token", "pause", "--token", "ACME", *wrong_key], 2, "is not an agent"),
        (["token", "rules", "set", "--token", "ACME", "--deny", "DE,ZZ"], 2, "'ZZ'"),
        (["token", "rules", "set", "--token", "ACME", "--lockup", "2020-01-01"],
         2, "lock-up '2020-01-01' is in the past"),
        (["token", "rules", "set", "--token", "ACME", "--max-holders", "lots"],
         2, "not a whole number"),
        (["token", "rules", "set", "--token", "ACME"], 2, "no rule to set"),
        (["token", "rules", "set", "--token", "ACME", "--allow-list", "maybe"], 2, "on or off"),
        (["token", "rules", "set", "--token", "ACME", "--deny", "DE", "--undeny", "276"],
         2, "both added to and removed from"),
        (["token", "rules", "set", "--token", "ACME", "--max-holders", "5", *wrong_key],
         2, "is not an agent"),
        (["captable", "--token", "ACME", "--at-block", "c:5"], 2, "unknown chain 'c'"),
        (["captable", "--token", "ACME", "--at-block", "2999-01-01"], 2, "not final"),
        (["captable", "--token", "ACME", "--at-block", "a:999999999"], 2, "past chain a's head"),
        (["audit", "--at-block", "a:1", "--at-block", "2026-01-01"], 2, "not both"),
    ]  # fmt: skip


async def test_bad_inputs_are_one_line_errors(system: System, cli: Cli) -> None:
    before = await _home_state(system)
    for argv, code, says in _bad_inputs(system):
        one_line_error(await cli(*argv), code, says, system)
    assert await _home_state(system) == before  # nothing was written


async def _home_state(system: System) -> tuple[Any, ...]:
    async with Session(system.config, system.deployment) as session:
        w = World(system, session)
        registry = system.deployment.chain("a").address("Mailbox")
        count = await session.call("a", registry, "Mailbox", "count")
        supply = await w.call("a", "SecurityToken", "totalSupply")
        return count, supply


async def test_investor_lifecycle(system: System, cli: Cli, tmp_path: Path) -> None:
    wallet = make_key("cli-lifecycle").address
    async with running_relayer(system, tmp_path / "r.db"):
        added = await cli.ok(
            "investor", "add", wallet, "--id", "INV-CLI-1", "--country", "DEU",
            "--expires", "2030-06-30",
        )  # fmt: skip
        assert f"added {wallet}" in added.out
        assert "id INV-CLI-1, country DE (276), through 2030-06-30" in added.out
        assert "version 1" in added.out and "update for chain b: message 0x" in added.out
        await _until_in_sync(cli, wallet, 1)

        updated = await cli.ok("investor", "update", wallet, "--country", "250")
        assert "country FR (250)" in updated.out and "version 2" in updated.out
        frozen = await cli.ok("investor", "freeze", wallet)
        assert "flags frozen, version 3" in frozen.out
        again = await cli.ok("investor", "freeze", wallet)
        assert "already frozen" in again.out and "version 4" in again.out
        await cli.ok("investor", "unfreeze", wallet)
        revoked = await cli.ok("investor", "revoke", wallet)
        assert "revoked" in revoked.out and "version 6" in revoked.out
        shown = await _until_in_sync(cli, wallet, 6)
        assert shown["status"] == "revoked"
        assert shown["home"]["country"] == 250 and shown["home"]["investor_id"] == "INV-CLI-1"
        back = await cli.ok(
            "investor", "add", wallet, "--id", "INV-CLI-1", "--country", "FR", "--expires", "30d"
        )
        assert "re-onboarded" in back.out and "flags none, version 7" in back.out
        text = await cli.ok("investor", "show", wallet)
        assert f"investor {wallet}: verified" in text.out
        pushed = await cli.ok("investor", "resync", wallet)
        assert "pushed 1 record(s) again" in pushed.out and "update for chain b" in pushed.out
        await _until_in_sync(cli, wallet, 7)


async def _until_in_sync(cli: Cli, wallet: str, version: int) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        shown = (await cli.ok("investor", "show", wallet, "--json")).json()
        [mirror] = shown["mirrors"]
        if mirror["state"] == "in sync" and mirror["version"] == version:
            return dict(shown)
        assert mirror["state"] == "behind", shown
        assert time.monotonic() < deadline, f"mirror of {wallet} never reached {version}: {shown}"
        await asyncio.sleep(0.2)


async def test_token_commands(system: System, cli: Cli) -> None:
    holder, other = make_key("cli-token-holder").address, make_key("cli-token-other").address
    for wallet, ident in ((holder, "INV-CLI-2"), (other, "INV-CLI-3")):
        await cli.ok(
            "investor", "add", wallet, "--id", ident, "--country", "NL", "--expires", "90d"
        )
    minted = await cli.ok("token", "mint", "--token", "ACME", "--to", holder, "--amount", "12.5")
    assert f"minted 12.5 ACME to {holder}" in minted.out and "a: mint ACME (tx 0x" in minted.out
    moved = await cli.ok(
        "token", "forced-transfer", "--token", "ACME", "--from", holder, "--to", other,
        "--amount", "2.25",
    )  # fmt: skip
    assert f"moved 2.25 ACME from {holder} to {other}" in moved.out
    one_line_error(
        await cli("token", "burn", "--token", "ACME", "--from", holder, "--amount", "11"),
        2, "holds 10.25 ACME on chain a, fewer than the 11 ACME asked", system,
    )  # fmt: skip
    burned = await cli.ok("token", "burn", "--token", "ACME", "--from", holder, "--amount", "all")
    assert f"burned 10.25 ACME of {holder}" in burned.out
    async with Session(system.config, system.deployment) as session:
        w = World(system, session)
        assert await w.balance("a", holder) == 0
        assert await w.balance("a", other) == 225 * UNIT // 100
    try:
        paused = await cli.ok("token", "pause", "--token", "ACME")
        assert "a: pause ACME (tx 0x" in paused.out and "b: pause ACME (tx 0x" in paused.out
        assert "a: already paused" in (await cli.ok("token", "pause", "--token", "ACME")).out
        rules = (await cli.ok("token", "rules", "show", "--token", "ACME", "--json")).json()
        assert [r["paused"] for r in rules] == [True, True]
        one_line_error(
            await cli("token", "mint", "--token", "ACME", "--to", other, "--amount", "1"),
            2, "Token is paused (ERC-1404 code 1)", system,
        )  # fmt: skip
        one = await cli.ok("token", "unpause", "--token", "ACME", "--chain", "b")
        assert one.out.strip().startswith("b: unpause ACME") and "a:" not in one.out
    finally:
        await cli.ok("token", "unpause", "--token", "ACME")
    rules = (await cli.ok("token", "rules", "show", "--token", "ACME", "--json")).json()
    assert [r["paused"] for r in rules] == [False, False]


async def test_rules_are_set_on_every_chain_and_drift_is_flagged(system: System, cli: Cli) -> None:
    try:
        done = await cli.ok(
            "token", "rules", "set", "--token", "ACME", "--deny", "KP,IRN",
            "--max-holders", "100000", "--max-balance", "10000000", "--lockup", "none",
        )  # fmt: skip
        lines = done.out.strip().splitlines()
        assert [line.split(":")[0] for line in lines] == ["a", "b"]
        assert "deny KP,IR; max holders 100000; max balance 10,000,000 (tx 0x" in lines[0]
        again = await cli.ok(
            "token", "rules", "set", "--token", "ACME", "--deny", "KP", "--max-holders", "100000"
        )
        assert again.out.strip().splitlines() == [
            "a: already so, nothing sent",
            "b: already so, nothing sent",
        ]
        shown = (await cli.ok("token", "rules", "show", "--token", "ACME", "--json")).json()
        for chain in shown:
            assert chain["denied"] == [364, 408] and chain["max_holders"] == 100000
            assert chain["max_balance"] == str(10_000_000 * UNIT)
            assert not chain["differs_from_home"]

        # chain b drifts (someone with the agent key set it there only)
        async with Session(system.config, system.deployment) as session:
            agent_b = session.wallet("b", system.config.accounts.issuer_agent)
            await agent_b.transact(
                system.token("b"), contracts.load("SecurityToken").fn("setMaxHolders"), 7
            )
        shown = (await cli.ok("token", "rules", "show", "--token", "ACME", "--json")).json()
        assert [c["differs_from_home"] for c in shown] == [False, True]
        text = await cli.ok("token", "rules", "show", "--token", "ACME")
        assert "chain b's rules differ from the home chain's" in text.out
        fixed = await cli.ok("token", "rules", "set", "--token", "ACME", "--max-holders", "100000")
        assert fixed.out.strip().splitlines()[0] == "a: already so, nothing sent"
        assert fixed.out.strip().splitlines()[1].startswith("b: max holders 100000 (tx 0x")
    finally:
        await cli.ok(
            "token", "rules", "set", "--token", "ACME", "--undeny", "KP,IR",
            "--max-holders", "none", "--max-balance", "none",
        )  # fmt: skip
    shown = (await cli.ok("token", "rules", "show", "--token", "ACME", "--json")).json()
    assert all(c["denied"] == [] and c["max_holders"] == 0 for c in shown)
