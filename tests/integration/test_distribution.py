"""A distribution and a vote over three real chains (configs/devnet3.toml on free ports, anvil).

A randomized cap table is spread over the chains, with bridge transfers in flight at the
record date; the entitlements are checked against balances read straight from the chains
(not through the snapshot code), every holder is paid exactly its net on the chain where it
held, tax and sums reconcile per chain and in total, a holder revoked after the record date
is reserved, and the refused inputs change nothing. Then a vote with holders on all three
chains (one of them on two chains, voting on each with that chain's part, one by EIP-712
signature) tallies home exactly.
"""

from __future__ import annotations

import asyncio
import random
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils.address import to_checksum_address

from chains.anvil import find_anvil
from chains.processes import free_port
from relayer.chain import contracts
from relayer.chain.wallet import Sent
from relayer.config import Config, PrivateKey
from relayer.deployment.deployer import deploy
from relayer.deployment.distribution_wiring import dust_account, tax_account
from relayer.deployment.session import Session
from relayer.distribution import actions
from relayer.distribution.entitlements import Position, allocate
from relayer.errors import InputError
from tests.helpers import ROOT
from tests.integration.system import Chains, System, drained, running_relayer, send_many, system_of

pytestmark = [pytest.mark.integration, pytest.mark.anvil]

DEVNET3 = ROOT / "configs" / "devnet3.toml"
SEED = 14
COUNTRIES = [276, 250, 840]


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    if find_anvil() is None:
        pytest.skip("anvil is not installed here (npm ci installs it)")
    directory = tmp_path_factory.mktemp("devnet3")
    raw = tomllib.loads(DEVNET3.read_text())
    for chain in raw["chains"]:
        chain.update(rpc_url=f"http://127.0.0.1:{free_port()}", block_time=0.25)
    with system_of(raw, directory) as system:
        yield system


async def _send_all(wallet_sends: list[tuple[object, Sent]]) -> None:
    for wallet, s in wallet_sends:
        await wallet.wait([s])  # type: ignore[attr-defined]


async def _heads(chains: Chains) -> dict[str, int]:
    return {n: (await rpc.block("latest")).timestamp for n, rpc in chains.rpcs.items()}


async def _delivered(chains: Chains, want: dict[str, int]) -> None:
    """Until each chain's token supply is what was sent to it (every transfer arrived)."""

    async def done() -> bool:
        supplies = {c: await chains.supply(c) for c in want}
        return supplies == want

    await _until(done, 90, f"supplies {want}")


async def _until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_distribution_over_three_chains(three: System, tmp_path: Path) -> None:
    asyncio.run(_scenario(three, tmp_path))


