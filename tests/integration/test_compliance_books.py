"""`stbridge captable` and `stbridge audit` on two real chains: they reconcile when the
books balance, and exit non-zero naming the difference when they do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from relayer.actions.bridge import send_transfer
from relayer.actions.investors import flag_investor
from relayer.actions.session import Session
from relayer.chain import contracts
from tests.integration.compliance_world import UNIT, Cli, World, make_key
from tests.integration.system import System, drained, running_relayer, wait_delivered

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(system: System, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("STBRIDGE_HOME", str(system.home))
    return Cli(system, system.config_file(tmp_path / "c.toml", tmp_path / "store.db"))


async def _final(world: World) -> dict[str, tuple[int, int]]:
    """Wait until the newest blocks are inside the default cut; (block, time) per chain."""
    marks = {}
    for chain in ("a", "b"):
        head = await world.session.rpc(chain).block("latest")
        marks[chain] = (head.number, head.timestamp)
    for chain in ("a", "b"):
        await world.time_passes(chain, marks[chain][1] + 2)
    return marks


async def test_cap_table_over_both_chains(system: System, cli: Cli, tmp_path: Path) -> None:
    holder = make_key("books-holder")
    async with Session(system.config, system.deployment) as session:
        w = World(system, session)
        await w.fund([holder])
        before = await _final(w)
        await w.onboard([holder], holding=35 * UNIT // 10)
        async with running_relayer(system, tmp_path / "r.db") as relay:
            sent = await send_transfer(
                session, key=holder, origin="a", destination="b", token="ACME", amount=UNIT,
                recipient=holder.address,
            )  # fmt: skip
            await wait_delivered(relay.store, [bytes.fromhex(sent.message_id[2:])], 60)
        await _final(w)
        supply = await w.call("a", "SecurityToken", "totalSupply")

        table = (await cli.ok("captable", "--token", "ACME", "--json")).json()
        assert table["reconciled"] and not table["problems"]
        assert table["issued"] == str(supply)
        row = next(h for h in table["holders"] if h["wallet"] == holder.address)
        assert row == {
            "wallet": holder.address, "status": "verified",
            "balances": {"a": str(25 * UNIT // 10), "b": str(UNIT)}, "total": str(35 * UNIT // 10),
        }  # fmt: skip
        assert table["holder_count"] == len(table["holders"])
        assert table["onchain_holder_counts"]["b"] == sum(
            1 for h in table["holders"] if h["balances"].get("b", "0") != "0"
        )
        roles = {(c["chain"], c["role"]) for c in table["custodians"]}
        assert roles == {
            ("a", "bridge escrow"),
            ("a", "timelock"),
            ("b", "bridge"),
            ("b", "timelock"),
        }
        escrow = next(c for c in table["custodians"] if c["role"] == "bridge escrow")
        assert all(h["wallet"] != escrow["address"] for h in table["holders"])
        [lane] = table["lanes"]
        assert lane["ok"] and lane["locked"] == table["supplies"]["b"]
        held = sum(int(h["total"]) for h in table["holders"])
        assert held + int(table["in_custody"]) + int(table["in_flight"]) == supply

        text = await cli.ok("captable", "--token", "ACME")
        [line] = [line for line in text.out.splitlines() if holder.address in line]
        assert line.split()[1:] == ["│", "verified", "│", "2.5", "│", "1", "│", "3.5"], line
        assert "reconciled" in text.out and "lane a<->b" in text.out

        # read before the holder existed: by blocks, and by time
        blocks = ["--at-block", f"a:{before['a'][0]}", "--at-block", f"b:{before['b'][0]}"]
        earlier = (await cli.ok("captable", "--token", "ACME", "--json", *blocks)).json()
        assert earlier["cut"]["blocks"] == {"a": before["a"][0], "b": before["b"][0]}
        assert holder.address not in {h["wallet"] for h in earlier["holders"]}
        assert earlier["reconciled"], earlier["problems"]
        moment = f"@{min(before['a'][1], before['b'][1])}"
        by_time = (
            await cli.ok("captable", "--token", "ACME", "--json", "--at-block", moment)
        ).json()
        assert holder.address not in {h["wallet"] for h in by_time["holders"]}
        assert by_time["reconciled"], by_time["problems"]

        audited = await cli.ok("audit")
        assert "audit passed" in audited.out


async def test_unbacked_supply_on_the_remote_chain_is_reported(system: System, cli: Cli) -> None:
    """The agent mints on b directly, outside the bridge: b's supply is no longer backed by
    escrow. The cap table and the audit both say so and exit non-zero."""
    investor = system.config.accounts.investors[0].address
    token_b = system.token("b")
    fn = contracts.load("SecurityToken").fn
    extra = 5 * UNIT + 1
    async with Session(system.config, system.deployment) as session:
        w = World(system, session)
        agent = session.wallet("b", system.config.accounts.issuer_agent)
        await agent.transact(token_b, fn("mint"), investor, extra)
        try:
            await _final(w)
            table = await cli("captable", "--token", "ACME")
            assert table.code == 1
            lines = table.err.strip().splitlines()
            assert lines and all(line.startswith("mismatch: ") for line in lines)
            assert any(
                "lane a<->b" in line and "(difference -5.000000000000000001 ACME)" in line
                for line in lines
            ), lines
            assert any(
                "issued supply" in line and "(difference -5.000000000000000001 ACME)" in line
                for line in lines
            ), lines
            assert "does not reconcile" in table.out
            audited = await cli("audit", "--json")
            assert audited.code == 1
            assert not audited.json()["ok"]
            assert "violation: ACME lane a<->b" in audited.err
        finally:
            await agent.transact(token_b, fn("burn"), investor, extra)
        await _final(w)
        assert (await cli("captable", "--token", "ACME")).code == 0


async def test_audit_tells_a_mirror_catching_up_from_one_left_behind(
    system: System, cli: Cli, tmp_path: Path
) -> None:
    key = make_key("books-mirror")
    wallet = key.address
    registry_abi = contracts.load("IdentityRegistry")
    b_id = system.config.chain("b").chain_id
    async with Session(system.config, system.deployment) as session:
        w = World(system, session)
        registry = w.address("a", "IdentityRegistry")
        mirror = bytes(12) + bytes.fromhex(w.address("b", "MirrorIdentityRegistry")[2:])
        admin = session.wallet("a", system.config.accounts.deployer)
        async with running_relayer(system, tmp_path / "r.db") as relay:
            await w.onboard([key])
            await w.wait_mirror(wallet, 1)
            await drained(relay)
        # the relayer is down: a freeze is on its way, the mirror is catching up
        await flag_investor(session, w.agent, wallet, "freeze")
        await _final(w)
        report = (await cli.ok("audit", "--json")).json()
        assert report["ok"] and report["mirrors"][0]["catching_up"] >= 1
        try:
            # the mirror is unenrolled: the unfreeze reaches no one, so no message on its way
            # would bring b level with home
            await admin.transact(registry, registry_abi.fn("unenrollRemote"), b_id)
            await flag_investor(session, w.agent, wallet, "unfreeze")
            await _final(w)
            behind = await cli("audit")
            assert behind.code == 1
            assert (
                f"violation: mirror on b: {wallet} is at version 1, home at 3, and no update "
                "carrying it is on its way (push it again: `stbridge investor resync`)"
            ) in behind.err
        finally:
            await admin.transact(registry, registry_abi.fn("enrollRemote"), b_id, mirror)
        await cli.ok("investor", "resync", wallet)
        await _final(w)
        assert (await cli.ok("audit", "--json")).json()["ok"]
        async with running_relayer(system, tmp_path / "r.db") as relay:
            await w.wait_mirror(wallet, 3)
            await drained(relay)
        await _final(w)
        report = (await cli.ok("audit", "--json")).json()
        assert report["ok"]
        assert (await w.record("b", wallet)) == (await w.record("a", wallet))
