"""A caught-up indexer asks the head fast only while the next block is due, so a new block
is noticed within tens of milliseconds (what a transfer's latency waits on) without polling
fast all the time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from relayer.daemon import indexer as indexer_module
from relayer.daemon.indexer import DUE_LEAD, FAST_POLL, ChainIndexer
from relayer.store.sqlite import SqliteStore
from tests.unit.test_indexer import ScriptedChain, Sink, _log


def make(block_time: float, poll_interval: float = 0.5) -> ChainIndexer:
    rpc = SimpleNamespace(name="a", chain=SimpleNamespace(block_time=block_time, chain_id=1))
    return ChainIndexer(
        rpc,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        addresses=[], sink=None, start_block=0, confirmations=1,  # type: ignore[arg-type]
        poll_interval=poll_interval, chunk_blocks=100,
    )  # fmt: skip


def test_polls_fast_only_while_the_next_block_is_due() -> None:
    indexer = make(block_time=1.0)
    indexer.state.head = 10
    # the head just moved: nothing is due for a block time, minus the lead
    assert indexer.idle_sleep(now=100.0) == 0.5  # capped at the poll interval
    assert abs(indexer.idle_sleep(now=100.6) - (1.0 - DUE_LEAD - 0.6)) < 1e-9
    assert indexer.idle_sleep(now=100.95) == FAST_POLL  # due: ask every FAST_POLL
    assert indexer.idle_sleep(now=101.4) == FAST_POLL  # late: keep asking for half a block
    assert indexer.idle_sleep(now=101.6) == 0.5  # a stalled chain is not hammered
    indexer.state.head = 11  # the block came: the next one is due a block time after
    assert indexer.idle_sleep(now=101.7) == 0.5
    assert indexer.idle_sleep(now=102.65) == FAST_POLL


def test_never_sleeps_longer_than_the_poll_interval_nor_polls_fast_without_a_block_time() -> None:
    slow = make(block_time=12.0, poll_interval=0.5)
    slow.state.head = 1
    assert slow.idle_sleep(now=0.0) == 0.5
    on_demand = make(block_time=0.0)
    on_demand.state.head = 1
    assert on_demand.idle_sleep(now=0.0) == 0.5
    assert on_demand.idle_sleep(now=0.99) == 0.5


async def test_the_next_block_is_due_a_block_time_after_the_poll_that_saw_this_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indexing a full block takes a while; the next block comes a block time after this one
    appeared, not after it was indexed, so fast polling starts from the poll that saw it."""
    clock = SimpleNamespace(now=100.0)
    monkeypatch.setattr(indexer_module, "time", SimpleNamespace(monotonic=lambda: clock.now))

    class SlowSink(Sink):
        async def __call__(self, logs: Sequence[Mapping[str, Any]], times: Any) -> None:
            await super().__call__(logs, times)
            clock.now += 0.3  # decoding and storing the block's messages

    chain = ScriptedChain(head=20)
    store = SqliteStore(tmp_path / "s.db")
    try:
        indexer = ChainIndexer(
            chain,  # type: ignore[arg-type]
            store, addresses=["0x" + "11" * 20], sink=SlowSink(), start_block=1,
            confirmations=1, poll_interval=5.0, chunk_blocks=100,
        )  # fmt: skip
        while not await indexer.step():
            pass
        chain.head = 21
        chain.hashes[21] = f"0x{21:064x}"
        chain.logs_at = {20: [_log(20)]}
        clock.now = 100.0
        assert await indexer.step()  # block 21 seen at 100.0, block 20 indexed by 100.3
        assert abs(clock.now - 100.3) < 1e-9
        due = 100.0 + chain.chain.block_time
        assert abs(indexer.idle_sleep() - (due - DUE_LEAD - clock.now)) < 1e-9
    finally:
        await store.close()
