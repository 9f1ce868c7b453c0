"""The PostgreSQL store's hash-time locks (the DvP watcher's table), as SqliteStore's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from relayer.store.models import HtlcLock, LockSettlement, LockState
from relayer.store.pg_connection import Cursor, PgQueries

_LOCK_COLUMNS = ", ".join(f.name for f in fields(HtlcLock))


def _lock(row: Sequence[Any]) -> HtlcLock:
    values = list(row)
    values[1], values[2] = bytes(values[1]), bytes(values[2])
    values[6] = int(values[6])
    values[11] = LockState(values[11])
    values[12] = None if values[12] is None else bytes(values[12])
    return HtlcLock(*values)


class PgLockMethods(PgQueries):
    """The Store methods on ``htlc_locks``, for PostgresStore."""

    async def _lock_rows(self, sql: str, params: Sequence[Any]) -> list[HtlcLock]:
        return [_lock(r) for r in await self._fetch(sql, params)]

    async def add_locks(self, locks: Sequence[HtlcLock]) -> int:
        if not locks:
            return 0
        ordered = sorted(locks, key=lambda k: (k.chain_id, k.lock_id))

        async def insert(cur: Cursor) -> int:
            added = 0
            for k in ordered:
                await cur.execute(
                    "INSERT INTO htlc_locks (chain_id, lock_id, hashlock, token, sender, "
                    "receiver, amount, expiry, locked_tx, locked_block, locked_at, state) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    (
                        k.chain_id, k.lock_id, k.hashlock, k.token, k.sender, k.receiver,
                        str(k.amount), k.expiry, k.locked_tx, k.locked_block, k.locked_at,
                        str(k.state),
                    ),
                )  # fmt: skip
                added += max(cur.rowcount, 0)
            return added

        return await self.db.run(insert)

    async def settle_locks(self, settlements: Sequence[LockSettlement]) -> list[HtlcLock]:
        if not settlements:
            return []
        ordered = sorted(settlements, key=lambda s: (s.chain_id, s.lock_id))

        async def settle(cur: Cursor) -> list[HtlcLock]:
            changed: list[HtlcLock] = []
            for s in ordered:
                await cur.execute(
                    "UPDATE htlc_locks SET state = %s, preimage = %s, settled_tx = %s, "
                    "settled_block = %s, settled_at = %s "
                    "WHERE chain_id = %s AND lock_id = %s AND state = 'open' "
                    f"RETURNING {_LOCK_COLUMNS}",
                    (str(s.state), s.preimage, s.tx_hash, s.block, s.at, s.chain_id, s.lock_id),
                )
                row = await cur.fetchone()
                if row is not None:
                    changed.append(_lock(row))
            return changed

        return await self.db.run(settle)

    async def htlc_lock(self, chain_id: int, lock_id: bytes) -> HtlcLock | None:
        rows = await self._lock_rows(
            f"SELECT {_LOCK_COLUMNS} FROM htlc_locks WHERE chain_id = %s AND lock_id = %s",
            (chain_id, lock_id),
        )
        return rows[0] if rows else None

    async def htlc_locks(
        self,
        *,
        state: LockState | None = None,
        hashlock: bytes | None = None,
        limit: int = 1000,
    ) -> list[HtlcLock]:
        where: list[str] = []
        params: list[Any] = []
        if state is not None:
            where.append("state = %s")
            params.append(str(state))
        if hashlock is not None:
            where.append("hashlock = %s")
            params.append(hashlock)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return await self._lock_rows(
            f"SELECT {_LOCK_COLUMNS} FROM htlc_locks {clause} "
            "ORDER BY expiry, chain_id, lock_id LIMIT %s",
            (*params, limit),
        )

    async def revealed(self, hashlocks: Sequence[bytes]) -> dict[bytes, bytes]:
        if not hashlocks:
            return {}

        rows = await self._fetch(
            "SELECT hashlock, preimage FROM htlc_locks WHERE state = 'claimed' "
            "AND preimage IS NOT NULL AND hashlock = ANY(%s)",
            (list(dict.fromkeys(hashlocks)),),
        )
        return {bytes(h): bytes(p) for h, p in rows}

    async def reserve_lock_action(
        self, chain_id: int, lock_id: bytes, *, now: float, until: float
    ) -> bool:
        async def reserve(cur: Cursor) -> bool:
            await cur.execute(
                "UPDATE htlc_locks SET next_attempt_at = %s "
                "WHERE chain_id = %s AND lock_id = %s AND next_attempt_at <= %s",
                (until, chain_id, lock_id, now),
            )
            return cur.rowcount == 1

        return await self.db.run(reserve)

    async def note_lock_action(
        self,
        chain_id: int,
        lock_id: bytes,
        action: str,
        *,
        tx_hash: str | None,
        error: str | None,
        next_attempt_at: float,
    ) -> None:
        await self._execute(
            "UPDATE htlc_locks SET action = %s, action_tx = coalesce(%s, action_tx), "
            "attempts = attempts + 1, last_error = %s, next_attempt_at = %s "
            "WHERE chain_id = %s AND lock_id = %s",
            (action, tx_hash, None if error is None else error[:1000], next_attempt_at,
             chain_id, lock_id),
        )  # fmt: skip
