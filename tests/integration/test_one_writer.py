"""One writer: a second `stbridge run` on the same SQLite store, or with the same key on a
PostgreSQL store, refuses to start naming the first; another key on PostgreSQL runs;
a killed relayer's lock or lease does not block the next start (store/writer.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relayer.store.postgres import PostgresStore
from relayer.store.writer import WriterBusy, WriterLost
from tests.integration.system import System, relayer_process
from tests.pg import PostgresServer
from tests.unit.test_writer import RELAYER, holder

OTHER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


async def _until_logged(
    proc: subprocess.Popen[bytes], log: Path, text: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"relayer exited: {log.read_text()[-2000:]}"
        if log.exists() and text in log.read_text():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{text!r} not logged in {timeout}s: {log.read_text()[-2000:]}")


@pytest.mark.integration
@pytest.mark.anvil
@pytest.mark.parametrize("system", ["anvil"], indirect=True)
async def test_second_stbridge_run_on_one_store_is_refused(system: System, tmp_path: Path) -> None:
    store = tmp_path / "relayer.db"
    config_file = system.config_file(tmp_path / "relayer.toml", store)
    first_log, again_log = tmp_path / "first.log", tmp_path / "again.log"
    with relayer_process(system, config_file, first_log) as first:
        await _until_logged(first, first_log, "relayer running", 60)
        second = subprocess.run(  # noqa: ASYNC221 - the test waits for it on purpose
            [sys.executable, "-m", "relayer", "run", "-c", str(config_file)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "STBRIDGE_HOME": str(system.home)},
            check=False,
        )
        assert second.returncode == 1, second.stderr
        line = " ".join(second.stderr.split())  # rich may wrap the line on a narrow terminal
        assert f"is in use by another relayer (pid {first.pid} on " in line, second.stderr
        assert first.poll() is None  # the first one runs on
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    with relayer_process(system, config_file, again_log) as again:  # kill -9 left no lock
        await _until_logged(again, again_log, "relayer running", 60)


@pytest.mark.integration
async def test_postgres_lease_per_relayer_key(postgres: PostgresServer) -> None:
    url = postgres.database("writer")
    first = await PostgresStore.connect(url)
    second = await PostgresStore.connect(url)
    later = await PostgresStore.connect(url, clock=lambda: time.time() + 120)
    try:
        guard = await first.take_writer(RELAYER, lease_seconds=0.4)
        with pytest.raises(WriterBusy, match=f"in use by another relayer \\(pid {os.getpid()} on"):
            await second.take_writer(RELAYER, lease_seconds=60)
        other_key = await second.take_writer(OTHER, lease_seconds=60)  # another key runs
        # a lease not renewed for a lease period is taken over; the stalled holder stops
        taken = await later.take_writer(RELAYER, lease_seconds=60)
        with pytest.raises(WriterLost, match="took over"):
            await asyncio.wait_for(guard.hold(), 10)
        await taken.release()
        await other_key.release()
        # released on a clean exit: the next one takes it at once
        again = await second.take_writer(RELAYER, lease_seconds=60)
        await again.release()
    finally:
        for store in (first, second, later):
            await store.close()


@pytest.mark.integration
async def test_postgres_lease_of_a_killed_relayer_is_taken_at_once(
    postgres: PostgresServer,
) -> None:
    url = postgres.database("writer_killed")
    store = await PostgresStore.connect(url)
    try:
        with holder(url, lease=60) as proc:
            with pytest.raises(WriterBusy, match=f"pid {proc.pid} on "):
                await store.take_writer(RELAYER, lease_seconds=60)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        guard = await store.take_writer(RELAYER, lease_seconds=60)  # well within the lease
        await guard.release()
    finally:
        await store.close()
