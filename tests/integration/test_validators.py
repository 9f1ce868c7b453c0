"""Validators run apart: the relayer collects their checkpoints over HTTP and checks them."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from chains.processes import free_port
from relayer.config import PrivateKey, parse_config
from relayer.daemon.standalone_validator import ValidatorService
from relayer.store import StoredCheckpoint
from relayer.store.sqlite import SqliteStore
from tests.integration.system import Chains, System, running_relayer, send_many, wait_delivered

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def validator(system: System, key: PrivateKey, tmp_path: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    store = SqliteStore(tmp_path / f"validator-{key.address}.db")
    service = ValidatorService(
        system.config, system.deployment, store, key, host="127.0.0.1", port=port
    )
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.ready.wait(), 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()


async def test_remote_validators_reach_the_threshold(system: System, tmp_path: Path) -> None:
    accounts = system.config.accounts
    impostor = PrivateKey.from_hex("0x" + "42" * 32, source="inline")  # not a validator
    async with (
        validator(system, accounts.validators[0], tmp_path) as v0,
        validator(system, accounts.validators[2], tmp_path) as v2,
        validator(system, impostor, tmp_path) as fake,
    ):
        raw = {
            **system.raw,
            "validators": {"threshold": 2, "mode": "remote", "urls": [v0, v2, fake]},
        }
        remote = System(system.backend, parse_config(raw), raw, system.home, system.deployment)
        chains = Chains(system)
        try:
            async with running_relayer(remote, tmp_path / "r.db") as relay:
                ids = await send_many(
                    chains, "a", "b", [(accounts.investors[0], accounts.investors[2].address, 77)]
                )
                await wait_delivered(relay.store, ids, 90)
                best = await relay.store.best_checkpoint(
                    system.config.chain("a").chain_id, [k.address for k in accounts.validators], 2
                )
                assert isinstance(best, StoredCheckpoint)
                assert set(best.signatures) <= {
                    accounts.validators[0].address,
                    accounts.validators[2].address,
                }
                origin = system.config.chain("a").chain_id
                assert await relay.store.latest_signed_index(origin, impostor.address) is None
        finally:
            await chains.close()
