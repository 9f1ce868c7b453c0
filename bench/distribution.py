"""A distribution to many holders over three chains: wall time and gas per holder paid.

    .venv/bin/python -m bench.distribution [--holders 10000] [--batch 200] [--claims 20]
        [--block-time 1]

1. Its own devnet: configs/devnet3.toml (chains a, b, c) on free ports, anvil, ``--block-time``
   s blocks, 1 confirmation; stbridge deployed (distributors, managers) and onboarded.
2. A cap table of ``--holders`` holders spread evenly over the three chains with random
   balances. The holders are generated, not minted: the record-date snapshot of real holders
   is the cap table read (``captable --at-block``, batched ``balanceOf`` calls) and is measured
   by the integration tests, not here. ``--claims`` of them have keys and ETH, to claim.
3. Timed from the declaration to the last payment: allocation and trees (Python), declare
   and commit the three roots (home), the relayer carries the two remote roots (in-process
   relayer), ``distribution fund`` on each chain, ``--claims`` holders claim, then
   ``distribution pay`` pushes everyone else in batches of ``--batch``.
4. Measured: wall time per phase, gas per holder paid by push (all pay transactions / holders
   pushed) and by claim, and the relayer's part: the time the roots took to arrive and the
   gas of the transactions that delivered them.

Prints the figures and writes bench/reports/distribution-<holders>-<date>.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import tempfile
import time
import tomllib
from pathlib import Path

from bench.harness import ROOT, bench_key, describe_machine, write_report
from chains import devnet
from chains.processes import free_port
from relayer.chain import contracts
from relayer.cli.devnet import start_devnet
from relayer.config import Config, parse_config
from relayer.daemon.relayer import Relayer
from relayer.deployment.deployer import deploy
from relayer.deployment.distribution_wiring import dust_account
from relayer.deployment.record import Deployment
from relayer.deployment.session import Session
from relayer.distribution import actions
from relayer.distribution.entitlements import Position, allocate
from relayer.issuer.onboard import onboard_devnet
from relayer.store import open_store, relayer_owner

AMOUNT = 250_000 * 10**6  # dUSD base units


def _lab(directory: Path, block_time: float) -> tuple[Config, Deployment, Path]:
    raw = tomllib.loads((ROOT / "configs" / "devnet3.toml").read_text())
    for chain in raw["chains"]:
        chain.update(rpc_url=f"http://127.0.0.1:{free_port()}", block_time=block_time)
        chain.update(gas_limit=30_000_000, confirmations=1)
    raw["relayer"].update(
        metrics_port=0, store=f"sqlite:///{directory}/relayer.db", poll_interval=0.1,
        batch_wait=0.1,
    )  # fmt: skip
    config = parse_config(raw)
    home = directory / "home"
    os.environ["STBRIDGE_HOME"] = str(home)
    start_devnet(config, directory=home, backend="anvil")
    try:
        report = asyncio.run(deploy(config))

        async def onboard() -> None:
            async with Session(config, report.deployment) as session:
                await onboard_devnet(session)

        asyncio.run(onboard())
    except BaseException:
        devnet.down(home)
        raise
    return config, report.deployment, home


def _gas(receipt: dict[str, object]) -> int:
    return int(str(receipt["gasUsed"]), 16)


async def run(config: Config, deployment: Deployment, args: argparse.Namespace) -> list[str]:
    rng = random.Random(14)
    chains = [c.name for c in config.chains]
    claimers = [bench_key(i) for i in range(args.claims)]
    positions = [
        Position(chains[i % 3], claimers[i].address, rng.randint(10**18, 10**21), 276)
        for i in range(args.claims)
    ]
    positions += [
        Position(chains[i % 3], "0x" + rng.randbytes(20).hex(), rng.randint(10**15, 10**21),
                 rng.choice([276, 250, 840]))
        for i in range(args.claims, args.holders)
    ]  # fmt: skip
    agent = config.accounts.issuer_agent
    store = await open_store(
        config.relayer.store, owner=relayer_owner(config.accounts.relayer.address)
    )
    relay = Relayer(config, deployment, store)
    async with Session(config, deployment) as session:
        erc20 = contracts.load("PaymentToken").fn
        for chain in chains:  # the issuer's treasury, and gas for the claimers
            owner = session.wallet(chain, config.accounts.deployer)
            token = deployment.payment_token[chain]
            sent = [
                await owner.send(token, erc20("mint").encode(agent.address, AMOUNT), what="mint")
            ]
            for p, key in zip(positions, claimers, strict=False):
                if p.chain == chain:
                    sent.append(await owner.send(key.address, b"", value=10**18, what="gas"))
            await owner.wait(sent)
        task = asyncio.create_task(relay.run())
        try:
            await asyncio.wait_for(relay.started.wait(), 60)
            head = await session.rpc(config.home).block("latest")
            record_date = head.timestamp - 1
            t0 = time.monotonic()
            allocation = allocate(
                positions, AMOUNT, home=config.home, dust_account=dust_account(config),
                rates=actions.withholding_rates(config),
            )  # fmt: skip
            payments = {c: deployment.payment_token[c] for c in chains}
            declared = await actions.commit_allocation(
                session, agent, "ACME", record_date, head.timestamp + 86_400, allocation,
                payments, 6, "dUSD",
            )  # fmt: skip
            t_declared = time.monotonic()
            record = declared.record
            while True:
                _, rows = await actions.status(session, record.id)
                if all(r.opened for r in rows):
                    break
                await asyncio.sleep(0.1)
            t_roots = time.monotonic()
            funded = await actions.fund(session, agent, record.id)
            t_funded = time.monotonic()
            claim_gas = []
            for key in claimers:
                leaf = next(x for x in record.leaves if x.wallet == key.address)
                _, tx = await actions.claim(session, key, record.id, leaf.chain)
                claim_gas.append(tx.gas)
            t_claimed = time.monotonic()
            pushed = await actions.pay(session, agent, record.id, batch=args.batch)
            t_last = time.monotonic()
            _, rows = await actions.status(session, record.id)
            assert all(r.paid == r.entitled and r.paid_holders == r.holders for r in rows), rows
            relayer_gas, relayer_txs = await _root_deliveries(session, record.id, chains)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await store.close()
    push_holders = sum(p.paid for p in pushed)
    push_gas = sum(p.gas for p in pushed)
    lines = [
        f"- machine: {describe_machine()}; anvil, {args.block_time} s blocks, 30M gas limit",
        f"- holders: {args.holders} over {len(chains)} chains "
        f"({', '.join(f'{r.chain} {r.holders}' for r in rows)} leaves incl. dust), "
        f"{args.claims} claim, the rest are pushed in batches of {args.batch}",
        f"- amount: {AMOUNT / 10**6:,.0f} dUSD; every leaf paid, sums reconcile per chain",
        "",
        "| phase | wall time (s) |",
        "| --- | --- |",
        f"| allocate, build trees, declare, commit 3 roots | {t_declared - t0:.1f} |",
        f"| relayer carries the 2 remote roots | {t_roots - t_declared:.1f} |",
        f"| fund 3 distributors | {t_funded - t_roots:.1f} |",
        f"| {args.claims} claims | {t_claimed - t_funded:.1f} |",
        f"| push {push_holders} holders | {t_last - t_claimed:.1f} |",
        f"| **declaration to last payment** | **{t_last - t0:.1f}** |",
        "",
        f"- gas per holder paid by push: {push_gas / max(push_holders, 1):,.0f} "
        f"({sum(p.batches for p in pushed)} transactions, {push_gas:,} gas)",
        f"- gas per holder paid by claim: {sum(claim_gas) / max(len(claim_gas), 1):,.0f} "
        f"(min {min(claim_gas, default=0):,}, max {max(claim_gas, default=0):,})",
        f"- issuer's gas: declare and commit {declared.gas:,}; fund {sum(f.gas for f in funded):,}",
        f"- the relayer's part: {t_roots - t_declared:.1f} s of the wall time, "
        f"{relayer_gas:,} gas in {relayer_txs} delivery transaction(s) for the two roots "
        "(the pushes above could be the relayer's too: anyone may push)",
    ]
    return lines


async def _root_deliveries(
    session: Session, distribution_id: int, chains: list[str]
) -> tuple[int, int]:
    """Gas of the transactions that delivered the roots (their ``Opened`` logs)."""
    from relayer.deployment.chainread import logs, topic

    gas, txs = 0, 0
    for chain in chains[1:]:
        rpc = session.rpc(chain)
        target = session.deployment.chain(chain).address("Distributor")
        id_topic = "0x" + distribution_id.to_bytes(32, "big").hex()
        found = await logs(rpc, target, 0, await rpc.block_number(),
                           [topic("Distributor", "Opened"), id_topic])  # fmt: skip
        for log in found:
            receipt = await rpc.receipt(str(log["transactionHash"]))
            assert receipt is not None
            gas += _gas(receipt)
            txs += 1
    return gas, txs


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--holders", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--claims", type=int, default=20)
    parser.add_argument("--block-time", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stbridge-dist-") as tmp:
        config, deployment, home = _lab(Path(tmp), args.block_time)
        try:
            lines = asyncio.run(run(config, deployment, args))
        finally:
            devnet.down(home)
    print("\n".join(lines))
    path = write_report(
        f"distribution-{args.holders}",
        f"Distribution to {args.holders} holders over three chains",
        [f"`python -m bench.distribution --holders {args.holders} --batch {args.batch} "
         f"--claims {args.claims} --block-time {args.block_time}`", "", *lines],
    )  # fmt: skip
    print(f"report: {path}")


if __name__ == "__main__":
    main()