async def _scenario(system: System, tmp_path: Path) -> None:
    config: Config = system.config
    rng = random.Random(SEED)
    agent = config.accounts.issuer_agent
    seller, claimer = config.accounts.investors[0], config.accounts.investors[1]
    chains = Chains(system)
    session = Session(config, system.deployment)
    await session.__aenter__()
    home = config.home
    registry = system.deployment.chain(home).address("IdentityRegistry")
    reg = contracts.load("IdentityRegistry").fn
    tok = contracts.load("SecurityToken").fn
    erc20 = contracts.load("PaymentToken").fn
    manager = system.deployment.chain(home).address("DistributionManager")
    try:
        # ---------------------------------------------------- a randomized cap table
        holders = [
            str(to_checksum_address(bytes(rng.getrandbits(8) for _ in range(20)))) for _ in range(9)
        ]
        a = chains.wallet(home, agent)
        sent = [
            await a.send(
                registry,
                reg("setRecord").encode(
                    h, rng.randbytes(32), rng.choice(COUNTRIES), int(time.time()) + 10**7, 0
                ),
                what="record",
            )
            for h in holders
        ]
        sent.append(
            await a.send(
                system.token(home), tok("mint").encode(seller.address, 10**22 + 7), what="mint"
            )
        )
        await a.wait(sent)
        plan = {"b": holders[:4], "c": holders[4:7]}
        supply = {c: await chains.supply(c) for c in ("b", "c")}
        async with running_relayer(system, tmp_path / "r1.db") as relay:
            for chain, who in plan.items():
                amounts = [rng.randint(10**15, 3 * 10**20) for _ in who]
                supply[chain] += sum(amounts)
                await send_many(
                    chains, home, chain, [(seller, w, n) for w, n in zip(who, amounts, strict=True)]
                )
            await send_many(chains, home, "c", [(claimer, claimer.address, 123 * 10**18 + 1)])
            supply["c"] += 123 * 10**18 + 1
            s = chains.wallet(home, seller)
            moves = [
                await s.send(
                    system.token(home),
                    tok("transfer").encode(w, rng.randint(1, 10**20)),
                    what="transfer",
                )
                for w in holders[7:]
            ]
            await s.wait(moves)
            await _delivered(chains, supply)
            await drained(relay)
        # ------------------------------------ transfers in flight at the record date
        flying = [(holders[0], "b", 5 * 10**18 + 3), (holders[8], "c", 7 * 10**18 + 11)]
        for recipient, chain, amount in flying:
            await send_many(chains, home, chain, [(seller, recipient, amount)])
        record_date = max((await _heads(chains)).values())

        async def settled() -> bool:
            return min((await _heads(chains)).values()) > record_date + 1

        await _until(settled, 30, "every chain past the record date")
        # ground truth, read straight from the chains (nothing moved since the record date)
        people = [*holders, *(k.address for k in config.accounts.investors),
                  *(k.address for k in config.accounts.traders)]  # fmt: skip
        expected: dict[tuple[str, str], int] = {}
        for chain in ("a", "b", "c"):
            for w in people:
                held = await chains.balance(chain, w)
                if held:
                    expected[(chain, w)] = held
        for recipient, chain, amount in flying:
            expected[(chain, recipient)] = expected.get((chain, recipient), 0) + amount
        countries = {}
        for w in people:
            record = await a.call(registry, reg("recordOf"), w)
            countries[w] = int(record[1])
        revoked = holders[1]  # holds on b; revoked after the record date, before payment
        await a.wait([await a.send(registry, reg("revoke").encode(revoked), what="revoke")])

        async with running_relayer(system, tmp_path / "r2.db") as relay:
            now = max((await _heads(chains)).values())
            until = now + 86_400

            # ------------------------------------------------ refused inputs change nothing
            async def refused(
                key: PrivateKey, token: str, date: int, amount: str, match: str
            ) -> None:
                with pytest.raises(InputError, match=match) as caught:
                    await actions.declare(session, key, token, date, amount, None, until)
                assert "\n" not in str(caught.value)
                assert await a.call(manager, contracts.load("DistributionManager").fn("count")) == 0

            await refused(agent, "ACME", now + 3600, "1", "in the future")
            await refused(agent, "ACME", record_date, "1.1234567", "decimal places")
            await refused(agent, "NOPE", record_date, "1", "NOPE")
            await refused(seller, "ACME", record_date, "1", "not an agent")

            declared = await actions.declare(
                session, agent, "ACME", record_date, "250000.123457", None, until
            )
            record = declared.record
            amount = 250_000_123_457
            assert record.amount == amount
            assert sum(x.gross for x in record.leaves) == amount
            rates = actions.withholding_rates(config)
            want = allocate(
                [Position(c, w, b, countries[w]) for (c, w), b in expected.items()],
                amount, home=home, dust_account=dust_account(config), rates=rates,
            )  # fmt: skip
            got = {(x.chain, x.wallet.lower()): (x.gross, x.withheld) for x in record.leaves}
            assert got == {
                (e.chain, e.wallet.lower()): (e.gross, e.withheld) for e in want.entitlements
            }
            assert {c for c, _ in got} == {"a", "b", "c"}
            assert ("b", holders[0].lower()) in got and ("c", holders[8].lower()) in got

            async def arrived() -> bool:
                _, rows = await actions.status(session, record.id)
                return all(r.opened for r in rows)

            await _until(arrived, 90, "the roots on b and c")

            # ------------------------------------------------------- funding
            with pytest.raises(InputError, match="payment token short"):
                await actions.fund(session, agent, record.id)
            _, rows = await actions.status(session, record.id)
            assert all(r.funded == 0 for r in rows)
            for chain in ("a", "b", "c"):
                owner = chains.wallet(chain, config.accounts.deployer)
                token = system.deployment.payment_token[chain]
                await owner.wait(
                    [
                        await owner.send(
                            token, erc20("mint").encode(agent.address, 10**12), what="mint"
                        )
                    ]
                )
            await actions.fund(session, agent, record.id)
            _, rows = await actions.status(session, record.id)
            assert all(r.funded == r.entitled and r.to_fund == 0 for r in rows)

            # ---------------------------------------------- one claim, then push the rest
            async def dusd(chain: str, who: str) -> int:
                token = system.deployment.payment_token[chain]
                return int(await chains.wallet(chain, agent).call(token, erc20("balanceOf"), who))

            mine = next(x for x in record.on("c") if x.wallet.lower() == claimer.address.lower())
            before_claim = await dusd("c", claimer.address)
            await actions.claim(session, claimer, record.id, "c")
            assert await dusd("c", claimer.address) - before_claim == mine.net
            before = {(x.chain, x.wallet): await dusd(x.chain, x.wallet) for x in record.leaves}
            tax_before = {c: await dusd(c, tax_account(config)) for c in ("a", "b", "c")}
            results = await actions.pay(session, agent, record.id, batch=3)
            assert sum(r.reserved for r in results) == 1
            assert sum(r.skipped for r in results) == 1  # the claim
            again = await actions.pay(session, agent, record.id)
            assert sum(r.paid + r.reserved for r in again) == 0, "nobody is paid twice"
            for x in record.leaves:
                delta = await dusd(x.chain, x.wallet) - before[(x.chain, x.wallet)]
                if x.wallet == revoked and x.chain == "b":
                    assert delta == 0
                elif x is mine or (x.chain == "c" and x.wallet.lower() == claimer.address.lower()):
                    assert delta == 0  # paid by its claim
                else:
                    assert delta == x.net, (x.chain, x.wallet)
            _, rows = await actions.status(session, record.id)
            total = 0
            for row in rows:
                withheld = sum(
                    x.withheld for x in record.on(row.chain)
                    if not (x.wallet == revoked and x.chain == "b")
                )  # fmt: skip
                assert await dusd(row.chain, tax_account(config)) - tax_before[row.chain] == (
                    withheld - (mine.withheld if row.chain == "c" else 0)
                )
                assert row.paid + row.reserved == row.entitled
                distributor = system.deployment.chain(row.chain).address("Distributor")
                assert await dusd(row.chain, distributor) == row.reserved
                total += row.entitled
            assert total == amount
            reserved = next(r for r in rows if r.chain == "b")
            gross = next(x.gross for x in record.on("b") if x.wallet == revoked)
            assert reserved.reserved == gross and reserved.reserved_holders == 1
            _, report = await actions.report(session, record.id)
            assert len(report) == len(record.leaves)
            assert all(r.tx for r in report if r.state == "paid")
            assert {r.state for r in report} == {"paid", "reserved"}
            with pytest.raises(InputError, match="open until"):
                await actions.close(session, agent, record.id, agent.address)
            # the reserved share: not released while revoked; reclaimed by the agent
            with pytest.raises(InputError, match="still revoked"):
                await actions.settle_reserved(session, agent, record.id, "b", revoked, release=True)
            treasury = await dusd("b", agent.address)
            await actions.settle_reserved(
                session, agent, record.id, "b", revoked, release=False, to=agent.address
            )
            assert await dusd("b", agent.address) - treasury == gross
            distributor = system.deployment.chain("b").address("Distributor")
            assert await dusd("b", distributor) == 0
            _, rows = await actions.status(session, record.id)
            b_row = next(r for r in rows if r.chain == "b")
            assert b_row.reserved == 0 and b_row.reclaimed == gross
            await drained(relay)
    finally:
        await session.__aexit__(None, None, None)
        await chains.close()


