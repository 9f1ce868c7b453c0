"""Fresh investors for the compliance tests, on the session's shared system.

The devnet's own investors belong to every test, so these tests never revoke or freeze
them: they make their own wallets (keys derived from a name, so a seed reproduces
them), fund them with gas money, onboard them through the issuer's own actions, and
give them tokens.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relayer.chain import contracts
from relayer.cli import common, main
from relayer.config import PrivateKey
from relayer.core.bodies import IdentityRecord
from relayer.core.hashing import keccak256
from relayer.deployment.session import Session
from relayer.issuer import token_admin
from relayer.issuer.investors import add_investor, read_record
from tests.integration.system import System

ETHER = 10**18
UNIT = 10**18  # ACME has 18 decimals
YEAR = 365 * 86400


def make_key(name: str) -> PrivateKey:
    """A key derived from ``name`` (test keys only)."""
    return PrivateKey.from_hex(keccak256(f"stbridge-test:{name}".encode()).hex(), "test")


class World:
    """A session on the system plus helpers to make and inspect investors."""

    def __init__(self, system: System, session: Session) -> None:
        self.system = system
        self.session = session
        self.config = system.config
        self.agent = system.config.accounts.issuer_agent
        self.token = system.deployment.tokens[0]

    def address(self, chain: str, contract: str) -> str:
        return self.session.address(chain, contract)

    async def fund(self, keys: Sequence[PrivateKey], ether: int = 1) -> None:
        """Gas money on every chain."""
        for chain in (c.name for c in self.config.chains):
            wallet = self.session.wallet(chain, self.config.accounts.deployer)
            sent = [
                await wallet.send(k.address, b"", what="fund", value=ether * ETHER) for k in keys
            ]
            await wallet.wait(sent)

    async def onboard(
        self, keys: Sequence[PrivateKey], *, holding: int = 0, country: int = 276
    ) -> None:
        """Records on the home registry and ``holding`` base units minted to each."""
        now = int(time.time())
        for key in keys:
            await add_investor(
                self.session, self.agent, key.address,
                investor_id=keccak256(key.address.encode()), country=country,
                expires_at=now + YEAR,
            )  # fmt: skip
            if holding:
                await token_admin.mint(self.session, self.agent, "ACME", key.address, holding)

    async def balance(self, chain: str, who: str, block: int | str = "latest") -> int:
        fn = contracts.load("SecurityToken").fn("balanceOf")
        raw = await self.session.rpc(chain).call(self.token.addresses[chain], fn.encode(who), block)
        return int(fn.decode(raw)[0])

    async def record(self, chain: str, who: str) -> IdentityRecord:
        home = chain == self.config.home
        registry = self.address(chain, "IdentityRegistry" if home else "MirrorIdentityRegistry")
        return await read_record(self.session, chain, registry, who)

    async def wait_mirror(self, who: str, version: int, timeout: float = 120) -> IdentityRecord:
        """Until chain b's mirror holds ``who``'s record at ``version`` or newer."""
        deadline = time.monotonic() + timeout
        while True:
            record = await self.record("b", who)
            if record.version >= version:
                return record
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"mirror on b still at version {record.version} of {who}, wanted {version}"
                )
            await asyncio.sleep(0.1)

    async def call(self, chain: str, contract: str, fn: str, *args: Any) -> Any:
        target = self.token.addresses[chain] if contract == "SecurityToken" else None
        return await self.session.call(
            chain, target or self.address(chain, contract), contract, fn, *args
        )

    async def blocks(self, chain: str, count: int) -> None:
        """Wait until ``count`` more blocks are mined on ``chain``."""
        rpc = self.session.rpc(chain)
        target = await rpc.block_number() + count

        async def mined() -> bool:
            return await rpc.block_number() >= target

        await until(mined, 120, f"{count} blocks on {chain}")

    async def time_passes(self, chain: str, timestamp: int) -> None:
        """Wait until ``chain``'s latest block is at ``timestamp`` or later."""

        async def reached() -> bool:
            return (await self.session.rpc(chain).block("latest")).timestamp >= timestamp

        await until(reached, 120, f"chain {chain} reaching time {timestamp}")


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Poll ``check`` every 50 ms until it answers True (AssertionError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g}s for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        """The data of the command's ``--json`` envelope (relayer/cli/output.py)."""
        doc = json.loads(self.out)
        assert doc["ok"] == (self.code == 0), doc
        assert doc["command"], doc
        return doc["data"]


class Cli:
    """Runs ``stbridge`` commands in a worker thread and collects what they print.

    The commands print through the CLI's two rich consoles; those are pointed at
    buffers while a command runs, so the relayer's log lines (printed by a relayer
    running in the test's loop) never mix into a command's output.
    """

    def __init__(self, system: System, config: Path) -> None:
        self.system = system
        self.config = config

    async def __call__(self, *argv: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        # rich's `file` reads sys.stdout when none was set: restore what was *set* (None),
        # not the stream it read, or later tests print into this test's capture
        saved = common.console._file, common.err_console._file
        common.console.file, common.err_console.file = out, err
        try:
            code = await asyncio.to_thread(main, [*argv, "-c", str(self.config)])
        finally:
            common.console._file, common.err_console._file = saved
        return Result(code, out.getvalue(), err.getvalue())

    async def ok(self, *argv: str) -> Result:
        result = await self(*argv)
        assert result.code == 0, (argv, result.err, result.out)
        return result


def one_line_error(result: Result, code: int, says: str, system: System) -> None:
    """The command failed with ``code`` and one line naming ``says``; no key shown."""
    lines = result.err.strip().splitlines()
    assert result.code == code, (result.code, result.err, result.out)
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: "), lines[0]
    assert says in lines[0], lines[0]
    for _role, key in system.config.accounts.roles():
        assert key.secret().hex() not in result.err + result.out
