"""A cold lane and a caught-up origin: the newest confirmed block's messages go out at once.

A lane that sent nothing for a few block times gathers and holds a backlog so its first
blocks are full (tests/unit/test_drain.py). When the origin's indexer has read every
confirmed block, what is due is all there is until the origin's next block: gathering
then waits for nothing, and holding less than a block's worth for the next destination
block only delivers it a block later (bench/relay_latency.py's first dispatch block).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from relayer.daemon.indexer import IndexerState
from relayer.daemon.lane import LaneWorker
from relayer.store.sqlite import SqliteStore
from tests.unit.test_lane_shared_store import RecordingSender, lane_on, message, sign

DUE = 25  # more than a batch (lane_on: 10), far less than a 150M-gas block's worth


class HoldingSender(RecordingSender):
    """Knows the destination's block gas limit, and records held sends (``send_held``)."""

    def __init__(self, store: SqliteStore) -> None:
        super().__init__(store)
        self.held: list[Any] = []

    async def gas_limit(self) -> int | None:
        return 150_000_000

    async def send_held(self, items: Any, *, before_broadcast: Any) -> list[Any]:
        self.held.append(items)
        return []


async def cold_lane(store: SqliteStore, *, head: int, cursor: int) -> tuple[LaneWorker, Any]:
    """A lane with 1 s destination blocks that has sent nothing yet (cold), ``DUE``
    messages due under a signed checkpoint, its origin indexer at ``cursor`` of ``head``."""
    await store.add_messages([message(n) for n in range(DUE)])
    sender = HoldingSender(store)
    lane = await lane_on(store, DUE, sender)
    lane.config.block_time = 1.0
    lane.origin_indexer = SimpleNamespace(  # type: ignore[assignment]
        state=IndexerState(head=head, cursor=cursor), confirmations=1
    )
    await sign(store, DUE - 1, lane.origin.tree.root(DUE))
    return lane, sender


async def test_a_caught_up_origins_block_goes_out_at_once(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "r.db", owner="one")
    try:
        lane, sender = await cold_lane(store, head=10, cursor=9)
        assert lane._cold()
        assert await lane.step() == DUE  # no gathering round, no hold for the next block
        assert sender.held == []
        assert sum(len(t.message_ids) for t in sender.sent) == DUE
    finally:
        await store.close()


async def test_a_cold_lane_holds_a_caught_up_block_of_a_blocks_worth(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "r.db", owner="one")
    try:
        lane, _sender = await cold_lane(store, head=10, cursor=9)
        assert not await lane._hold(DUE)
        worth = lane.gas.block_worth(150_000_000)
        assert await lane._hold(worth)  # a block's worth: the first block full, as before
    finally:
        await store.close()


async def test_a_backlog_still_being_indexed_is_gathered_and_held(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "r.db", owner="one")
    try:
        lane, sender = await cold_lane(store, head=10, cursor=5)
        assert await lane.step() == 0  # gathers: the indexer is reading more
        assert sender.sent == [] and sender.held == []
        assert await lane._hold(DUE)
    finally:
        await store.close()