def test_vote_over_three_chains(three: System, tmp_path: Path) -> None:
    asyncio.run(_vote(three, tmp_path))


async def _vote(system: System, tmp_path: Path) -> None:
    from relayer.vote import actions as votes

    config = system.config
    home = config.home
    agent = config.accounts.issuer_agent
    one, two, three_ = config.accounts.investors[:3]
    chains = Chains(system)
    session = Session(config, system.deployment)
    await session.__aenter__()
    try:
        supply = {c: await chains.supply(c) for c in ("b", "c")}
        async with running_relayer(system, tmp_path / "v1.db") as relay:
            # holders on every chain: one on a, two on a and b, three on a and c
            await send_many(chains, home, "b", [(two, two.address, 40 * 10**18 + 1)])
            await send_many(chains, home, "c", [(three_, three_.address, 25 * 10**18 + 3)])
            supply["b"] += 40 * 10**18 + 1
            supply["c"] += 25 * 10**18 + 3
            await _delivered(chains, supply)
            await drained(relay)
        record_date = max((await _heads(chains)).values())

        async def settled() -> bool:
            return min((await _heads(chains)).values()) > record_date + 1

        await _until(settled, 30, "every chain past the record date")
        power = {}
        for chain in ("a", "b", "c"):
            for key in (one, two, three_):
                power[(chain, key.address)] = await chains.balance(chain, key.address)
        async with running_relayer(system, tmp_path / "v2.db") as relay:
            now = max((await _heads(chains)).values())
            closes = now + 30
            with pytest.raises(InputError, match="in the future"):
                await votes.open_vote(
                    session, agent, "ACME", now + 600, closes, "Merge?", ["y", "n"]
                )
            record, _ = await votes.open_vote(
                session, agent, "ACME", record_date, closes, "Merge with Beta?",
                ["yes", "no", "abstain"],
            )  # fmt: skip

            async def opened() -> bool:
                return all(c.opened for c in (await votes.tally(session, record.id)).chains)

            await _until(opened, 60, "the vote roots on b and c")
            await votes.cast(session, one, record.id, "a", "yes")
            await votes.cast(session, two, record.id, "a", "no")
            await votes.cast(session, two, record.id, "b", "no", submitter=agent)  # EIP-712
            await votes.cast(session, three_, record.id, "c", "yes")
            await votes.cast(session, three_, record.id, "a", "abstain")
            with pytest.raises(InputError, match="voted already"):
                await votes.cast(session, three_, record.id, "c", "no")
            with pytest.raises(InputError, match="held no"):
                await votes.cast(session, one, record.id, "b", "yes")

            async def closed() -> bool:
                return min((await _heads(chains)).values()) > closes

            await _until(closed, 60, "the vote to close")
            sent = await votes.send_tallies(session, agent, record.id)
            assert sorted(sent) == ["a", "b", "c"]

            async def final() -> bool:
                return (await votes.tally(session, record.id)).final

            await _until(final, 60, "every tally counted at home")
            result = await votes.tally(session, record.id)
            p = power
            want = [
                p[("a", one.address)] + p[("c", three_.address)],
                p[("a", two.address)] + p[("b", two.address)],
                p[("a", three_.address)],
            ]
            assert result.totals == want
            assert p[("b", two.address)] and p[("c", three_.address)]
            # nobody counts twice: each chain's tally is at most its power
            for c in result.chains:
                assert sum(c.tally) <= c.power
            assert (await votes.send_tallies(session, agent, record.id)) == []
            await drained(relay)
    finally:
        await session.__aexit__(None, None, None)
        await chains.close()


