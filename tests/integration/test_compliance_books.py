"""`stbridge captable` and `stbridge audit` on two real chains: they reconcile when the
books balance, and exit non-zero naming the difference when they do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from relayer.bridge.actions import send_transfer
from relayer.chain import contracts
from relayer.deployment.session import Session
from relayer.issuer.investors import flag_investor
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


async def test_unbacked_supply_on_the_remote_chain_is_reported(
    system: System, cli: Cli, tmp_path: Path
) -> None:
    """The agent mints on b directly, outside the bridge: b's supply is no longer backed by
    escrow. The cap table and the audit both say so and exit non-zero."""
    investor = system.config.accounts.investors[0].address
    token_b = system.token("b")
    fn = contracts.load("SecurityToken").fn
    extra = 5 * UNIT + 1
    # the investor's identity record reaches b through the relayer: without it b refuses
    # the mint (in the suite, an earlier test's relayer may or may not have carried it)
    async with running_relayer(system, tmp_path / "r.db") as relay:
        await drained(relay)
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


async def test_audit_lists_holders_who_may_not_hold_and_frozen_ones_apart(
    system: System, cli: Cli, tmp_path: Path
) -> None:
    """A holder revoked after receiving on b still holds there: the audit lists it, per
    chain, with its balance and the forced transfer to run, and exits 1; a frozen holder
    is listed apart and alone does not fail the audit."""
    revoked, frozen, keeper = (make_key(f"books-{n}") for n in ("revoked", "frozen", "keeper"))
    async with Session(system.config, system.deployment) as session:
        w = World(system, session)
        await w.fund([revoked, frozen, keeper])
        await w.onboard([revoked, frozen, keeper], holding=3 * UNIT)
        async with running_relayer(system, tmp_path / "r.db") as relay:
            sent = await send_transfer(
                session, key=revoked, origin="a", destination="b", token="ACME", amount=UNIT,
                recipient=revoked.address,
            )  # fmt: skip
            await wait_delivered(relay.store, [bytes.fromhex(sent.message_id[2:])], 60)
            change = await flag_investor(session, w.agent, revoked.address, "revoke")
            await flag_investor(session, w.agent, frozen.address, "freeze")
            await w.wait_mirror(revoked.address, change.record.version)
            await drained(relay)
        await _final(w)
        audited = await cli("audit", "--json")
        assert audited.code == 1, audited.err
        report = audited.json()
        assert not report["ok"]
        mine = {(e["chain"], e["wallet"]): e for e in report["exceptions"]}
        on_b = mine[("b", revoked.address)]
        assert on_b["balance"] == str(UNIT) and on_b["amount"] == "1" and on_b["token"] == "ACME"
        assert any(r.startswith("revoked (home registry") for r in on_b["reasons"])
        assert any(r.startswith("revoked (mirror on b") for r in on_b["reasons"])
        assert on_b["command"] == (
            f"stbridge token forced-transfer --token ACME --from {revoked.address} "
            "--to <eligible wallet> --amount all --chain b"
        )
        assert mine[("a", revoked.address)]["balance"] == str(2 * UNIT)
        assert frozen.address not in {e["wallet"] for e in report["exceptions"]}
        [held] = [f for f in report["frozen"] if f["wallet"] == frozen.address]
        assert held["chain"] == "a" and held["balance"] == str(3 * UNIT)
        assert held["reasons"] == ["frozen (home registry)"]
        text = await cli("audit")
        assert text.code == 1
        assert (
            f"exception: ACME on b: {revoked.address} holds 1 ACME, revoked (home registry"
            in text.err
        ), text.err
        assert "--to <eligible wallet> --amount all --chain b" in text.err
        assert f"frozen, may hold (not an exception): on a {frozen.address}  3 ACME" in text.out

        # the issuer acts: the revoked holdings go to an eligible wallet on each chain
        for chain in ("a", "b"):
            await cli.ok(
                "token", "forced-transfer", "--token", "ACME", "--from", revoked.address,
                "--to", keeper.address, "--amount", "all", "--chain", chain,
            )  # fmt: skip
        await _final(w)
        report = (await cli.ok("audit", "--json")).json()
        assert report["ok"] and not report["exceptions"], report["exceptions"]
        assert frozen.address in {f["wallet"] for f in report["frozen"]}
        await flag_investor(session, w.agent, frozen.address, "unfreeze")
