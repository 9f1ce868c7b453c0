"""Reads for the console and the API (``relayer/console``): a lane's history in time
buckets, the transactions that carried a message, the checkpoint that covers it.

Plain SELECTs over the tables both stores share; a store supplies its placeholder
(``?`` or ``%s``), how it floors a number, and a way to run one query.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from relayer.store.models import TxRow, TxStatus

BACKLOG = "('pending', 'submitted', 'failed')"  # as Store.backlog counts


@dataclass(frozen=True, slots=True)
class Bucket:
    """One time bucket of a lane: what was dispatched and delivered in it."""

    start: float
    dispatched: int = 0
    delivered: int = 0
    latency_avg: float | None = None  # seconds from dispatch to delivery
    latency_max: float | None = None


@dataclass(frozen=True, slots=True)
class LaneHistory:
    """A lane from ``since`` on, in buckets of ``bucket`` seconds, oldest first.

    ``backlog_before`` is how many messages were dispatched before ``since`` and not yet
    delivered at ``since``; with each bucket's dispatched and delivered counts it gives
    the backlog at the end of every bucket. As ``Store.backlog``, the backlog is what
    waits (pending, submitted, failed): ignored and refused messages never count.
    """

    since: float
    bucket: float
    backlog_before: int
    buckets: list[Bucket] = field(default_factory=list)

    def backlog(self) -> list[int]:
        """The backlog at the end of each bucket."""
        out, level = [], self.backlog_before
        for b in self.buckets:
            level += b.dispatched - b.delivered
            out.append(max(level, 0))
        return out


@dataclass(frozen=True, slots=True)
class CheckpointCover:
    """The lowest checkpoint of an origin at or past a nonce, and who signed it."""

    index: int
    root: bytes
    validators: list[str]


class StoreReads:
    """Mixed into the store; ``_select`` runs a query written with ``?`` placeholders, and
    ``_floor`` is how the database takes a number's integer part."""

    _mark: str = "?"  # the store's connection puts its own placeholder in

    @property
    def _floor(self) -> str:
        return "CAST({} AS INTEGER)"

    @abstractmethod
    async def _select(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...

    async def lane_history(
        self, origin: int, destination: int, *, since: float, until: float, bucket: float
    ) -> LaneHistory:
        """Dispatches, deliveries and delivery latency of a lane per bucket since ``since``."""
        m = self._mark
        n = max(1, int((until - since) // bucket) + 1)
        waiting = await self._select(  # not delivered yet (the lane's index, by status)
            f"SELECT count(*) FROM messages WHERE origin = {m} AND destination = {m} "
            f"AND status IN {BACKLOG} AND dispatched_at < {m}",
            (origin, destination, since),
        )
        late = await self._select(  # delivered since, dispatched before (messages_delivered)
            f"SELECT count(*) FROM messages WHERE origin = {m} AND destination = {m} "
            f"AND delivered_at >= {m} AND dispatched_at < {m}",
            (origin, destination, since, since),
        )
        slot = self._floor.format(f"(dispatched_at - {m}) / {m}")
        sent = await self._select(
            f"SELECT {slot} AS b, count(*) FROM messages WHERE origin = {m} "
            f"AND destination = {m} AND dispatched_at >= {m} AND status NOT IN ('ignored', "
            "'refused') GROUP BY b",
            (since, bucket, origin, destination, since),
        )
        slot = self._floor.format(f"(delivered_at - {m}) / {m}")
        done = await self._select(
            f"SELECT {slot} AS b, count(*), avg(delivered_at - dispatched_at), "
            f"max(delivered_at - dispatched_at) FROM messages WHERE origin = {m} "
            f"AND destination = {m} AND delivered_at >= {m} GROUP BY b",
            (since, bucket, origin, destination, since),
        )
        dispatched = {int(b): int(c) for b, c in sent}
        delivered = {int(b): (int(c), float(a), float(x)) for b, c, a, x in done}
        buckets = []
        for i in range(n):
            count, avg, worst = delivered.get(i, (0, None, None))
            buckets.append(Bucket(since + i * bucket, dispatched.get(i, 0), count, avg, worst))
        return LaneHistory(since, bucket, int(waiting[0][0]) + int(late[0][0]), buckets)

    async def message_txs(self, message_id: bytes) -> list[TxRow]:
        """Every transaction that carried a message, oldest first (``raw`` left empty)."""
        m = self._mark
        rows = await self._select(
            "SELECT t.chain_id, t.sender, t.nonce, t.hash, t.max_fee, t.priority_fee, "
            "t.gas_limit, t.purpose, t.status, t.sent_at, t.mined_block, t.replaces "
            "FROM txs t JOIN tx_messages x ON x.tx_hash = t.hash "
            f"WHERE x.message_id = {m} ORDER BY t.sent_at, t.nonce",
            (message_id,),
        )
        return [
            TxRow(
                chain_id=int(c), sender=str(s), nonce=int(n), hash=str(h), raw=b"",
                max_fee=int(mf), priority_fee=int(pf), gas_limit=int(g), purpose=str(p),
                status=TxStatus(st), sent_at=float(at),
                mined_block=None if mb is None else int(mb), replaces=r,
            )
            for c, s, n, h, mf, pf, g, p, st, at, mb, r in rows
        ]  # fmt: skip

    async def checkpoint_covering(self, origin: int, nonce: int) -> CheckpointCover | None:
        """The lowest signed checkpoint of ``origin`` whose index reaches ``nonce``."""
        m = self._mark
        rows = await self._select(
            "SELECT idx, root, validator FROM checkpoint_signatures WHERE origin = "
            f"{m} AND idx = (SELECT min(idx) FROM checkpoint_signatures WHERE origin = {m} "
            f"AND idx >= {m}) ORDER BY validator",
            (origin, origin, nonce),
        )
        if not rows:
            return None
        index, root = int(rows[0][0]), bytes(rows[0][1])
        return CheckpointCover(index, root, [str(v) for i, r, v in rows if bytes(r) == root])
