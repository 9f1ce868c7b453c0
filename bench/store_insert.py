"""What a backfill's rows cost the SQLite store alone, without the relayer around it.

    .venv/bin/python -m bench.store_insert [--rows 1000000] [--runs 3] [--busy 0]

``bench.index_backfill`` measures the relayer indexing a backlog end to end; this
measures the part of it no decoding can speed up: inserting the rows. Each run inserts
``--rows`` messages like a backfill's (random 32-byte ids, nonces in order, 301-byte
messages, one sender, recipient and transaction a block) in transactions of the
indexer's ``HOLD_ROWS``, three ways, each into a fresh file:

- ``store``: through the store itself (``SqliteStore.add_messages``, its schema, its
  statements and pragmas, on its worker thread), the loop doing nothing else;
- ``statement``: the same schema, pragmas and statements (``insert_many``), from one
  thread with no event loop or thread hop: the store's own overhead is the difference;
- ``no id index``: the same without ``messages_id``, the index every lookup by id uses
  (on the id's first 8 bytes since schema 5; before, the 32-byte id was the primary
  key): what an index in random order costs.

It prints microseconds a row over all the rows and over the writes that hold the last
tenth (the index at its largest), and writes
bench/reports/store-insert-<rows>[-busy<N>]-<date>.md (and its .json).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Busy, add_run_options, median_spread, print_rows, provenance, write_report
from relayer.daemon.indexer import HOLD_ROWS
from relayer.store import NewMessage
from relayer.store.schema import render
from relayer.store.sql import MESSAGE_COLUMNS
from relayer.store.sqlite import INSERT_ROWS, SQLITE, SqliteStore, configure, insert_many

MESSAGE_BYTES = 301  # a bench transfer's message (header and body), as index_backfill's
PER_BLOCK = 1_500
WAYS = ("store", "statement", "no id index")


@dataclass
class Timing:
    """Seconds for all the rows, and for the writes that hold the last tenth of them; and
    the process's CPU seconds for all of them (the store's thread's and the loop's)."""

    total: float
    last: float
    last_rows: int
    cpu: float


def messages(start: int, end: int, raw: bytes) -> list[NewMessage]:
    return [
        NewMessage(
            os.urandom(32), 65001, n, 99_999, b"\x01" * 32, b"\x02" * 32, raw, 1, None,
            f"0x{n // PER_BLOCK:064x}", n // PER_BLOCK, 1.7e9 + n // PER_BLOCK,
        )
        for n in range(start, end)
    ]  # fmt: skip


def timed(rows: int, insert: Callable[[list[NewMessage]], None]) -> Timing:
    """``insert`` every HOLD_ROWS rows, timing only the inserts (not building the rows)."""
    raw = os.urandom(MESSAGE_BYTES)
    spent = last = cpu = 0.0
    last_rows = 0
    for start in range(0, rows, HOLD_ROWS):
        batch = messages(start, min(rows, start + HOLD_ROWS), raw)
        began, began_cpu = time.perf_counter(), time.process_time()
        insert(batch)
        took = time.perf_counter() - began
        cpu += time.process_time() - began_cpu
        spent += took
        if start + len(batch) > rows - rows // 10:  # a write with rows of the last tenth
            last += took
            last_rows += len(batch)
    return Timing(spent, last, last_rows, cpu)


def through_store(path: Path, rows: int) -> Timing:
    async def run() -> Timing:
        store = SqliteStore(path)
        loop = asyncio.get_running_loop()

        def insert(batch: list[NewMessage]) -> None:
            asyncio.run_coroutine_threadsafe(store.add_messages(batch), loop).result()

        try:
            # timed() blocks: it runs on a thread of its own and each insert on the loop
            return await loop.run_in_executor(None, timed, rows, insert)
        finally:
            await store.close()

    return asyncio.run(run())


def through_statement(path: Path, rows: int, *, id_index: bool) -> Timing:
    db = sqlite3.connect(path, isolation_level=None)
    configure(db)
    for statement in render(SQLITE.types):
        if id_index or "messages_id" not in statement:
            db.execute(statement)
    now = time.time()
    state = ("pending", 0, 0.0, None, now, now)

    def insert(batch: Sequence[NewMessage]) -> None:
        db.execute("BEGIN IMMEDIATE")
        rows = [(*m, *state) for m in batch]
        insert_many(db, f"messages ({MESSAGE_COLUMNS})", rows, "ON CONFLICT DO NOTHING")
        db.execute("COMMIT")

    try:
        return timed(rows, insert)
    finally:
        db.close()


def one_run(rows: int) -> dict[str, Timing]:
    result: dict[str, Timing] = {}
    with tempfile.TemporaryDirectory(prefix="stbridge-store-insert-") as tmp:
        for way in WAYS:
            path = Path(tmp) / f"{way.replace(' ', '-')}.db"
            if way == "store":
                result[way] = through_store(path, rows)
            else:
                result[way] = through_statement(path, rows, id_index=way == "statement")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            took = result[way]
            print(
                f"  {way}: {1e6 * took.total / rows:.1f} us a row, "
                f"{1e6 * took.cpu / rows:.1f} us of CPU",
                flush=True,
            )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    add_run_options(parser)
    args = parser.parse_args()
    if args.rows < HOLD_ROWS or args.runs < 1:
        raise SystemExit(f"--rows must be at least {HOLD_ROWS:,} and --runs at least 1")
    busy = Busy(args.busy)
    head = provenance(args, busy=busy)
    runs: list[dict[str, Timing]] = []
    with busy:
        for k in range(args.runs):
            print(f"run {k + 1}/{args.runs}: {args.rows:,} rows, each way …", flush=True)
            runs.append(one_run(args.rows))

    def per_row(way: str, last: bool = False) -> list[float]:
        return [
            1e6 * (r[way].last / r[way].last_rows if last else r[way].total / args.rows)
            for r in runs
        ]

    rows = []
    for way in WAYS:
        rows.append((f"{way}: us a row, all rows", median_spread(per_row(way), "{:.1f}")))
        rows.append((f"{way}: us a row, last tenth", median_spread(per_row(way, True), "{:.1f}")))
        cpu = [1e6 * r[way].cpu / args.rows for r in runs]
        rows.append((f"{way}: us of CPU a row", median_spread(cpu, "{:.1f}")))
    whole = [r["store"].total / args.rows for r in runs]
    rows.append(("store: rows a second at most", median_spread([1 / s for s in whole])))
    print()
    print_rows(rows)
    lines = [
        *head,
        f"{args.rows:,} rows in transactions of {HOLD_ROWS:,}, multi-row statements of "
        f"{INSERT_ROWS:,}; median of {args.runs} run(s), spread in brackets.",
        "",
        "| figure | value |",
        "| --- | --- |",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
        "Wall time, alone: part of it waits on the disk (the WAL and its checkpoints), which",
        "a relayer overlaps with decoding the next chunks; the CPU is what it cannot. The id",
        "index's share is `statement` less `no id index`.",
    ]
    name = f"store-insert-{args.rows}" + (f"-busy{args.busy}" if args.busy else "")
    figures = {f"{w.replace(' ', '_')}_us_a_row": statistics.median(per_row(w)) for w in WAYS}
    path = write_report(name, "Store insert cost", lines, figures=figures)
    print(f"\nreport: {path}")


if __name__ == "__main__":
    main()
