"""The PostgreSQL store's writer lease: one relayer process per relayer key (writer.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

from relayer.store.sql import Connection, Tx
from relayer.store.writer import LeaseWriterGuard, WriterInfo


class PgWriterLease(LeaseWriterGuard):
    """A row of ``writer_leases`` keyed by the relayer's address."""

    def __init__(
        self,
        db: Connection,
        relayer: str,
        lease_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(relayer, lease_seconds)
        self.db = db
        self._clock = clock

    async def _take(self) -> WriterInfo | None:
        me = self.info

        async def take(tx: Tx) -> WriterInfo | None:
            # takers of one key queue here, so two starting at once cannot both win
            await tx.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (self.relayer,))
            rows = await tx.fetch(
                "SELECT holder, host, pid, since, heartbeat FROM writer_leases WHERE relayer = ?",
                (self.relayer,),
            )
            row = rows[0] if rows else None
            now = self._clock()
            if row is not None and row[0] != me.holder:
                other = WriterInfo(str(row[0]), str(row[1]), int(row[2]), float(row[3]))
                if float(row[4]) > now - self.lease_seconds and not other.gone():
                    return other
            await tx.execute(
                "INSERT INTO writer_leases (relayer, holder, host, pid, since, heartbeat) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (relayer) DO UPDATE SET "
                "holder = excluded.holder, host = excluded.host, pid = excluded.pid, "
                "since = excluded.since, heartbeat = excluded.heartbeat",
                (self.relayer, me.holder, me.host, me.pid, me.since, now),
            )
            return None

        return await self.db.run(take)

    async def _renew(self) -> bool:
        changed = await self.db.run(
            lambda tx: tx.execute(
                "UPDATE writer_leases SET heartbeat = ? WHERE relayer = ? AND holder = ?",
                (self._clock(), self.relayer, self.info.holder),
            )
        )
        return changed == 1

    async def release(self) -> None:
        await self.db.run(
            lambda tx: tx.execute(
                "DELETE FROM writer_leases WHERE relayer = ? AND holder = ?",
                (self.relayer, self.info.holder),
            )
        )
