"""The session's chains keep the wall clock after a test undoes its changes.

Later tests on the same chains compare times across them (delivery latency is the
destination block's time minus the origin block's, DvP expiries are set from one chain
and checked on the other, a cap table cuts every chain at the earliest head)."""

from __future__ import annotations

import asyncio
import time

import pytest

from relayer.chain.rpc import ChainRpc
from tests.integration.system import System, revert

pytestmark = pytest.mark.integration

HELD = 4  # seconds the snapshot is held: the clock must not lose them


async def test_a_revert_leaves_the_chain_on_the_wall_clock(system: System) -> None:
    rpc = ChainRpc(system.config.chain("a"))
    try:
        snapshot = await rpc.request("evm_snapshot")
        await rpc.request("evm_mine")
        await asyncio.sleep(HELD)  # the time a test holds its snapshot
        assert await revert(rpc, snapshot)
        await rpc.request("evm_mine")
        head = await rpc.block("latest")
        assert head.timestamp >= int(time.time()) - 1, (head.timestamp, time.time())
    finally:
        await rpc.close()
