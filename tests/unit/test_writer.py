"""One writer per SQLite store: a second relayer is refused, naming the first; a lock
left by a killed process does not block the next start (store/writer.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from relayer.store.sqlite import SqliteStore
from relayer.store.writer import WriterBusy

RELAYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
HOLD = (
    "import asyncio, sys, time\n"
    "from relayer.store import open_store\n"
    "async def take():\n"
    "    store = await open_store(sys.argv[1])\n"
    "    return store, await store.take_writer(sys.argv[2], lease_seconds=float(sys.argv[3]))\n"
    "held = asyncio.run(take())\n"
    "print('held', flush=True)\n"
    "time.sleep(600)\n"
)


@contextmanager
def holder(url: str, relayer: str = RELAYER, lease: float = 60) -> Iterator[subprocess.Popen[str]]:
    """Another process that takes the writer guard and keeps it until killed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, url, relayer, str(lease)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until it holds the guard, or exits
        assert line.strip() == "held", proc.stderr.read() if proc.stderr else ""
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


async def test_second_writer_on_one_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "relayer.db"
    first, second = SqliteStore(path), SqliteStore(path)
    try:
        guard = await first.take_writer(RELAYER, lease_seconds=60)
        with pytest.raises(WriterBusy) as refused:
            await second.take_writer(RELAYER, lease_seconds=60)
        text = str(refused.value)
        assert f"pid {os.getpid()} on {socket.gethostname()}" in text
        assert str(path) in text and "\n" not in text
        # readers and CLI writes keep working beside the writer
        assert await second.messages() == []
        await second.set_state("probe", "1")
        await guard.release()
        await guard.release()  # twice is fine
        again = await second.take_writer(RELAYER, lease_seconds=60)
        await again.release()
    finally:
        await first.close()
        await second.close()


async def test_lock_of_a_killed_process_does_not_block(tmp_path: Path) -> None:
    path = tmp_path / "relayer.db"
    store = SqliteStore(path)
    try:
        with holder(f"sqlite:///{path}") as proc:
            with pytest.raises(WriterBusy, match=f"pid {proc.pid} on "):
                await store.take_writer(RELAYER, lease_seconds=60)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        guard = await store.take_writer(RELAYER, lease_seconds=60)
        await guard.release()
    finally:
        await store.close()
