"""Durable relayer state: SQLite by default, PostgreSQL when several relayers share work."""

from __future__ import annotations

from pathlib import Path

from relayer.errors import StoreError
from relayer.store.base import Store
from relayer.store.models import (
    ChainEvent,
    HtlcLock,
    LockSettlement,
    LockState,
    MessageRow,
    NewMessage,
    Status,
    StoredCheckpoint,
    TxRow,
    TxStatus,
)

__all__ = [
    "ChainEvent",
    "HtlcLock",
    "LockSettlement",
    "LockState",
    "MessageRow",
    "NewMessage",
    "Status",
    "Store",
    "StoredCheckpoint",
    "TxRow",
    "TxStatus",
    "open_store",
    "relayer_owner",
]


def relayer_owner(relayer_address: str) -> str:
    """The lease owner of a relayer: its key, so a restarted relayer finds its own leases.

    Two relayers never share a key (their nonces would collide), so the key names the
    relayer; a dead relayer's leases pass to another one when they expire.
    """
    return f"relayer:{relayer_address}"


async def open_store(url: str, *, owner: str | None = None) -> Store:
    """Open the store a config names: ``sqlite:///PATH`` or ``postgresql://...``."""
    if url.startswith("sqlite:///"):
        from relayer.store.sqlite import SqliteStore

        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_absolute():
            from relayer.paths import state_dir

            default_prefix = Path(".stbridge")
            if path.parts and path.parts[0] == default_prefix.name:
                path = state_dir() / Path(*path.parts[1:])
        return SqliteStore(path, owner=owner)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from relayer.store.postgres import PostgresStore
        except ImportError as exc:  # the optional dependency is missing
            raise StoreError("PostgreSQL needs psycopg: pip install 'stbridge[postgres]'") from exc
        return await PostgresStore.connect(url, owner=owner)
    raise StoreError(f"unknown store URL {url!r}: use sqlite:///PATH or postgresql://...")
