"""A stranger's messages: what they cost the relayer under each delivery policy, and what
they do to the latency of honest transfers sent beside them.

    .venv/bin/python -m bench.stranger_messages [--messages 100] [--honest 20]
        [--window 60] [--block-time 1] [--budget 5000000]

1. Its own devnet (two anvil chains, ``--block-time`` s blocks, 1 confirmation),
   stbridge deployed and onboarded. A stranger (an account outside the deployment) is
   funded on both chains and deploys on b a contract whose ``handle`` burns all the gas
   it gets (tests/fixtures/stranger/GasBurner.sol).
2. Three runs, each with a fresh relayer store, the relayer in-process:
   - **open**: ``mode = "open"`` with ``--budget`` gas per sender per hour;
   - **deployment**: the default policy;
   - **baseline**: only the honest transfers (default policy).
   Each relayer indexes the whole history, so the open run goes first: after the
   others, it would carry their strangers' messages too.
   In each run with a stranger, ``--messages`` stranger messages go through
   ``Mailbox.dispatch`` on a: 70% to the burner, 10% each to an address without code
   (InvalidRecipient), to the deployment's bridge on b (UnknownSender) and to a domain
   no chain has; ``--honest`` bridge transfers a->b are interleaved with them in the
   same blocks. The relayer then runs for ``--window`` seconds (the stranger's retries
   back off 5, 10, 30 s...).
3. Measured: the transactions the relayer signed (its store) and their receipts on b:
   the gas of those that carry a stranger's message (a batch holding honest messages
   too counts whole: an upper bound), the relayer's total gas, the stranger messages
   by final status, and the honest transfers' latency (delivery block time minus
   dispatch block time, whole seconds).

Prints the figures and writes bench/reports/stranger-messages-<date>.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import Lab, build_lab, describe_machine, percentile, write_report
from chains import devnet
from relayer.chain import contracts
from relayer.chain.rpc import ChainRpc
from relayer.chain.wallet import Sent, Wallet
from relayer.config import parse_config
from relayer.daemon.relayer import Relayer
from relayer.store import Status, open_store, relayer_owner
from relayer.telemetry.logging import configure_logging
from tests.fixtures.stranger.support import stranger


@dataclass
class Outcome:
    name: str
    honest_latency: list[float] = field(default_factory=list)
    stranger_txs: int = 0
    stranger_gas: int = 0
    total_txs: int = 0
    total_gas: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    simulations: float = 0.0


async def run_policy(
    lab: Lab, name: str, policy: dict[str, Any] | None, args: argparse.Namespace, store: Path
) -> Outcome:
    raw = {**lab.raw, "relayer": {**lab.raw["relayer"], "store": f"sqlite:///{store}"}}
    if policy is not None:
        raw["relayer"]["policy"] = policy
    config = parse_config(raw)
    rpcs = {c.name: ChainRpc(c) for c in config.chains}
    investors = config.accounts.investors
    honest_wallet = Wallet(rpcs["a"], investors[0])
    token = lab.deployment.tokens[0].addresses["a"]
    bridge = lab.deployment.chain("a").address("TokenBridge")
    approve = contracts.load("SecurityToken").fn("approve")
    await honest_wallet.transact(token, approve, bridge, 2**255)
    outsider = None
    if name != "baseline":
        outsider = await stranger(config, lab.deployment, rpcs, "a", "b", n=len(name))
    relayer_store = await open_store(
        config.relayer.store, owner=relayer_owner(config.accounts.relayer.address)
    )
    relay = Relayer(config, lab.deployment, relayer_store, serve_telemetry=False)
    task = asyncio.create_task(relay.run())
    outcome = Outcome(name)
    try:
        await asyncio.wait_for(relay.started.wait(), 60)
        send = contracts.load("TokenBridge").fn("send")
        to_b = config.chain("b").chain_id
        honest_sent: list[Sent] = []
        strange_sent: list[Sent] = []
        every = max(1, args.messages // max(args.honest, 1))
        for i in range(max(args.messages, args.honest * every)):
            if outsider is not None and i < args.messages:
                share = i % 10
                if share < 7:
                    strange_sent.append(await outsider.burn())
                elif share == 7:
                    strange_sent.append(await outsider.to_account())
                elif share == 8:
                    strange_sent.append(await outsider.to_bridge())
                else:
                    strange_sent.append(await outsider.nowhere())
            if i % every == 0 and len(honest_sent) < args.honest:
                data = send.encode(token, to_b, investors[1].address, 10**15 + i)
                honest_sent.append(await honest_wallet.send(bridge, data, what="send", gas=400_000))
        honest = await _ids(honest_wallet, honest_sent, "TokenBridge", "TransferSent")
        strange = (
            await _ids(outsider.origin, strange_sent, "Mailbox", "Dispatch") if outsider else []
        )
        await asyncio.sleep(args.window)  # the relayer works on them meanwhile
        for message_id in honest:
            row = await relayer_store.message(message_id)
            if row is not None and row.status == Status.DELIVERED and row.delivered_at:
                outcome.honest_latency.append(row.delivered_at - row.dispatched_at)
        for message_id in strange:
            row = await relayer_store.message(message_id)
            outcome.statuses[row.status.value if row else "not indexed"] += 1
        outcome.simulations = _counter(relay, "stbridge_batch_simulations_total")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await relayer_store.close()
    await _gas(outcome, store, set(strange), rpcs["b"])
    for rpc in rpcs.values():
        await rpc.close()
    return outcome


def _counter(relay: Relayer, name: str) -> float:
    total = 0.0
    for metric in relay.metrics.registry.collect():
        for sample in metric.samples:
            if sample.name == name:
                total += sample.value
    return total


async def _ids(wallet: Wallet, sent: list[Sent], contract: str, event_name: str) -> list[bytes]:
    abi = contracts.load(contract)
    ids: list[bytes] = []
    for receipt in await wallet.wait(sent, within=300):
        for event, values, _ in contracts.decode_logs(abi, receipt["logs"]):
            if event.name == event_name:
                ids.append(bytes(values["id"]))
    return ids


async def _gas(outcome: Outcome, store: Path, strange: set[bytes], rpc: ChainRpc) -> None:
    """Gas of the relayer's mined transactions on b, and of those carrying a stranger's."""
    db = sqlite3.connect(store)
    try:
        txs = [
            str(h)
            for (h,) in db.execute("SELECT hash FROM txs WHERE chain_id = ?", (rpc.chain.chain_id,))
        ]
        carries: dict[str, set[bytes]] = {}
        for tx_hash, message_id in db.execute("SELECT tx_hash, message_id FROM tx_messages"):
            carries.setdefault(str(tx_hash), set()).add(bytes(message_id))
    finally:
        db.close()
    for tx_hash in txs:
        receipt = await rpc.receipt(tx_hash)
        if not receipt:
            continue
        gas = int(receipt["gasUsed"], 16)
        outcome.total_txs += 1
        outcome.total_gas += gas
        if carries.get(tx_hash, set()) & strange:
            outcome.stranger_txs += 1
            outcome.stranger_gas += gas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--honest", type=int, default=20)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--block-time", type=float, default=1.0)
    parser.add_argument("--budget", type=int, default=5_000_000)
    parser.add_argument("--runs", default="open,deployment,baseline")
    args = parser.parse_args()
    if args.messages < 1 or args.honest < 1 or args.window <= 0:
        parser.error("--messages and --honest must be at least 1, --window positive")
    configure_logging("console", "warning")
    # open first: every relayer indexes the whole history, and an open relayer after the
    # others would also carry their strangers' messages (the default policy ignores them)
    runs = [
        ("open", {"mode": "open", "open_gas_per_sender_per_hour": args.budget}),
        ("deployment", None),
        ("baseline", None),
    ]
    wanted = set(args.runs.split(","))
    runs = [(name, policy) for name, policy in runs if name in wanted]
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="stbridge-stranger-") as tmp:
        directory = Path(tmp)
        started = time.monotonic()
        lab = build_lab(directory, block_time=args.block_time)
        try:
            for name, policy in runs:
                outcomes.append(
                    asyncio.run(run_policy(lab, name, policy, args, directory / f"{name}.db"))
                )
        finally:
            devnet.down(lab.home)
        elapsed = time.monotonic() - started
    report(lab, args, outcomes, elapsed)


def report(lab: Lab, args: argparse.Namespace, outcomes: list[Outcome], elapsed: float) -> None:
    relayer = lab.config.relayer
    settings = [
        f"- machine: {describe_machine()}; backend anvil",
        f"- blocks every {args.block_time:g} s on both chains, 1 confirmation; relayer "
        f"in-process, batch wait {relayer.batch_wait:g} s, max_attempts {relayer.max_attempts}",
        f"- {args.messages} stranger messages per run (70% to a gas burner, 10% each to an "
        f"account, to the bridge from an unknown sender, to a domain no chain has), "
        f"{args.honest} honest transfers a->b interleaved in the same blocks",
        f"- each run observed for {args.window:g} s after dispatch; open mode's budget "
        f"{args.budget:,} gas per sender per hour; the whole benchmark took {elapsed:.0f} s",
    ]
    table = [
        "| run | relayer txs carrying stranger messages | their gas | relayer gas, all txs "
        "| batch simulations | stranger messages by status | honest delivered "
        "| honest p50 (s) | honest p99 (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(o.statuses.items())) or "-"
        table.append(
            f"| {o.name} | {o.stranger_txs} | {o.stranger_gas:,} | {o.total_gas:,} "
            f"({o.total_txs} txs) | {o.simulations:.0f} | {statuses} "
            f"| {len(o.honest_latency)}/{args.honest} | {percentile(o.honest_latency, 50):.1f} "
            f"| {percentile(o.honest_latency, 99):.1f} |"
        )
    print("\n".join(["", *settings, "", *table]))
    path = write_report(
        "stranger-messages",
        "A stranger's messages: the relayer's gas under each policy, honest latency beside them",
        [
            "`.venv/bin/python -m bench.stranger_messages` (bench/stranger_messages.py "
            "explains the method).",
            "",
            "## Settings",
            "",
            *settings,
            "",
            "## Figures",
            "",
            *table,
        ],
    )
    print(f"\nreport: {path}")


if __name__ == "__main__":
    main()