def test_cli_on_three_chains(
    three: System, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The commands as an issuer types them: declare, status --json, report --csv; fund
    refused in one line while the remote roots are still on their way (no relayer runs)."""
    import json

    from relayer.cli import main

    cfg = str(three.config_file(tmp_path / "c.toml", tmp_path / "s.db"))

    async def heads() -> dict[str, int]:
        chains = Chains(three)
        try:
            return await _heads(chains)
        finally:
            await chains.close()

    moment = max(asyncio.run(heads()).values())  # chain time (anvil's runs ahead of ours)
    deadline = time.monotonic() + 30
    while min(asyncio.run(heads()).values()) <= moment + 1 and time.monotonic() < deadline:
        time.sleep(0.2)  # until the moment is final on every chain
    code = main(["distribution", "declare", "--token", "ACME", "--record-date", f"@{moment}",
                 "--amount", "1000.5", "--json", "-c", cfg])  # fmt: skip
    out, err = capfd.readouterr()
    assert code == 0, err
    declared = json.loads(out)["data"]
    assert sum(int(v) for v in declared["totals"].values()) == 1_000_500_000
    code = main(["distribution", "status", "--id", str(declared["id"]), "--json", "-c", cfg])
    out, err = capfd.readouterr()
    assert code == 0 and out, f"status --json exited {code}: {err}"
    chains = {c["chain"]: c for c in json.loads(out)["data"]["chains"]}
    assert code == 0 and chains["a"]["opened"] is True
    assert sum(int(c["entitled"]) for c in chains.values()) == 1_000_500_000
    code = main(["distribution", "report", "--id", str(declared["id"]), "--csv", "-c", cfg])
    out, _ = capfd.readouterr()
    rows = out.strip().splitlines()
    assert code == 0 and rows[0].startswith("chain,wallet,investor_id,country,balance,gross")
    assert len(rows) - 1 == declared["holders"]
    code = main(["distribution", "commit", "--id", str(declared["id"]), "--json", "-c", cfg])
    out, _ = capfd.readouterr()
    assert code == 0 and json.loads(out)["data"] == {"committed": []}, "declare committed all"
    if not all(c["opened"] for c in chains.values()):
        code = main(["distribution", "fund", "--id", str(declared["id"]), "-c", cfg])
        _, err = capfd.readouterr()
        assert code == 2 and "has not received" in err and len(err.strip().splitlines()) == 1


def test_deploy_adds_distribution_contracts_to_an_older_deployment(three: System) -> None:
    """A deployment recorded before distributions and votes gets only their contracts: every
    other address stays, and the new ones are wired (a second run sends nothing)."""
    from relayer.deployment.record import load_deployment, save_deployment

    config = three.config
    older = load_deployment(config)
    new = ("Distributor", "Ballot", "DistributionManager", "VoteManager")
    for chain in older.chains.values():
        for name in new:
            chain.contracts.pop(name, None)
    save_deployment(older)
    kept = {c: dict(d.contracts) for c, d in older.chains.items()}
    report = asyncio.run(deploy(config))
    assert not report.fresh
    for chain, contracts_there in report.deployment.chains.items():
        assert {k: v for k, v in contracts_there.contracts.items() if k not in new} == kept[chain]
        assert "Distributor" in contracts_there.contracts and "Ballot" in contracts_there.contracts
    assert any("enrolls the distributor" in change for change in report.changes)
    again = asyncio.run(deploy(config))
    assert again.changes == [] and not again.fresh
