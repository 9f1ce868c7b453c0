"""The fee cap in the sender: fees are clipped to max_fee_per_gas, a fee bump that would
pass it is held back (nothing signed or sent), and a bump with room stays under it."""

from __future__ import annotations

from typing import Any
from unittest.mock import AsyncMock, MagicMock

import pytest

from relayer.chain.sender import FeeAboveCap, Fees, TxSender, gwei
from relayer.config import PrivateKey, parse_config
from relayer.store import TxRow
from tests.helpers import devnet_raw

GWEI = 10**9


def _sender(cap_gwei: float | None, base: int, tip: int = GWEI) -> tuple[TxSender, MagicMock]:
    rpc = MagicMock()
    rpc.name = "b"
    rpc.chain.chain_id = 65002
    rpc.chain.block_time = 1.0
    rpc.chain.max_fee_per_gas_wei = None if cap_gwei is None else round(cap_gwei * GWEI)
    rpc.where.return_value = "chain b"

    async def batch(calls: Any) -> list[Any]:
        return [{"baseFeePerGas": hex(base)}, hex(tip)]

    rpc.batch = batch
    rpc.send_raw = AsyncMock(return_value="0x")
    store = MagicMock()
    store.add_tx = AsyncMock()
    key = PrivateKey.from_hex("0x" + "42" * 32, source="inline")
    return TxSender(rpc, key, store), store


def _row(sender: TxSender, fees: Fees) -> TxRow:
    tx_hash, raw = sender.sign(to="0x" + "11" * 20, data=b"", nonce=3, gas=60_000, fees=fees)
    return TxRow(
        chain_id=65002, sender=sender.address, nonce=3, hash=tx_hash, raw=raw,
        max_fee=fees.max_fee, priority_fee=fees.priority_fee, gas_limit=60_000,
        purpose="processBatch a->b", sent_at=0.0,
    )  # fmt: skip


async def test_fees_are_clipped_to_the_cap() -> None:
    sender, _ = _sender(cap_gwei=30, base=20 * GWEI)
    assert await sender.fees() == Fees(max_fee=30 * GWEI, priority_fee=GWEI)
    uncapped, _ = _sender(cap_gwei=None, base=20 * GWEI)
    assert await uncapped.fees() == Fees(max_fee=41 * GWEI, priority_fee=GWEI)


async def test_a_bump_past_the_cap_is_held_back() -> None:
    sender, store = _sender(cap_gwei=30, base=20 * GWEI)
    with pytest.raises(FeeAboveCap, match="above max_fee_per_gas 30 gwei"):
        await sender.replace(_row(sender, Fees(28 * GWEI, GWEI)))  # x 9/8 = 31.5 gwei
    store.add_tx.assert_not_awaited()
    sender.rpc.send_raw.assert_not_awaited()


async def test_a_bump_with_room_stays_under_the_cap() -> None:
    sender, store = _sender(cap_gwei=30, base=20 * GWEI)
    replacement = await sender.replace(_row(sender, Fees(24 * GWEI, GWEI)))
    assert replacement.max_fee == 30 * GWEI  # the current fees (41) clipped to the cap
    assert replacement.priority_fee >= GWEI * 9 // 8  # still a raise the node accepts
    store.add_tx.assert_awaited_once()


def test_the_cap_is_read_in_gwei() -> None:
    raw = devnet_raw()
    raw["chains"][1]["max_fee_per_gas"] = 2.5
    config = parse_config(raw)
    assert config.chains[1].max_fee_per_gas_wei == 2_500_000_000
    assert config.chains[0].max_fee_per_gas_wei is None
    assert gwei(2_500_000_000) == "2.5"
