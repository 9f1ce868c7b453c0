"""One writer: a second relayer on the same store, or with the same key, refuses to start.

Two relayers signing with one key fight over its nonces (dropped and replaced
transactions, messages carried by more than one signed transaction, gas wasted),
and two on one SQLite file fight over the same rows. So the daemon takes a writer
guard before it does anything else, and holds it for its lifetime:

- **SQLite**: an exclusive ``flock`` on ``<database>.lock`` beside the database. The
  kernel releases it when the process ends, however it ends (``kill -9`` included),
  so a stale lock never blocks the next start. The file names the holder (pid, host,
  since) for the refusal.
- **PostgreSQL**: a lease row per relayer key (``writer_leases``: holder, host, pid,
  since, heartbeat), renewed every quarter lease. A fresh lease of another process
  refuses the start; an expired one is taken over, and so is one whose holder ran on
  this host and is gone (a ``kill -9`` then costs no wait). Relayers with different
  keys share a store as before.

Only the daemon takes it: the CLI's reads and ``messages retry`` work beside a
running relayer.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import socket
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from relayer.errors import StoreError


class WriterBusy(StoreError):
    """Another relayer process writes through this store or signs with this key."""


class WriterLost(StoreError):
    """Another relayer took over this one's writer lease (it stalled past the lease)."""


@dataclass(frozen=True)
class WriterInfo:
    """Who holds a writer guard."""

    holder: str
    host: str
    pid: int
    since: float

    @classmethod
    def mine(cls) -> WriterInfo:
        host, pid = socket.gethostname(), os.getpid()
        return cls(f"{host}:{pid}:{uuid.uuid4().hex[:8]}", host, pid, time.time())

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.since, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"pid {self.pid} on {self.host}, since {since}"

    def gone(self) -> bool:
        """Its process ran on this host and has ended (so its lease can be taken at once)."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


class WriterGuard(ABC):
    """Held by a running relayer; ``release`` is safe to call twice."""

    info: WriterInfo

    @abstractmethod
    async def hold(self) -> None:
        """Keep the guard until cancelled (renewing it where it expires); raises WriterLost."""

    @abstractmethod
    async def release(self) -> None: ...


class FileWriterLock(WriterGuard):
    """An exclusive flock on a file beside an SQLite database."""

    def __init__(self, path: Path, fd: int, info: WriterInfo) -> None:
        self.path = path
        self.info = info
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, database: Path) -> FileWriterLock:
        """Lock ``<database>.lock``; WriterBusy naming the holder when another process has it."""
        path = database.with_name(database.name + ".lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot open the store's lock file {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise WriterBusy(
                f"the store {database} is in use by another relayer "
                f"({holder.describe() if holder else 'holder unknown'}; lock file {path}): "
                "stop that relayer, or give this one its own relayer.store"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"cannot lock {path}: {exc.strerror}") from None
        info = WriterInfo.mine()
        data = json.dumps(asdict(info)).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        return cls(path, fd, info)

    async def hold(self) -> None:
        """Nothing to renew: the kernel keeps the lock while the process lives."""

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)  # the file stays: removing it would let two processes lock two inodes


def _read_holder(fd: int) -> WriterInfo | None:
    try:
        raw = json.loads(os.pread(fd, 4096, 0) or b"null")
        return WriterInfo(str(raw["holder"]), str(raw["host"]), int(raw["pid"]), raw["since"])
    except (OSError, ValueError, TypeError, KeyError):
        return None  # the holder is between locking and writing its name


class LeaseWriterGuard(WriterGuard):
    """A renewed lease (PostgreSQL); subclasses say how a lease is taken, renewed, dropped."""

    def __init__(self, relayer: str, lease_seconds: float) -> None:
        self.relayer = relayer.lower()
        self.lease_seconds = lease_seconds
        self.info = WriterInfo.mine()
        self._renewed = time.monotonic()

    @abstractmethod
    async def _take(self) -> WriterInfo | None:
        """Take or renew the lease; the other holder when a fresh one is held by another."""

    @abstractmethod
    async def _renew(self) -> bool:
        """Push the heartbeat; False when the row is no longer ours."""

    async def take(self) -> None:
        other = await self._take()
        if other is not None:
            raise WriterBusy(
                f"relayer key {self.relayer} is in use by another relayer ({other.describe()}) "
                f"on this store: stop it, or wait {self.lease_seconds:g} s after it died, or "
                "give this relayer its own accounts.relayer key"
            )
        self._renewed = time.monotonic()

    async def hold(self) -> None:
        from relayer.telemetry.logging import get_logger

        log = get_logger("writer", relayer=self.relayer)
        while True:
            await asyncio.sleep(self.lease_seconds / 4)
            try:
                ours = await self._renew()
            except StoreError as exc:  # the store is away: keep trying while the lease lasts
                if time.monotonic() - self._renewed > self.lease_seconds:
                    raise
                log.warning("could not renew the writer lease; retrying", error=str(exc))
                continue
            if not ours:
                raise WriterLost(
                    f"another relayer took over relayer key {self.relayer}'s writer lease "
                    f"(this one did not renew it for {self.lease_seconds:g} s): stopping"
                )
            self._renewed = time.monotonic()
