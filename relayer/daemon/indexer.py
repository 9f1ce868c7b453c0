"""The indexer: follows one chain's logs up to head minus its confirmations.

A cursor per chain lives in the store with the hashes of recent blocks. Each round
first checks that the cursor's block is still on the chain: if it is not, the chain
reorganized deeper than its confirmations, which the relayer will not guess
through; the chain's lanes halt with a message that says so. Logs are fetched with
``eth_getLogs`` in chunks that halve when a node refuses a range and grow back
when it answers.

Relayers sharing a store share each chain's cursor, which only moves forward. It is
where an indexer starts (``resume``, read before the relayer loads its tree from the
store, so the tree holds every message up to it); from then on each indexer follows
its own position and reads every confirmed log itself, since its relayer needs every
leaf of the tree to build proofs (the rows it writes are idempotent, so reading a
chunk twice is safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from relayer.chain.logs import Log as Log  # re-exported: the stages name them here
from relayer.chain.logs import LogSink as LogSink
from relayer.chain.rpc import ChainRpc, RpcError
from relayer.core import memory
from relayer.errors import ChainError
from relayer.store import Store
from relayer.telemetry.logging import get_logger
from relayer.telemetry.metrics import Metrics


def fan_out(*sinks: LogSink) -> LogSink:
    """One sink that hands every chunk to each of ``sinks`` in turn (each keeps its own
    contracts' logs): the mailbox's and the timelock's on the same indexer."""
    return _FanOut(sinks)


class _FanOut:
    def __init__(self, sinks: Sequence[LogSink]) -> None:
        self.sinks = list(sinks)

    async def __call__(self, logs: Sequence[Log], times: Mapping[int, int]) -> None:
        for each in self.sinks:
            await each(logs, times)

    def held(self) -> int:
        return sum(_held(each) or 0 for each in self.sinks)

    async def flush(self) -> None:
        for each in self.sinks:
            await _flush(each)


def _held(sink: LogSink) -> int | None:
    """How many rows ``sink`` holds unwritten; None for a sink that writes every chunk."""
    held = getattr(sink, "held", None)
    return None if held is None else int(held())


async def _flush(sink: LogSink) -> None:
    flush = getattr(sink, "flush", None)
    if flush is not None:
        await flush()


TARGET_LOGS = 2_000  # logs per eth_getLogs answer the indexer aims at
INITIAL_CHUNK = 1  # blocks in the first request; doubles while answers stay small
FAST_POLL = 0.02  # seconds between head polls while the next block is due
DUE_LEAD = 0.1  # start polling fast this long before a block is due (timers run late)
# while far behind, a sink that holds rows (MailboxSink) writes them once it holds this
# many, in one transaction, and the cursor follows: SQLite's random-order id index costs
# half as much a row in transactions of 10,000 as of 1,500 (docs/architecture.md)
HOLD_ROWS = 10_000


def next_chunk(chunk: int, max_chunk: int, blocks: int, logs: int) -> int:
    """The blocks of the next request after ``blocks`` blocks answered with ``logs`` logs:
    about TARGET_LOGS logs (a busy chain's thousands of logs a block would otherwise come
    back as one huge response), growing at most twice, never past ``max_chunk``.
    bench/index_backfill.py's node-speed client follows the same rule."""
    by_density = max_chunk if logs == 0 else max(1, TARGET_LOGS * blocks // logs)
    return max(1, min(max_chunk, chunk * 2, by_density))


_RANGE_REFUSALS = (
    "range",
    "too many",
    "limit",
    "exceed",
    "block range",
    "query returned more than",
    "response size",
)


class ReorgTooDeep(ChainError):
    """The chain reorganized below the blocks the relayer treated as final."""


@dataclass
class IndexerState:
    """What the rest of the relayer reads of an indexer's progress."""

    head: int = -1
    cursor: int = -1
    halted: str | None = None


class ChainIndexer:
    """Fetches confirmed logs of a chain's contracts and hands them to the sinks."""

    # the head this indexer last saw move, and when (monotonic): the next block is due one
    # block time later (``idle_sleep``)
    _head_moved: tuple[int, float] = (-1, 0.0)

    def __init__(
        self,
        rpc: ChainRpc,
        store: Store,
        *,
        addresses: Sequence[str],
        sink: LogSink,
        start_block: int,
        confirmations: int,
        poll_interval: float,
        chunk_blocks: int,
        metrics: Metrics | None = None,
    ) -> None:
        self.rpc = rpc
        self.store = store
        self.addresses = list(addresses)
        self.sink = sink
        self.start_block = start_block
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.max_chunk = chunk_blocks
        # start small and double: a relayer far behind a busy chain must not ask for a
        # hundred thousand logs in its first request
        self.chunk = min(chunk_blocks, INITIAL_CHUNK)
        self.metrics = metrics
        self.state = IndexerState()
        self._position: tuple[int, str] | None = None  # (block, hash) this indexer reached
        self._resumed = False
        # the next chunk's eth_getLogs, asked while this chunk is decoded and stored: the
        # node works on it meanwhile (docs/architecture.md, "Indexing")
        self._ahead: tuple[int, int, asyncio.Task[tuple[list[Log], list[Any]]]] | None = None
        self._writing: asyncio.Task[None] | None = None  # held rows and cursor on their way
        self._stored: tuple[int, str] | None = None  # the cursor this indexer last wrote
        self.progress = asyncio.Condition()
        self.log = get_logger("indexer", chain=rpc.name)

    async def run(self) -> None:
        """Index until cancelled. A deep reorg stops this chain's indexing for good."""
        try:
            await self._run()
        finally:
            self._drop_ahead()
            if self._writing is not None:  # the cursor stays below the rows it did not store
                self._writing.cancel()
                self._writing = None

    async def _run(self) -> None:
        while True:
            # while the chain's watcher finds it unreachable, wait for it to answer
            await self.rpc.health.wait_answering()
            try:
                caught_up = await self.step()
            except ReorgTooDeep as exc:
                self.state.halted = str(exc)
                self.log.error("lane halted", reason=str(exc))
                async with self.progress:
                    self.progress.notify_all()
                return
            except ChainError as exc:
                self.log.warning("indexing failed; retrying", error=str(exc))
                caught_up = True
            if caught_up:
                await asyncio.sleep(self.idle_sleep())

    async def step(self) -> bool:
        """One round: returns True when the cursor reached the confirmed head."""
        asked = time.monotonic()
        head = await self.rpc.block_number()
        if head != self.state.head:
            # the block appeared before this poll answered: the next one is due a block time
            # after that, not after this round's indexing of it (``idle_sleep``)
            self._head_moved = (head, asked)
        self.state.head = head
        if self.metrics:
            self.metrics.head_block.labels(self.rpc.name).set(head)
        safe = head - self.confirmations
        if not self._resumed:
            await self.resume()
        stored = self._position
        if stored is None:
            cursor = self.start_block - 1
        else:
            cursor = stored[0]
            await self._check_canonical(stored)
        if safe <= cursor:
            await self._written()
            if stored is not None and stored != self._stored:  # rows held when the head fell
                await self._write(*stored)
            self._set_cursor(cursor)
            return True
        ahead = await self._take_ahead(cursor + 1, safe)
        if ahead is not None:
            end, logs, headers = ahead
        else:
            end = min(safe, cursor + self.chunk)
            asked_logs = await self._logs(cursor + 1, end)
            if asked_logs is None:
                return False  # the chunk shrank; try again at once
            logs, headers = asked_logs, None
        self._resize(end - cursor, len(logs))
        if end < safe:  # far behind: the node reads the next chunk while this one is stored
            self._ask_ahead(end + 1, min(safe, end + self.chunk))
        if headers is None:
            headers = await self._headers(logs, end)
        times = {int(h["number"], 16): int(h["timestamp"], 16) for h in headers if h}
        end_hash = next(str(h["hash"]) for h in headers if h and int(h["number"], 16) == end)
        await self.sink(logs, times)
        self._position = (end, end_hash)
        held = _held(self.sink)
        if end < safe and held is not None and held < HOLD_ROWS:
            return False  # far behind: the rows and the cursor are written together later
        await self._written()  # one write at a time, in chain order
        if end < safe and held is not None:
            # far behind: the rows go to the store (SQLite's thread) while the next chunks
            # are read and decoded; the cursor follows them in the same write
            self._writing = asyncio.create_task(self._write(end, end_hash, backfill=True))
            return False
        await self._write(end, end_hash)
        return end >= safe

    async def _write(self, end: int, end_hash: str, *, backfill: bool = False) -> None:
        """The sink's held rows, then the cursor at ``end``: a row is never below a cursor
        that was stored without it (a crash in between reads the chunk again). In a
        ``backfill`` the heap's pages freed with the answers and rows go back to the system
        (``memory.trim``): glibc kept them, and RSS stayed at the largest answer's mark."""
        await _flush(self.sink)
        if backfill:
            memory.trim()
        await self.store.set_cursor(self.rpc.chain.chain_id, end, end_hash, [(end, end_hash)])
        self._stored = (end, end_hash)
        self._set_cursor(end)
        async with self.progress:
            self.progress.notify_all()

    async def _written(self) -> None:
        """Wait for the write left running in the background; its error is raised here."""
        writing, self._writing = self._writing, None
        if writing is not None:
            await writing

    def idle_sleep(self, now: float | None = None) -> float:
        """How long to wait, caught up, before asking the head again: ``poll_interval``,
        except from just before the next block is due (a block time after the head last
        moved: when the poll that saw it was asked, not when the round that indexed it
        ended) until half a block time after, when the head is asked every ``FAST_POLL``.
        A new block is then noticed within tens of milliseconds instead of up to a poll
        interval later, which is most of what a transfer waits for beyond its confirmations
        (bench/relay_latency.py); the cost is a few more ``eth_blockNumber`` a block."""
        now = time.monotonic() if now is None else now
        head, moved = self._head_moved
        if self.state.head != head:
            self._head_moved = (self.state.head, now)
            moved = now
        block_time = self.rpc.chain.block_time
        if block_time <= 0:  # blocks on demand: nothing to expect
            return self.poll_interval
        due = moved + block_time
        if now < due - DUE_LEAD:
            return min(self.poll_interval, due - DUE_LEAD - now)
        if now < due + block_time / 2:
            return min(self.poll_interval, FAST_POLL)
        return self.poll_interval

    def _resize(self, blocks: int, logs: int) -> None:
        self.chunk = next_chunk(self.chunk, self.max_chunk, blocks, logs)

    def _ask_ahead(self, start: int, end: int) -> None:
        self._drop_ahead()
        task = asyncio.create_task(self._chunk(start, end))
        self._ahead = (start, end, task)

    async def _chunk(self, start: int, end: int) -> tuple[list[Log], list[Any]]:
        """A chunk asked ahead: its logs in chain order and its blocks' headers."""
        logs = self._ordered(await self.rpc.logs(self.addresses, start, end))
        return logs, await self._headers(logs, end)

    async def _headers(self, logs: Sequence[Log], end: int) -> list[Any]:
        """The headers of the blocks ``logs`` are in, and of ``end`` (their timestamps go
        with the rows; ``end``'s hash is the cursor's)."""
        blocks = sorted({int(log["blockNumber"], 16) for log in logs} | {end})
        return await self.rpc.batch([("eth_getBlockByNumber", [hex(b), False]) for b in blocks])

    async def _take_ahead(self, start: int, safe: int) -> tuple[int, list[Log], list[Any]] | None:
        """The chunk asked ahead, if it is the one that comes next: its end, logs and
        headers. One that failed is asked again the usual way (``_logs``: a refused range
        shrinks there, other errors count as before)."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        first, end, task = ahead
        if first != start or end > safe:
            _cancel(task)
            return None
        try:
            logs, headers = await task
        except ChainError:
            return None
        return end, logs, headers

    def _drop_ahead(self) -> None:
        if self._ahead is not None:
            _cancel(self._ahead[2])
            self._ahead = None

    async def resume(self) -> None:
        """Start from the store's cursor (``start_block`` without one).

        A relayer calls this before loading its tree from the store: another relayer
        sharing the store may move the cursor meanwhile, but never past messages it has
        not stored yet, so the tree then holds every leaf below where indexing starts.
        """
        self._position = self._stored = await self.store.cursor(self.rpc.chain.chain_id)
        self._resumed = True

    def _set_cursor(self, cursor: int) -> None:
        self.state.cursor = cursor
        if self.metrics:
            self.metrics.cursor_block.labels(self.rpc.name).set(max(cursor, 0))

    async def _check_canonical(self, stored: tuple[int, str]) -> None:
        number, expected = stored
        if number < 0:
            return
        block = await self.rpc.block(number)
        if block.hash.lower() != expected.lower():
            raise ReorgTooDeep(
                f"chain {self.rpc.name} reorganized below block {number} "
                f"(indexed hash {expected[:10]}…, now {block.hash[:10]}…), deeper than its "
                f"{self.confirmations} confirmation(s): lanes from {self.rpc.name} halted; "
                "check the chain, raise confirmations, and reindex before resuming"
            )

    async def _logs(self, start: int, end: int) -> list[Log] | None:
        try:
            logs = await self.rpc.logs(self.addresses, start, end)
        except RpcError as exc:
            text = str(exc).lower()
            if self.chunk > 1 and any(word in text for word in _RANGE_REFUSALS):
                self.chunk = max(1, (end - start + 1) // 2)
                self.log.info("node refused a log range; shrinking", blocks=self.chunk)
                return None
            raise
        return self._ordered(logs)

    @staticmethod
    def _ordered(logs: list[dict[str, Any]]) -> list[Log]:
        """In chain order, without the logs a node marks removed."""
        logs.sort(key=lambda log: (int(log["blockNumber"], 16), int(log["logIndex"], 16)))
        return [log for log in logs if not log.get("removed")]

    async def wait_for_progress(self, seconds: float) -> None:
        """Sleep until the cursor moves (or ``seconds`` pass)."""
        async with self.progress:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self.progress.wait()


def _cancel(task: asyncio.Task[Any]) -> None:
    """Drop a chunk asked ahead; one that already failed has its error read (not warned of)."""
    if task.done():
        if not task.cancelled():
            task.exception()
    else:
        task.cancel()
