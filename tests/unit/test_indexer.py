"""The indexer against a scripted chain: confirmations, shrinking ranges, deep reorgs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from relayer.chain.health import ChainHealth
from relayer.chain.rpc import RpcError
from relayer.config import ChainConfig
from relayer.daemon.indexer import ChainIndexer
from relayer.store.sqlite import SqliteStore


class ScriptedChain:
    """Just the RPC methods the indexer calls, over an in-memory list of blocks."""

    def __init__(self, head: int, max_range: int | None = None) -> None:
        self.chain = ChainConfig(name="a", chain_id=65001, rpc_url="http://127.0.0.1:1")
        self.name = "a"
        self.health = ChainHealth("a", 10.0)
        self.head = head
        self.max_range = max_range
        self.hashes = {n: f"0x{n:064x}" for n in range(head + 1)}
        self.logs_at: dict[int, list[dict[str, Any]]] = {}
        self.ranges: list[tuple[int, int]] = []

    async def block_number(self) -> int:
        return self.head

    async def block(self, number: int) -> Any:
        class Header:
            hash = self.hashes[number]

        return Header()

    async def logs(
        self, address: Any, start: int, end: int, topics: Any = None
    ) -> list[dict[str, Any]]:
        self.ranges.append((start, end))
        if self.max_range is not None and end - start + 1 > self.max_range:
            raise RpcError("query exceeds max block range 10", code=-32000)
        return [log for n in range(start, end + 1) for log in self.logs_at.get(n, [])]

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        out = []
        for _method, params in calls:
            n = int(params[0], 16)
            out.append({"number": hex(n), "hash": self.hashes[n], "timestamp": hex(1000 + n)})
        return out


def _log(block: int, index: int = 0) -> dict[str, Any]:
    return {"blockNumber": hex(block), "logIndex": hex(index), "address": "0x" + "11" * 20}


class Sink:
    def __init__(self) -> None:
        self.seen: list[int] = []

    async def __call__(self, logs: Sequence[Mapping[str, Any]], times: Mapping[int, int]) -> None:
        self.seen += [int(log["blockNumber"], 16) for log in logs]
        for log in logs:
            assert times[int(log["blockNumber"], 16)] == 1000 + int(log["blockNumber"], 16)


async def catch_up(indexer: ChainIndexer) -> None:
    for _ in range(100):
        if await indexer.step():
            return
    raise AssertionError("the indexer never caught up")


def make(chain: ScriptedChain, store: SqliteStore, sink: Sink, chunk: int = 100) -> ChainIndexer:
    return ChainIndexer(
        chain,  # type: ignore[arg-type]
        store,
        addresses=["0x" + "11" * 20],
        sink=sink,
        start_block=1,
        confirmations=2,
        poll_interval=0.01,
        chunk_blocks=chunk,
    )


async def test_indexes_only_confirmed_blocks_and_resumes(tmp_path: Path) -> None:
    chain = ScriptedChain(head=20)
    chain.logs_at = {5: [_log(5)], 18: [_log(18)], 19: [_log(19)]}
    store = SqliteStore(tmp_path / "s.db")
    sink = Sink()
    indexer = make(chain, store, sink)
    await catch_up(indexer)
    assert sink.seen == [5, 18]  # block 19 is not 2 confirmations deep yet
    assert await store.cursor(65001) == (18, chain.hashes[18])
    chain.head = 22
    restarted = make(chain, store, sink)  # a restart picks up from the stored cursor
    await catch_up(restarted)
    assert sink.seen == [5, 18, 19]
    await store.close()


async def test_shrinks_the_range_a_node_refuses(tmp_path: Path) -> None:
    chain = ScriptedChain(head=102, max_range=10)
    chain.logs_at = {n: [_log(n)] for n in range(1, 101)}
    store = SqliteStore(tmp_path / "s.db")
    sink = Sink()
    indexer = make(chain, store, sink, chunk=64)
    for _ in range(50):
        if await indexer.step():
            break
    assert sink.seen == list(range(1, 101))
    assert all(end - start + 1 <= 64 for start, end in chain.ranges)
    assert chain.ranges[0] == (1, 1)  # a relayer far behind starts with one block


async def test_chunks_follow_the_log_density(tmp_path: Path) -> None:
    """A busy chain (many logs a block) gets small requests, a quiet one large ones."""
    from relayer.daemon.indexer import TARGET_LOGS

    chain = ScriptedChain(head=3000)
    chain.logs_at = {n: [_log(n, i) for i in range(TARGET_LOGS // 4)] for n in range(1, 201)}
    store = SqliteStore(tmp_path / "s.db")
    sink = Sink()
    indexer = make(chain, store, sink, chunk=1000)
    await catch_up(indexer)
    busy = [(s, e) for s, e in chain.ranges if e <= 200]
    quiet = [(s, e) for s, e in chain.ranges if s > 200]
    assert max(e - s + 1 for s, e in busy) <= 8  # about TARGET_LOGS logs per answer
    assert max(e - s + 1 for s, e in quiet) == 1000
    assert len(sink.seen) == 200 * (TARGET_LOGS // 4)
    await store.close()
    await store.close()


async def test_reorg_deeper_than_confirmations_halts(tmp_path: Path) -> None:
    chain = ScriptedChain(head=20)
    store = SqliteStore(tmp_path / "s.db")
    sink = Sink()
    indexer = make(chain, store, sink)
    await catch_up(indexer)
    chain.hashes[18] = "0x" + "ee" * 32  # block 18, already treated as final, changed
    chain.head = 25
    await indexer.run()  # returns instead of guessing through
    assert indexer.state.halted is not None
    assert "reorganized below block 18" in indexer.state.halted
    assert "deeper than its 2 confirmation(s)" in indexer.state.halted
    assert await store.cursor(65001) == (18, f"0x{18:064x}")
    await store.close()


async def test_other_rpc_errors_are_not_mistaken_for_range_limits(tmp_path: Path) -> None:
    chain = ScriptedChain(head=20)
    store = SqliteStore(tmp_path / "s.db")

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RpcError("method handler crashed", code=-32603)

    chain.logs = broken  # type: ignore[method-assign]
    indexer = make(chain, store, Sink())
    before = indexer.chunk
    with pytest.raises(RpcError):
        await indexer.step()
    assert indexer.chunk == before
    await store.close()
