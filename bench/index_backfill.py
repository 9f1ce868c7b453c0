"""Indexing speed and memory when a relayer starts far behind, beside the node's own speed.

    .venv/bin/python -m bench.index_backfill [--messages 100000] [--per-tx 1500]
        [--runs 3] [--busy 0] [--profile FILE]

1. A backlog, built once on chain a of an anvil devnet: a small contract dispatches
   ``--per-tx`` messages a transaction, one transaction a block, to a domain no lane
   serves, so the relayer only indexes them.
2. ``--runs`` times, each from a fresh store and a new ``stbridge run`` process:
   - the relayer: Dispatch logs per second from its process start to the last row in
     its store (and from its first row to its last, the indexing alone), its CPU
     seconds (and its event loop's thread's share: the rest is mostly the SQLite store's
     thread, so two threads that take turns show as two shares of half the wall time),
     and its peak RSS once every message is tracked (store rows and tree);
   - the ceiling: a minimal client reads the same backlog from the same node, the same
     block range and the same chunks as the relayer's indexer (``next_chunk``: one block
     first, then about TARGET_LOGS logs a request), one request after the other on one
     keep-alive HTTP connection. It reads each answer's bytes and counts the logs in
     them (occurrences of ``"logIndex"``, no JSON decoding), nothing else: how fast the
     node serves the backlog, which bounds any indexer.
3. Median and spread over the runs; with ``--busy N``, N cores of stress-ng beside the
   runs (not beside building the backlog).

Prints the figures and writes bench/reports/index-backfill-<messages>-<date>.md.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.harness import (
    ROOT,
    Busy,
    Lab,
    RelayerProcess,
    add_run_options,
    build_lab,
    median_spread,
    print_rows,
    provenance,
    require_py_spy,
    write_report,
)
from chains import devnet
from relayer.chain.rpc import ChainRpc
from relayer.chain.wallet import Wallet
from relayer.daemon.indexer import INITIAL_CHUNK, TARGET_LOGS, next_chunk

UNSERVED_DOMAIN = 99_999  # no lane: the relayer indexes these messages and leaves them
LOG_CHUNK_BLOCKS = 2_000  # the relayer's log_chunk_blocks, and the client's largest request


def compile_fixtures(out: Path) -> dict[str, dict[str, object]]:
    subprocess.run(["node", str(ROOT / "bench" / "fixtures" / "compile.js"), str(out)], check=True)
    return json.loads(out.read_text())


async def build_backlog(
    lab: Lab, work: Path, messages: int, per_tx: int, per_block: int = 1
) -> tuple[float, int]:
    """Dispatch ``messages`` on chain a; returns the seconds it took and the last block."""
    from eth_abi.abi import encode

    from relayer.core.hashing import keccak256

    spammer = compile_fixtures(work / "fixtures.json")["Spammer"]
    chain = lab.config.chain("a")
    rpc = ChainRpc(chain, timeout=120)
    wallet = Wallet(rpc, lab.config.accounts.deployer)
    last_block = 0
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
            if len(pending) >= per_block or not remaining:  # a busy layer-2's density
                for r in await wallet.wait(pending, within=600):
                    last_block = max(last_block, int(str(r["blockNumber"]), 16))
                pending = []
        return time.monotonic() - started, last_block
    finally:
        await rpc.close()


def stored_rows(store: Path) -> int:
    """Rows in the relayer's store: the backlog's, as the store holds nothing else. Reads
    the table's last rowid (no scan), so polling costs the relayer nothing."""
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT coalesce(max(rowid), 0) FROM messages").fetchone()[0])
    except sqlite3.Error:
        return 0


def backlog_rows(store: Path) -> int:
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as db:
        return int(
            db.execute(
                "SELECT count(*) FROM messages WHERE destination = ?", (UNSERVED_DOMAIN,)
            ).fetchone()[0]
        )


@dataclass
class Ceiling:
    seconds: float
    logs: int
    requests: int
    megabytes: float

    @property
    def rate(self) -> float:
        return self.logs / self.seconds


