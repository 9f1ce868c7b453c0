"""The PostgreSQL store's chain state: cursors, checkpoints, events, small key-values.

As SqliteStore's, with one thing to add for relayers sharing the store: a chain's
cursor only moves forward, and the block hashes of a write that did not move it are
not recorded either, so the hash history stays the one of the indexer ahead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from relayer.store.models import ChainEvent, StoredCheckpoint
from relayer.store.pg_connection import Cursor, PgQueries


class PgChainState(PgQueries):
    """The Store methods on cursors, block hashes, checkpoints, events and ``kv``."""

    # --- cursors ---------------------------------------------------------------------

    async def cursor(self, chain_id: int) -> tuple[int, str] | None:
        rows = await self._fetch("SELECT block, hash FROM cursors WHERE chain_id = %s", (chain_id,))
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    async def set_cursor(
        self, chain_id: int, block: int, block_hash: str, recent: Sequence[tuple[int, str]]
    ) -> None:
        now = self._clock()

        async def move(cur: Cursor) -> None:
            await cur.execute(
                "INSERT INTO cursors (chain_id, block, hash, updated_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (chain_id) DO UPDATE SET block = excluded.block, "
                "hash = excluded.hash, updated_at = excluded.updated_at "
                "WHERE excluded.block > cursors.block RETURNING block",
                (chain_id, block, block_hash, now),
            )
            if await cur.fetchone() is None:  # another indexer is ahead: its state stands
                return
            if recent:
                await cur.executemany(
                    "INSERT INTO block_hashes (chain_id, number, hash) VALUES (%s, %s, %s) "
                    "ON CONFLICT (chain_id, number) DO UPDATE SET hash = excluded.hash",
                    [(chain_id, n, h) for n, h in sorted(recent)],
                )
            await cur.execute(
                "DELETE FROM block_hashes WHERE chain_id = %s AND number < %s",
                (chain_id, block - 256),
            )

        await self.db.run(move)

    async def recent_hashes(self, chain_id: int) -> dict[int, str]:
        rows = await self._fetch(
            "SELECT number, hash FROM block_hashes WHERE chain_id = %s", (chain_id,)
        )
        return {int(n): str(h) for n, h in rows}

    async def rewind_cursor(self, chain_id: int, block: int, block_hash: str) -> None:
        now = self._clock()

        async def rewind(cur: Cursor) -> None:
            await cur.execute(
                "UPDATE cursors SET block = %s, hash = %s, updated_at = %s WHERE chain_id = %s",
                (block, block_hash, now, chain_id),
            )
            await cur.execute(
                "DELETE FROM block_hashes WHERE chain_id = %s AND number > %s", (chain_id, block)
            )

        await self.db.run(rewind)

    # --- checkpoints ---------------------------------------------------------------------

    async def add_signature(
        self, origin: int, index: int, root: bytes, mailbox: bytes, validator: str, signature: bytes
    ) -> None:
        async def add(cur: Cursor) -> None:
            await cur.execute(
                "INSERT INTO checkpoints (origin, idx, root, mailbox) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                (origin, index, root, mailbox),
            )
            await cur.execute(
                "INSERT INTO checkpoint_signatures (origin, idx, root, validator, signature) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (origin, idx, root, validator) "
                "DO UPDATE SET signature = excluded.signature",
                (origin, index, root, validator, signature),
            )

        await self.db.run(add)

    async def best_checkpoint(
        self,
        origin: int,
        validators: Sequence[str],
        threshold: int,
        *,
        max_index: int | None = None,
    ) -> StoredCheckpoint | None:
        if not validators:
            return None
        names = list(validators)
        rows = await self._fetch(
            "SELECT c.idx, c.root, c.mailbox FROM checkpoints c "
            "JOIN checkpoint_signatures s ON s.origin = c.origin AND s.idx = c.idx "
            "AND s.root = c.root WHERE c.origin = %s AND s.validator = ANY(%s) AND c.idx <= %s "
            "GROUP BY c.origin, c.idx, c.root HAVING count(*) >= %s "
            "ORDER BY c.idx DESC LIMIT 1",
            (origin, names, 2**32 if max_index is None else max_index, threshold),
        )
        if not rows:
            return None
        index, root, mailbox = rows[0]
        signatures = await self._fetch(
            "SELECT validator, signature FROM checkpoint_signatures "
            "WHERE origin = %s AND idx = %s AND root = %s AND validator = ANY(%s)",
            (origin, index, root, names),
        )
        return StoredCheckpoint(
            origin, int(index), bytes(root), bytes(mailbox), {v: bytes(s) for v, s in signatures}
        )

    async def latest_signed_index(self, origin: int, validator: str) -> int | None:
        rows = await self._fetch(
            "SELECT max(idx) FROM checkpoint_signatures WHERE origin = %s AND validator = %s",
            (origin, validator),
        )
        return None if rows[0][0] is None else int(rows[0][0])

    # --- events and state ------------------------------------------------------------------

    async def add_events(self, events: Sequence[ChainEvent]) -> None:
        if not events:
            return
        ordered = sorted(events, key=lambda e: (e.chain_id, e.tx_hash, e.log_index))

        async def add(cur: Cursor) -> None:
            await cur.executemany(
                "INSERT INTO events (chain_id, block, log_index, tx_hash, name, key, data) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [
                    (e.chain_id, e.block, e.log_index, e.tx_hash, e.name, e.key, json.dumps(e.data))
                    for e in ordered
                ],
            )

        await self.db.run(add)

    async def events(
        self, *, name: str | None = None, key: bytes | None = None
    ) -> list[ChainEvent]:
        where: list[str] = []
        params: list[Any] = []
        if name is not None:
            where.append("name = %s")
            params.append(name)
        if key is not None:
            where.append("key = %s")
            params.append(key)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self._fetch(
            "SELECT chain_id, block, log_index, tx_hash, name, key, data FROM events "
            f"{clause} ORDER BY block, log_index",
            params,
        )
        return [
            ChainEvent(int(c), int(b), int(li), str(t), str(n), bytes(k), json.loads(d))
            for c, b, li, t, n, k, d in rows
        ]

    async def get_state(self, key: str) -> str | None:
        rows = await self._fetch("SELECT value FROM kv WHERE key = %s", (key,))
        return str(rows[0][0]) if rows else None

    async def set_state(self, key: str, value: str) -> None:
        await self._execute(
            "INSERT INTO kv (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
