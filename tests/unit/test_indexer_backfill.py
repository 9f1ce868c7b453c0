"""A backfill's shortcuts keep the indexer's rules: the next chunk asked ahead is used only
when it is the one that comes next, a sink's held rows are written before the cursor
moves past them, and Dispatch logs are sliced with every word of their layout checked."""

from __future__ import annotations

import asyncio
import itertools
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from relayer.chain import contracts
from relayer.core.hashing import keccak256
from relayer.core.message import Message
from relayer.daemon import indexer as indexer_module
from relayer.daemon.indexer import fan_out
from relayer.daemon.origin import MailboxSink, OriginTree, TreeMismatch
from relayer.errors import ChainUnavailable
from relayer.store.sqlite import SqliteStore
from tests.unit.test_indexer import ScriptedChain, Sink, _log, catch_up, make

MAILBOX = "0x" + "11" * 20


class HoldingSink(Sink):
    """Holds every log until flushed, like MailboxSink; records what was written."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[int] = []
        self.written: list[int] = []

    async def __call__(self, logs: Sequence[Mapping[str, Any]], times: Mapping[int, int]) -> None:
        await super().__call__(logs, times)
        self.pending += [int(log["blockNumber"], 16) for log in logs]

    def held(self) -> int:
        return len(self.pending)

    async def flush(self) -> None:
        rows, self.pending = self.pending, []
        await asyncio.sleep(0)  # a write takes a while: the indexer reads on meanwhile
        self.written += rows


async def test_held_rows_are_written_before_the_cursor_passes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexer_module, "HOLD_ROWS", 50)  # several writes, in the background
    chain = ScriptedChain(head=300)
    chain.logs_at = {n: [_log(n, i) for i in range(3)] for n in range(1, 299)}
    store = SqliteStore(tmp_path / "s.db")
    sink = HoldingSink()
    cursors: list[int] = []
    set_cursor = store.set_cursor

    async def checked(chain_id: int, block: int, block_hash: str, recent: Any) -> None:
        # every log at or below the new cursor is already written, none only held
        assert all(b > block for b in sink.pending)
        below = [b for b in sink.written if b <= block]
        assert below == [n for n in range(1, block + 1) for _ in range(3)]
        cursors.append(block)
        await set_cursor(chain_id, block, block_hash, recent)

    store.set_cursor = checked  # type: ignore[method-assign]
    indexer = make(chain, store, fan_out(sink), chunk=8)  # type: ignore[arg-type]
    await catch_up(indexer)
    assert len(cursors) > 5 and cursors[-1] == 298
    assert sink.seen == sink.written == [n for n in range(1, 299) for _ in range(3)]
    assert await store.cursor(65001) == (298, chain.hashes[298])
    await store.close()


async def test_a_backfill_hands_freed_heap_back_after_each_write_and_only_then(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexer_module, "HOLD_ROWS", 50)
    trims: list[int] = []
    sink = HoldingSink()
    monkeypatch.setattr(indexer_module.memory, "trim", lambda: trims.append(len(sink.written)))
    chain = ScriptedChain(head=300)
    chain.logs_at = {n: [_log(n, i) for i in range(3)] for n in range(1, 299)}
    store = SqliteStore(tmp_path / "s.db")
    indexer = make(chain, store, fan_out(sink), chunk=8)  # type: ignore[arg-type]
    await catch_up(indexer)
    # after the held rows of each background write went to the store, never before
    assert len(trims) > 5 and trims == sorted(trims) and trims[0] >= 50
    behind = len(trims)
    chain.head = 302  # caught up: a block's write is no backfill
    chain.hashes.update({n: f"0x{n:064x}" for n in (301, 302)})
    chain.logs_at.update({n: [_log(n)] for n in (299, 300)})
    await catch_up(indexer)
    assert len(trims) == behind
    await store.close()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_trim_reaches_glibc() -> None:
    assert indexer_module.memory.trim() is True


async def test_chunks_asked_ahead_cover_the_range_once_in_order(tmp_path: Path) -> None:
    chain = ScriptedChain(head=500)
    chain.logs_at = {n: [_log(n)] for n in range(1, 499)}
    store = SqliteStore(tmp_path / "s.db")
    sink = Sink()
    indexer = make(chain, store, sink, chunk=16)
    await catch_up(indexer)
    assert sink.seen == list(range(1, 499))  # each log once, in chain order
    asked = sorted(set(chain.ranges))
    assert asked[0][0] == 1 and asked[-1][1] == 498
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(asked))
    await store.close()


async def test_a_chunk_asked_ahead_whose_headers_fail_is_asked_again(tmp_path: Path) -> None:
    """The chunk asked ahead brings its blocks' headers too (their timestamps go with the
    rows); when that request fails, the chunk is read again the usual way: none skipped."""
    chain = ScriptedChain(head=500)
    chain.logs_at = {n: [_log(n)] for n in range(1, 499)}
    failures = iter([True, False, False, True])
    batch = chain.batch

    async def flaky(calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        if next(failures, False):
            raise ChainUnavailable("node went away")
        return await batch(calls)

    chain.batch = flaky  # type: ignore[method-assign]
    store = SqliteStore(tmp_path / "s.db")
    sink = Sink()  # checks every log's block timestamp
    indexer = make(chain, store, sink, chunk=16)
    for _ in range(200):
        try:
            if await indexer.step():
                break
        except ChainUnavailable:
            continue  # the run loop retries a round that failed
    assert sink.seen == list(range(1, 499))  # each log once, in chain order
    assert next(failures, None) is None  # both failures were met
    await store.close()


async def test_a_refused_chunk_asked_ahead_is_asked_again_smaller(tmp_path: Path) -> None:
    chain = ScriptedChain(head=202, max_range=10)
    chain.logs_at = {n: [_log(n)] for n in range(1, 201)}
    store = SqliteStore(tmp_path / "s.db")
    sink = Sink()
    indexer = make(chain, store, sink, chunk=64)
    for _ in range(200):
        if await indexer.step():
            break
    assert sink.seen == list(range(1, 201))
    await store.close()


def _dispatch(nonce: int, *, data: bytes | None = None, bad_id: bool = False) -> dict[str, Any]:
    raw = Message(
        nonce=nonce, origin=65001, sender=b"\x00" * 12 + b"\x22" * 20, destination=65002,
        recipient=b"\x00" * 12 + b"\x33" * 20, body=b"\x00" * 31 + b"\x01" + b"\x44" * 32,
    ).encode()  # fmt: skip
    padded = raw + b"\x00" * (-len(raw) % 32)
    encoded = nonce.to_bytes(32, "big") + (64).to_bytes(32, "big")
    encoded += len(raw).to_bytes(32, "big") + padded
    topic = "0x" + contracts.load("Mailbox").event("Dispatch").topic.hex()
    message_id = keccak256(b"other" if bad_id else raw)
    return {
        "address": MAILBOX,
        "topics": [topic, "0x" + message_id.hex(), "0x" + (65002).to_bytes(32, "big").hex()],
        "data": "0x" + (encoded if data is None else data).hex(),
        "blockNumber": hex(10 + nonce),
        "logIndex": "0x0",
        "transactionHash": "0x" + "ab" * 32,
    }


def _sink(store: SqliteStore) -> MailboxSink:
    origin = OriginTree("a", 65001, MAILBOX)
    return MailboxSink(
        chain_name="a", chain_id=65001, origin=origin, store=store,
        names_by_id={65001: "a", 65002: "b"}, bridge=None,
    )  # fmt: skip


async def test_dispatch_logs_become_rows_at_flush(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    sink = _sink(store)
    await sink([_dispatch(n) for n in range(3)], {10: 1_000})
    assert sink.held() == 3
    assert await store.messages() == []  # nothing written before the indexer flushes
    await sink.flush()
    rows = sorted(await store.messages(), key=lambda r: r.nonce)
    assert [r.nonce for r in rows] == [0, 1, 2]
    assert rows[0].kind == 1 and rows[0].destination == 65002
    assert rows[0].dispatched_at == 1_000.0
    assert rows[0].id == keccak256(rows[0].raw)
    assert sink.origin.count == 3
    await store.close()


@pytest.mark.parametrize(
    "spoil",
    [
        lambda d: d[:32] + (96).to_bytes(32, "big") + d[64:],  # the offset word is not 0x40
        lambda d: d[:64] + (10**6).to_bytes(32, "big") + d[96:],  # longer than the data
        lambda d: (7).to_bytes(32, "big") + d[32:],  # the log's nonce is not the message's
        lambda d: d[:64] + (40).to_bytes(32, "big") + d[96:],  # shorter than a header
        lambda d: d[:90],  # cut short
    ],
)
async def test_a_malformed_dispatch_log_is_refused(tmp_path: Path, spoil: Any) -> None:
    store = SqliteStore(tmp_path / "s.db")
    sink = _sink(store)
    good = bytes.fromhex(_dispatch(3)["data"][2:])
    with pytest.raises(TreeMismatch, match=r"not abi\.encode"):
        await sink([_dispatch(3, data=spoil(good))], {})
    with pytest.raises(TreeMismatch, match="id does not match"):
        await sink([_dispatch(0, bad_id=True)], {})
    assert sink.held() == 0 and sink.origin.count == 0
    await store.close()
