"""Helpers for the DvP tests: fresh traders per test, trades, chain time and balances.

Each test trades between two new wallets (funded, onboarded, holding ACME or dUSD), so
a leg some other test left open, and that some relayer refunds later, never moves a
balance a test is watching.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from relayer.chain import contracts
from relayer.config import Config, PrivateKey, parse_config
from relayer.core.hashing import keccak256
from relayer.deployment.session import Session
from relayer.dvp.actions import LegLock, accept_offer, lock_asset, make_offer
from relayer.dvp.files import TradeRecord
from relayer.dvp.protocol import Offer
from relayer.issuer.onboard import DEVNET_COUNTRY
from tests.integration.system import Chains, System

ACME = 10**18
DUSD = 10**6
HOLDING = 100 * ACME
FLOAT = 100_000 * DUSD


@dataclass
class Traders:
    seller: PrivateKey
    buyer: PrivateKey


def dvp_config(system: System, *, margin: int, min_window: int = 2, **relayer: Any) -> Config:
    """The session's config with a DvP margin and window fit for seconds-long tests."""
    raw = {
        **system.raw,
        "dvp": {"margin_seconds": margin, "min_window_seconds": min_window},
        "relayer": {**system.raw["relayer"], **relayer},
    }
    return parse_config(raw)


def new_key() -> PrivateKey:
    return PrivateKey.from_hex(os.urandom(32).hex(), source="test")


async def fresh_traders(system: System, chains: Chains) -> Traders:
    """A seller holding 100 ACME on a and a buyer holding 100,000 dUSD on b, both verified."""
    accounts = system.config.accounts
    traders = Traders(seller=new_key(), buyer=new_key())
    registry = system.deployment.chain("a").address("IdentityRegistry")
    registry_abi = contracts.load("IdentityRegistry")
    token_abi = contracts.load("SecurityToken")
    payment_abi = contracts.load("PaymentToken")
    for chain in ("a", "b"):
        funder = chains.wallet(chain, accounts.deployer)
        sent = [
            await funder.send(k.address, b"", what="fund", value=10**18, gas=21_000)
            for k in (traders.seller, traders.buyer)
        ]
        await funder.wait(sent)
    agent = chains.wallet("a", accounts.issuer_agent)
    expires = int(time.time()) + 365 * 24 * 3600
    sent = []
    for role, key in (("seller", traders.seller), ("buyer", traders.buyer)):
        investor = keccak256(f"dvp-test:{role}:{key.address}".encode())
        data = registry_abi.fn("setRecord").encode(
            key.address, investor, DEVNET_COUNTRY, expires, 0
        )
        sent.append(await agent.send(registry, data, what=f"record for the {role}"))
    await agent.wait(sent)
    await agent.transact(system.token("a"), token_abi.fn("mint"), traders.seller.address, HOLDING)
    owner = chains.wallet("b", accounts.deployer)
    dusd_b = system.deployment.payment_token["b"]
    await owner.transact(dusd_b, payment_abi.fn("mint"), traders.buyer.address, FLOAT)
    return traders


async def acme(chains: Chains, chain: str, who: str) -> int:
    return await chains.balance(chain, who)


async def dusd(chains: Chains, chain: str, who: str) -> int:
    reader = chains.wallet(chain, chains.system.config.accounts.deployer)
    token = chains.system.deployment.payment_token[chain]
    return int(await reader.call(token, contracts.load("PaymentToken").fn("balanceOf"), who))


async def chain_now(chains: Chains, chain: str) -> int:
    return (await chains.rpcs[chain].block("latest")).timestamp


async def until_chain_time(chains: Chains, chain: str, when: int, timeout: float = 120) -> int:
    """Wait until the chain's latest block is at ``when`` or later; returns its time."""
    deadline = time.monotonic() + timeout
    while (now := await chain_now(chains, chain)) < when:
        assert time.monotonic() < deadline, f"chain {chain} did not reach time {when}"
        await asyncio.sleep(0.1)
    return now


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        await asyncio.sleep(every)


async def open_trade(
    session: Session,
    traders: Traders,
    *,
    amount: int = 10 * ACME,
    price: int = 2_500 * DUSD,
    expires_in: int = 60,
    lock_asset_leg: bool = True,
) -> tuple[Offer, LegLock, LegLock | None]:
    """Offer, accept (payment locked on b) and, unless told not to, lock the asset on a."""
    offer = await make_offer(
        session, seller=traders.seller, buyer=traders.buyer.address, token="ACME",
        amount=amount, asset_chain="a", price=price, payment_chain="b",
    )  # fmt: skip
    accepted, payment = await accept_offer(
        session, buyer=traders.buyer, offer=offer, expires_in=expires_in
    )
    if not lock_asset_leg:
        return accepted, payment, None
    asset = await lock_asset(session, seller=traders.seller, record=TradeRecord(accepted))
    return accepted, payment, asset


async def lock_state(chains: Chains, chain: str, lock_id: bytes) -> str:
    reader = chains.wallet(chain, chains.system.config.accounts.deployer)
    htlc = chains.system.deployment.chain(chain).address("HashedTimelock")
    lock = await reader.call(htlc, contracts.load("HashedTimelock").fn("getLock"), lock_id)
    return ("none", "open", "claimed", "refunded")[int(lock[2])]


async def settled_at(chains: Chains, chain: str, lock_id: bytes) -> tuple[str, int]:
    """The transaction and block time of a lock's Claimed or Refunded event."""
    timelock = contracts.load("HashedTimelock")
    htlc = chains.system.deployment.chain(chain).address("HashedTimelock")
    rpc = chains.rpcs[chain]
    start = chains.system.deployment.chain(chain).start_block
    topics = [["0x" + timelock.event(e).topic.hex() for e in ("Claimed", "Refunded")]]
    logs = await rpc.logs(htlc, start, await rpc.block_number(), [*topics, "0x" + lock_id.hex()])
    assert len(logs) == 1, f"{len(logs)} settlements of 0x{lock_id.hex()}"
    block = await rpc.block(int(logs[0]["blockNumber"], 16))
    return str(logs[0]["transactionHash"]), block.timestamp
