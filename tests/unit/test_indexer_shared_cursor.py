"""Two indexers of one chain on one store (two relayers): each reads every log itself
from where it resumed, and the shared cursor never moves back."""

from __future__ import annotations

from pathlib import Path

from relayer.daemon.indexer import ChainIndexer
from relayer.store.sqlite import SqliteStore
from tests.unit.test_indexer import ScriptedChain, Sink, _log, make


async def _catch_up(indexer: ChainIndexer) -> None:
    for _ in range(100):
        if await indexer.step():
            return
    raise AssertionError("the indexer did not catch up")


async def test_each_indexer_reads_every_log_from_where_it_resumed(tmp_path: Path) -> None:
    chain = ScriptedChain(head=40)
    chain.logs_at = {n: [_log(n)] for n in range(1, 39)}
    store_a = SqliteStore(tmp_path / "shared.db", owner="a")
    store_b = SqliteStore(tmp_path / "shared.db", owner="b")
    seen_a, seen_b = Sink(), Sink()
    try:
        late = make(chain, store_b, seen_b, chunk=10)
        await late.resume()  # relayer b read the cursor (none yet), then loaded its tree
        early = make(chain, store_a, seen_a, chunk=10)
        await _catch_up(early)  # meanwhile relayer a indexed everything
        assert await store_a.cursor(65001) == (38, chain.hashes[38])
        history = await store_a.recent_hashes(65001)  # the block hashes a recorded
        assert await late.step() is False  # b reads its first chunk, not from a's cursor
        assert await store_b.cursor(65001) == (38, chain.hashes[38])  # b's write: no step back
        await _catch_up(late)
        assert seen_b.seen == seen_a.seen == list(range(1, 39))
        assert await store_b.recent_hashes(65001) == history  # b's writes added none
    finally:
        await store_a.close()
        await store_b.close()