def read_like_the_indexer(url: str, addresses: list[str], first: int, last: int) -> Ceiling:
    """The node-speed client: ``eth_getLogs`` over ``first..last`` in the indexer's chunks,
    one keep-alive connection, each answer read as bytes and its logs counted, no more."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=300)
    chunk, start, logs, requests, size = INITIAL_CHUNK, first, 0, 0, 0
    started = time.perf_counter()
    try:
        while start <= last:
            end = min(last, start + chunk - 1)
            query = {"address": addresses, "fromBlock": hex(start), "toBlock": hex(end)}
            body = json.dumps(
                {"jsonrpc": "2.0", "id": requests, "method": "eth_getLogs", "params": [query]}
            ).encode()
            conn.request("POST", parts.path or "/", body, {"Content-Type": "application/json"})
            answer = conn.getresponse().read()
            if b'"result"' not in answer[:64]:
                raise RuntimeError(f"the node refused eth_getLogs: {answer[:300]!r}")
            count = answer.count(b'"logIndex"')
            logs, requests, size = logs + count, requests + 1, size + len(answer)
            chunk = next_chunk(chunk, LOG_CHUNK_BLOCKS, end - start + 1, count)
            start = end + 1
    finally:
        conn.close()
    return Ceiling(time.perf_counter() - started, logs, requests, size / 1e6)


@dataclass
class Run:
    from_start: float  # process start to the last row
    indexing: float  # first row seen to the last row
    indexing_rows: int  # the rows stored in that span (0: all came in the first write seen)
    cpu: float
    rss: float
    ceiling: Ceiling
    loop_cpu: float = 0.0  # the event loop's thread; the rest is the store's and others

    def threads(self) -> str:
        return f"{self.loop_cpu:.1f} s loop, {self.cpu - self.loop_cpu:.1f} s other threads"

    def rate(self, messages: int) -> float:
        return messages / self.from_start

    def indexing_rate(self) -> float:
        return self.indexing_rows / self.indexing

    def indexing_text(self) -> str:
        if not self.indexing_rows:
            return "indexing alone not timed: every row came in the first write seen"
        return f"{self.indexing_rate():,.0f}/s indexing alone"


def run_relayer(lab: Lab, work: Path, k: int, messages: int, profile: Path | None) -> Run:
    """One relayer process on a fresh store, until every message is in it."""
    store = work / f"relayer-{k}.db"
    config_file = lab.relayer_config_file(
        work / f"relayer-{k}.toml", store, log_chunk_blocks=LOG_CHUNK_BLOCKS
    )
    started = time.monotonic()
    relayer = RelayerProcess(lab, config_file, work / f"relayer-{k}.log", profile=profile)
    try:
        first: tuple[float, int] | None = None
        last_count, last_change = 0, time.monotonic()
        while True:
            relayer.sample()
            count = stored_rows(store)
            now = time.monotonic()
            if count != last_count:
                last_count, last_change = count, now
                if first is None:
                    first = (now, count)
            if count >= messages:
                break
            if now - last_change > 120:
                raise RuntimeError(f"indexing stalled at {count:,} of {messages:,}")
            if relayer.proc.poll() is not None:
                raise RuntimeError(f"the relayer exited; see {work / f'relayer-{k}.log'}")
            time.sleep(0.05)
        done = time.monotonic()
        time.sleep(3)  # let it settle with everything tracked, then read its memory
        usage = relayer.stop()
    finally:
        relayer.stop()
    if backlog_rows(store) != messages:
        raise RuntimeError(f"the store holds {backlog_rows(store):,} of {messages:,} messages")
    assert first is not None
    indexing = max(done - first[0], 1e-3)
    placeholder = Ceiling(1.0, 0, 0, 0.0)
    # rows, not messages, from the first count seen: the store may hold a few rows beyond
    # the backlog, and a small backlog may already be whole at the first count
    return Run(done - started, indexing, last_count - first[1], usage.cpu_seconds,
               usage.peak_rss_mb, placeholder, usage.loop_cpu_seconds)  # fmt: skip


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
        "--profile", type=Path, help="write py-spy's collapsed stacks of the first run's relayer"
    )
    add_run_options(parser)
    args = parser.parse_args()
    if args.runs < 1 or args.messages < 1:
        raise SystemExit("--runs and --messages take a number of 1 or more")
    if args.profile:
        require_py_spy()
    busy = Busy(args.busy)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    head = provenance(args, busy=busy)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="stbridge-backfill-") as tmp:
        work = Path(tmp)
        lab = build_lab(work, block_time=0.25, gas_limit=args.gas_limit)
        try:
            print(f"dispatching {args.messages:,} messages on chain a …")
            backlog_seconds, last_block = asyncio.run(
                build_backlog(lab, work, args.messages, args.per_tx)
            )
            deployed = lab.deployment.chain("a")
            addresses = [deployed.address("Mailbox")] + [
                deployed.contracts[n]
                for n in ("TokenBridge", "HashedTimelock")
                if n in deployed.contracts
            ]  # fmt: skip: what the relayer's indexer asks for
            url = lab.config.chain("a").rpc_url
            print(f"backlog built in {backlog_seconds:.0f} s (blocks to {last_block})")
            with busy:
                for k in range(args.runs):
                    print(f"run {k + 1}/{args.runs}: the relayer …")
                    run = run_relayer(lab, work, k, args.messages, args.profile if k == 0 else None)
                    print("  … and the node-speed client")
                    run.ceiling = read_like_the_indexer(
                        url, addresses, deployed.start_block, last_block
                    )
                    if run.ceiling.logs < args.messages:
                        raise RuntimeError(
                            f"the client read {run.ceiling.logs:,} logs, not {args.messages:,}"
                        )
                    runs.append(run)
                    print(
                        f"  relayer {run.rate(args.messages):,.0f} logs/s from its start "
                        f"({run.indexing_text()}), CPU {run.cpu:.1f} s "
                        f"({run.threads()}), "
                        f"peak RSS {run.rss:.0f} MB; ceiling {run.ceiling.rate:,.0f} logs/s"
                    )
        finally:
            devnet.down(lab.home)

    n = args.messages
    timed = [r for r in runs if r.indexing_rows]  # a small backlog may arrive in one write
    untimed = "not timed: each run's rows came in the first write seen"
    rows = [
        ("messages behind at start", f"{n:,}"),
        ("ceiling: the node-speed client, logs/s",
         median_spread([r.ceiling.rate for r in runs])),
        ("relayer, logs/s from its process start", median_spread([r.rate(n) for r in runs])),
        ("relayer / ceiling", median_spread([r.rate(n) / r.ceiling.rate for r in runs],
                                            "{:.0%}")),
        ("relayer, logs/s from its first row to its last (indexing alone)",
         median_spread([r.indexing_rate() for r in timed]) if timed else untimed),
        ("indexing alone / ceiling",
         median_spread([r.indexing_rate() / r.ceiling.rate for r in timed], "{:.0%}")
         if timed else untimed),
        ("relayer time from process start", median_spread([r.from_start for r in runs],
                                                          "{:.1f} s")),
        ("relayer CPU", median_spread([r.cpu for r in runs], "{:.1f} s")),
        ("relayer CPU: its event loop's thread",
         median_spread([r.loop_cpu for r in runs], "{:.1f} s")),
        ("relayer CPU: its other threads (the SQLite store's)",
         median_spread([r.cpu - r.loop_cpu for r in runs], "{:.1f} s")),
        ("relayer peak RSS with all of them tracked", median_spread([r.rss for r in runs],
                                                                   "{:.0f} MB")),
        ("client: requests, MB read", f"{runs[0].ceiling.requests:,}, "
         f"{runs[0].ceiling.megabytes:,.0f} MB"),
    ]  # fmt: skip
    print_rows(rows)
    lines = [
        *head,
        f"Anvil with 0.25 s blocks of {args.gas_limit:,} gas; a backlog of {args.per_tx:,} "
        f"Dispatch logs a block, built once ({backlog_seconds:.0f} s); each run a fresh SQLite "
        f"store and a new relayer process (log_chunk_blocks {LOG_CHUNK_BLOCKS:,}), then the "
        "node-speed client over the same blocks: eth_getLogs in the indexer's chunks (one "
        f"block first, then about {TARGET_LOGS:,} logs a request), one request at a time on "
        "a keep-alive connection, each answer read as bytes and its logs counted, no JSON "
        "decoding.",
        "",
        "| measure | median (min-max, runs) |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in rows],
        "",
        "| run | ceiling logs/s | relayer logs/s | ratio | CPU s | of which loop s | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[
            f"| {i + 1} | {r.ceiling.rate:,.0f} | {r.rate(n):,.0f} | "
            f"{r.rate(n) / r.ceiling.rate:.0%} | {r.cpu:.1f} | {r.loop_cpu:.1f} | {r.rss:.0f} |"
            for i, r in enumerate(runs)
        ],
    ]
    figures: dict[str, Any] = {
        "ceiling_logs_per_s": _median([r.ceiling.rate for r in runs]),
        "relayer_logs_per_s": _median([r.rate(n) for r in runs]),
        "relayer_share_of_ceiling": _median([r.rate(n) / r.ceiling.rate for r in runs]),
        "relayer_cpu_s": _median([r.cpu for r in runs]),
        "relayer_peak_rss_mb": _median([r.rss for r in runs]),
    }
    name = f"index-backfill-{n}" + (f"-busy{args.busy}" if args.busy else "")
    path = write_report(name, "Index backfill", lines, figures=figures)
    print(f"\nreport: {path}")


def _median(values: list[float]) -> float:
    import statistics

    return float(statistics.median(values))


if __name__ == "__main__":
    main()
