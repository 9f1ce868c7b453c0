"""Indexing speed and memory when a relayer starts far behind.

    .venv/bin/python -m bench.index_backfill [--messages 100000] [--per-tx 1000]

Builds a backlog on chain a of an anvil devnet (a small contract dispatches
``--per-tx`` messages per transaction to a domain no lane serves, so the relayer only
indexes them), then starts ``stbridge run`` and measures how fast it indexes the
backlog (Dispatch logs per second, from its start to the last row in its store) and
its peak RSS with every message tracked (store rows plus the mirrored tree). With
``--messages 1000000`` it is the memory figure for a million tracked messages.

Prints the figures and writes bench/reports/index-backfill-<date>.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import (
    ROOT,
    Lab,
    RelayerProcess,
    build_lab,
    describe_machine,
    require_py_spy,
    write_report,
)
from chains import devnet
from relayer.chain.rpc import ChainRpc
from relayer.chain.wallet import Wallet

UNSERVED_DOMAIN = 99_999  # no lane: the relayer indexes these messages and leaves them


def compile_fixtures(out: Path) -> dict[str, dict[str, object]]:
    subprocess.run(["node", str(ROOT / "bench" / "fixtures" / "compile.js"), str(out)], check=True)
    return json.loads(out.read_text())


async def build_backlog(
    lab: Lab, work: Path, messages: int, per_tx: int, per_block: int = 1
) -> float:
    """Dispatch ``messages`` on chain a; returns the seconds it took."""
    from eth_abi.abi import encode

    from relayer.core.hashing import keccak256

    spammer = compile_fixtures(work / "fixtures.json")["Spammer"]
    chain = lab.config.chain("a")
    rpc = ChainRpc(chain, timeout=120)
    wallet = Wallet(rpc, lab.config.accounts.deployer)
    try:
        sent = await wallet.send(
            None, bytes.fromhex(str(spammer["bytecode"])[2:]), what="deploy spammer"
        )
        [receipt] = await wallet.wait([sent])
        address = str(receipt["contractAddress"])
        mailbox = lab.deployment.chain("a").address("Mailbox")
        selector = keccak256(b"spam(address,uint32,uint256,bytes)")[:4]
        body = b"\x00" * 31 + b"\x07"
        started = time.monotonic()
        remaining = messages
        pending = []
        while remaining:
            n = min(per_tx, remaining)
            remaining -= n
            data = selector + encode(
                ["address", "uint32", "uint256", "bytes"], [mailbox, UNSERVED_DOMAIN, n, body]
            )
            pending.append(await wallet.send(address, data, what="spam", gas=60_000 + 30_000 * n))
            if len(pending) >= per_block:  # a busy layer-2's density, not one giant block
                await wallet.wait(pending, within=600)
                pending = []
        if pending:
            await wallet.wait(pending, within=600)
        return time.monotonic() - started
    finally:
        await rpc.close()


def indexed(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as db:
            return int(
                db.execute(
                    "SELECT count(*) FROM messages WHERE destination = ?", (UNSERVED_DOMAIN,)
                ).fetchone()[0]
            )
    except sqlite3.Error:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument(
        "--per-tx", type=int, default=1_500,
        help="dispatches per transaction, one transaction a block: about the Dispatch logs a "
        "150M-gas block of bridge sends holds (150M / 109k gas per send)",
    )  # fmt: skip
    parser.add_argument(
        "--gas-limit", type=int, default=600_000_000, help="per block, to build the backlog fast"
    )
    parser.add_argument(
        "--profile", type=Path, help="write py-spy's collapsed stacks of the relayer here"
    )
    args = parser.parse_args()
    if args.profile:
        require_py_spy()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory(prefix="stbridge-backfill-") as tmp:
        work = Path(tmp)
        lab = build_lab(work, block_time=0.25, gas_limit=args.gas_limit)
        try:
            print(f"dispatching {args.messages:,} messages on chain a …")
            backlog_seconds = asyncio.run(build_backlog(lab, work, args.messages, args.per_tx))
            print(f"backlog built in {backlog_seconds:.0f} s; starting the relayer …")
            store = work / "relayer.db"
            config_file = lab.relayer_config_file(
                work / "relayer.toml", store, log_chunk_blocks=2_000
            )
            started = time.monotonic()
            relayer = RelayerProcess(lab, config_file, work / "relayer.log", profile=args.profile)
            try:
                last_count, last_change = 0, time.monotonic()
                while True:
                    relayer.sample()
                    count = indexed(store)
                    if count != last_count:
                        last_count, last_change = count, time.monotonic()
                    if count >= args.messages:
                        break
                    if time.monotonic() - last_change > 120:
                        raise RuntimeError(f"indexing stalled at {count:,} of {args.messages:,}")
                    time.sleep(0.5)
                elapsed = time.monotonic() - started
                time.sleep(3)  # let it settle with everything tracked, then read its memory
                usage = relayer.stop()
            finally:
                relayer.stop()
        finally:
            devnet.down(lab.home)
    rate = args.messages / elapsed
    rows = [
        ("messages behind at start", f"{args.messages:,}"),
        ("time to index them (from process start)", f"{elapsed:.1f} s"),
        ("Dispatch logs indexed per second", f"{rate:,.0f}"),
        ("relayer CPU", f"{usage.cpu_seconds:.1f} s"),
        ("relayer peak RSS with all of them tracked", f"{usage.peak_rss_mb:.0f} MB"),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    settings = (
        f"anvil 0.25 s blocks of {args.gas_limit:,} gas, a backlog of {args.per_tx} Dispatch "
        f"logs a block, relayer with SQLite; machine: {describe_machine()}"
    )
    lines = [f"Settings: {settings}.", "", "| measure | value |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    path = write_report(f"index-backfill-{args.messages}", "Index backfill", lines)
    print(f"\nreport: {path}")


if __name__ == "__main__":
    main()
