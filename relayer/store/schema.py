"""The store's tables, one schema for both databases (``render`` adapts the types).

A version row in ``meta`` says which schema a database holds. Opening a store brings
an older one up to date: every statement is ``IF NOT EXISTS``, so running the schema
again adds the new tables and keeps the rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from relayer.errors import StoreError

SCHEMA_VERSION = 5  # 2: htlc_locks (the DvP watcher); 3: writer_leases (one writer);
# 4: messages_delivered (the console's lane history, relayer/store/reads.py); 5: messages
# without a primary key on id, which messages_id finds by its first 8 bytes (an older
# store is brought there by the stores' _migrate: sqlite.py, postgres.py)

# A message id is a keccak hash: in random order, so a backfill's every insert landed on a
# random page of a 32-byte-key index (44 MB at a million rows), and that index cost two
# thirds of the store's time a row. Its first 8 bytes find a row as surely (the lookup
# compares the whole id too), in an index of 18 MB. (origin, nonce) is unique, and the id
# is a hash of the message, which holds both: an id is unique as before.
ID_KEY_BYTES = 8
ID_KEY = f"substr(id, 1, {ID_KEY_BYTES})"  # what messages_id holds; a lookup names it (sql.py)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id BLOB NOT NULL,
    origin INTEGER NOT NULL,
    nonce INTEGER NOT NULL,
    destination INTEGER NOT NULL,
    sender BLOB NOT NULL,
    recipient BLOB NOT NULL,
    raw BLOB NOT NULL,
    kind INTEGER,
    ref BLOB,
    dispatch_tx TEXT NOT NULL,
    dispatch_block INTEGER NOT NULL,
    dispatched_at REAL NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    tx_hash TEXT,
    deliver_tx TEXT,
    delivered_block INTEGER,
    delivered_at REAL,
    indexed_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    lease_owner TEXT,
    lease_until REAL,
    UNIQUE (origin, nonce)
);
CREATE INDEX IF NOT EXISTS messages_id ON messages ({ID_KEY});
CREATE INDEX IF NOT EXISTS messages_lane ON messages (origin, destination, status, nonce);
-- what a lane may claim, in nonce order: only the rows not yet delivered or submitted,
-- so a claim never walks past a lane's delivered history (nor a busy neighbour's)
CREATE INDEX IF NOT EXISTS messages_due ON messages (origin, destination, nonce)
    WHERE status IN ('pending', 'failed');
CREATE INDEX IF NOT EXISTS messages_ref ON messages (ref) WHERE ref IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_dispatched ON messages (dispatched_at);
-- deliveries of a lane by time: the console's throughput and latency charts
CREATE INDEX IF NOT EXISTS messages_delivered ON messages (origin, destination, delivered_at)
    WHERE delivered_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS cursors (
    chain_id INTEGER PRIMARY KEY,
    block INTEGER NOT NULL,
    hash TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS block_hashes (
    chain_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (chain_id, number)
);
CREATE TABLE IF NOT EXISTS txs (
    hash TEXT PRIMARY KEY,
    chain_id INTEGER NOT NULL,
    sender TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    raw BLOB NOT NULL,
    max_fee TEXT NOT NULL,
    priority_fee TEXT NOT NULL,
    gas_limit INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL,
    sent_at REAL NOT NULL,
    mined_block INTEGER,
    replaces TEXT
);
CREATE INDEX IF NOT EXISTS txs_pending ON txs (chain_id, status, sender, nonce);
CREATE TABLE IF NOT EXISTS tx_messages (
    tx_hash TEXT NOT NULL,
    message_id BLOB NOT NULL,
    PRIMARY KEY (tx_hash, message_id)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    origin INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    root BLOB NOT NULL,
    mailbox BLOB NOT NULL,
    PRIMARY KEY (origin, idx, root)
);
CREATE TABLE IF NOT EXISTS checkpoint_signatures (
    origin INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    root BLOB NOT NULL,
    validator TEXT NOT NULL,
    signature BLOB NOT NULL,
    PRIMARY KEY (origin, idx, root, validator)
);
CREATE TABLE IF NOT EXISTS events (
    chain_id INTEGER NOT NULL,
    block INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    tx_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    key BLOB NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX IF NOT EXISTS events_key ON events (name, key);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS htlc_locks (
    chain_id INTEGER NOT NULL,
    lock_id BLOB NOT NULL,
    hashlock BLOB NOT NULL,
    token TEXT NOT NULL,
    sender TEXT NOT NULL,
    receiver TEXT NOT NULL,
    amount TEXT NOT NULL,
    expiry INTEGER NOT NULL,
    locked_tx TEXT NOT NULL,
    locked_block INTEGER NOT NULL,
    locked_at REAL NOT NULL,
    state TEXT NOT NULL,
    preimage BLOB,
    settled_tx TEXT,
    settled_block INTEGER,
    settled_at REAL,
    action TEXT,
    action_tx TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (chain_id, lock_id)
);
CREATE INDEX IF NOT EXISTS htlc_locks_hashlock ON htlc_locks (hashlock);
CREATE INDEX IF NOT EXISTS htlc_locks_state ON htlc_locks (state, expiry);
-- one relayer process per relayer key, PostgreSQL only (SQLite locks a file): store/writer.py
CREATE TABLE IF NOT EXISTS writer_leases (
    relayer TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    since REAL NOT NULL,
    heartbeat REAL NOT NULL
)
"""
SCHEMA_SQLITE = SCHEMA  # the schema is written in SQLite's types

VERSION_SQL = "SELECT value FROM meta WHERE key = 'schema_version'"
SET_VERSION_SQL = (
    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def render(types: Mapping[str, str]) -> list[str]:
    """The schema's statements with a database's column types (``BLOB`` -> ``BYTEA``)."""
    text = SCHEMA
    if types:
        pattern = r"\b(" + "|".join(map(re.escape, types)) + r")\b"
        text = re.sub(pattern, lambda m: types[m.group(1)], text)
    return [statement.strip() for statement in text.split(";") if statement.strip()]


def messages_table(types: Mapping[str, str], name: str) -> str:
    """The messages table's CREATE statement, for a table of that shape called ``name``."""
    statement = next(s for s in render(types) if s.startswith(_MESSAGES))
    return statement.replace(_MESSAGES, f"CREATE TABLE {name} (", 1)


_MESSAGES = "CREATE TABLE IF NOT EXISTS messages ("
ID_UNKEYED = 5  # the first schema whose messages have no primary key on id


def outdated(version: int | None, where: str) -> bool:
    """Whether a store at schema ``version`` (None: new) needs the schema run; StoreError
    for a store a newer stbridge wrote."""
    if version is not None and version > SCHEMA_VERSION:
        raise StoreError(
            f"the store {where} was written by a newer stbridge "
            f"(schema {version}, this one knows {SCHEMA_VERSION}): upgrade stbridge"
        )
    return version != SCHEMA_VERSION
