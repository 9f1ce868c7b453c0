"""A real PostgreSQL server for the tests: initdb into a temp dir, pg_ctl start, stop.

The server listens on 127.0.0.1 on a free port (and on a unix socket inside its own
directory), with password (SCRAM) authentication over TCP, so store URLs carry a
password the way an operator's do. initdb and the server refuse to run as root: when
the tests run as root (CI does), both run as ``nobody`` through ``setpriv``, in a
directory handed over to that user. Without PostgreSQL the tests that need it skip,
saying how to install it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from chains.processes import free_port
from relayer.store import Store
from relayer.store.postgres import PostgresStore
from relayer.store.sqlite import SqliteStore

USER = "stbridge"
INSTALL_HINT = "apt-get install postgresql (.ci/run does it)"


def find_bindir() -> Path | None:
    """The directory of initdb and pg_ctl: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


@dataclass
class PostgresServer:
    """A running server; ``database()`` makes a fresh database and gives its URL."""

    bindir: Path
    directory: Path
    port: int
    password: str
    run_as: list[str]
    _count: int = 0

    def url(self, database: str, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql://{USER}:{secret}@127.0.0.1:{self.port}/{database}"

    def database(self, prefix: str = "t") -> str:
        """CREATE DATABASE a new one; returns its URL."""
        self._count += 1
        name = f"{prefix}_{os.getpid()}_{self._count}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def pg_ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.directory / "data"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.directory,
            check=False,
        )

    def stop(self) -> None:
        """Stop the server (fast, then by its pid) and remove its directory."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.pg_ctl("stop", "-m", "fast", "-w", "-t", "30")
        pidfile = self.directory / "data" / "postmaster.pid"
        if pidfile.exists():
            with contextlib.suppress(ValueError, ProcessLookupError, OSError):
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.directory, ignore_errors=True)


def _run_as() -> tuple[list[str], int | None, int | None]:
    """The command prefix that drops root (and to whom), or nothing when not root."""
    if os.geteuid() != 0:
        return [], None, None
    nobody = pwd.getpwnam("nobody")
    prefix = [
        "setpriv",
        f"--reuid={nobody.pw_uid}",
        f"--regid={nobody.pw_gid}",
        "--clear-groups",
        "--",
    ]
    return prefix, nobody.pw_uid, nobody.pw_gid


def start_server() -> PostgresServer:
    """initdb and start a server; RuntimeError with the server's own words if it fails."""
    bindir = find_bindir()
    if bindir is None:
        raise FileNotFoundError(f"PostgreSQL is not installed (no initdb): {INSTALL_HINT}")
    run_as, uid, gid = _run_as()
    # as root, in /tmp: a TMPDIR under /root would be out of the server user's reach
    directory = Path(tempfile.mkdtemp(prefix="stbridge-pg-", dir="/tmp" if run_as else None))
    password = secrets.token_hex(12)
    pwfile = directory / "pw"
    pwfile.write_text(password + "\n")
    if uid is not None and gid is not None:
        os.chown(directory, uid, gid)
        os.chown(pwfile, uid, gid)
    pwfile.chmod(0o600)
    server = PostgresServer(bindir, directory, free_port(), password, run_as)
    try:
        init = subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(directory / "data"), "-U", USER,
             f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            capture_output=True, text=True, timeout=120, cwd=directory, check=False,
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr.strip()[-500:]}")
        options = (
            f"-p {server.port} -k {directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=60"
        )
        start = server.pg_ctl("start", "-w", "-t", "60", "-l", str(directory / "server.log"),
                              "-o", options)  # fmt: skip
        if start.returncode != 0:
            log = (directory / "server.log").read_text(errors="replace")[-800:]
            raise RuntimeError(f"pg_ctl start failed: {start.stderr.strip()} {log}")
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A server for the block; stopped and removed afterwards, whatever happened."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class StoreBackend:
    """Opens stores of one kind on one place: an SQLite file or a PostgreSQL database.

    Every store opened here shares that place, as relayers sharing a store do.
    """

    kind: str  # "sqlite" or "postgresql"
    location: str  # a file path or a postgresql:// URL

    async def open(self, owner: str | None = None) -> Store:
        if self.kind == "sqlite":
            return SqliteStore(self.location, owner=owner)
        return await PostgresStore.connect(self.location, owner=owner)
