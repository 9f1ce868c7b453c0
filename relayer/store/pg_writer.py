"""The PostgreSQL store's writer lease: one relayer process per relayer key (writer.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

from relayer.store.pg_connection import Cursor, PgConnection
from relayer.store.writer import LeaseWriterGuard, WriterInfo


class PgWriterLease(LeaseWriterGuard):
    """A row of ``writer_leases`` keyed by the relayer's address."""

    def __init__(
        self,
        db: PgConnection,
        relayer: str,
        lease_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(relayer, lease_seconds)
        self.db = db
        self._clock = clock

    async def _take(self) -> WriterInfo | None:
        me = self.info

        async def take(cur: Cursor) -> WriterInfo | None:
            # takers of one key queue here, so two starting at once cannot both win
            await cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.relayer,))
            await cur.execute(
                "SELECT holder, host, pid, since, heartbeat FROM writer_leases WHERE relayer = %s",
                (self.relayer,),
            )
            row = await cur.fetchone()
            now = self._clock()
            if row is not None and row[0] != me.holder:
                other = WriterInfo(str(row[0]), str(row[1]), int(row[2]), float(row[3]))
                if float(row[4]) > now - self.lease_seconds and not other.gone():
                    return other
            await cur.execute(
                "INSERT INTO writer_leases (relayer, holder, host, pid, since, heartbeat) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (relayer) DO UPDATE SET "
                "holder = excluded.holder, host = excluded.host, pid = excluded.pid, "
                "since = excluded.since, heartbeat = excluded.heartbeat",
                (self.relayer, me.holder, me.host, me.pid, me.since, now),
            )
            return None

        return await self.db.run(take)

    async def _renew(self) -> bool:
        async def renew(cur: Cursor) -> bool:
            await cur.execute(
                "UPDATE writer_leases SET heartbeat = %s WHERE relayer = %s AND holder = %s",
                (self._clock(), self.relayer, self.info.holder),
            )
            return cur.rowcount == 1

        return await self.db.run(renew)

    async def release(self) -> None:
        async def drop(cur: Cursor) -> None:
            await cur.execute(
                "DELETE FROM writer_leases WHERE relayer = %s AND holder = %s",
                (self.relayer, self.info.holder),
            )

        await self.db.run(drop)
