"""Devnet onboarding: identity records for the config's investors and traders, and holdings.

Every investor and trader gets a home record (country DE, valid for a year); the
home registry dispatches each record to the mirrors, so they reach the remote chains
once the relayer runs. Investors and the first trader (the seller) receive security
tokens on the home chain, every trader receives payment tokens on every chain. Each
step looks first and acts only when needed, so running it twice changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from relayer.chain import contracts
from relayer.chain.wallet import Sent
from relayer.core.hashing import keccak256
from relayer.deployment.session import Session

DEVNET_COUNTRY = 276  # Germany, ISO 3166-1 numeric
HOLDING = 1_000  # whole security tokens per investor
PAYMENT_FLOAT = 1_000_000  # whole payment tokens per trader and chain
RECORD_LIFETIME = 365 * 24 * 3600


@dataclass
class OnboardReport:
    records: list[str] = field(default_factory=list)
    minted: list[str] = field(default_factory=list)


def investor_id(role: str) -> bytes:
    """A stable devnet investor id for a config role such as ``investor[0]``."""
    return keccak256(f"stbridge-devnet:{role}".encode())


async def onboard_devnet(session: Session) -> OnboardReport:
    """Records and holdings for the devnet accounts (see the module docstring)."""
    config, deployment = session.config, session.deployment
    report = OnboardReport()
    home = config.home
    agent = session.wallet(home, config.accounts.issuer_agent)
    registry = session.address(home, "IdentityRegistry")
    registry_abi = contracts.load("IdentityRegistry")
    token_abi = contracts.load("SecurityToken")
    people = [(r, k) for r, k in config.accounts.roles() if r.startswith(("investor", "trader"))]
    sent: list[Sent] = []
    now = int(time.time())
    for role, key in people:
        record = await agent.call(registry, registry_abi.fn("recordOf"), key.address)
        investor, _country, expires, flags, _version = record
        if investor != b"\x00" * 32 and expires > now + 30 * 24 * 3600 and flags == 0:
            continue
        sent.append(
            await agent.send(
                registry,
                registry_abi.fn("setRecord").encode(
                    key.address, investor_id(role), DEVNET_COUNTRY, now + RECORD_LIFETIME, 0
                ),
                what=f"record for {role}",
            )
        )
        report.records.append(f"{role} {key.address}")
    if sent:
        await agent.wait(sent)  # tokens check the records at mint
    sent = []
    holders = [(r, k) for r, k in people if r.startswith("investor") or r == "trader[0]"]
    for token in deployment.tokens:
        home_token = token.addresses[home]
        for role, key in holders:
            if await agent.call(home_token, token_abi.fn("balanceOf"), key.address) > 0:
                continue
            amount = HOLDING * 10**token.decimals
            sent.append(
                await agent.send(
                    home_token,
                    token_abi.fn("mint").encode(key.address, amount),
                    what=f"mint {token.symbol} to {role}",
                )
            )
            report.minted.append(f"{HOLDING} {token.symbol} to {role}")
    if sent:
        await agent.wait(sent)
    if config.payment_token is not None:
        payment_abi = contracts.load("PaymentToken")
        decimals = config.payment_token.decimals
        for chain, address in deployment.payment_token.items():
            owner = session.wallet(chain, config.accounts.deployer)
            minted: list[Sent] = []
            for role, key in people:
                if not role.startswith("trader"):
                    continue
                if await owner.call(address, payment_abi.fn("balanceOf"), key.address) > 0:
                    continue
                minted.append(
                    await owner.send(
                        address,
                        payment_abi.fn("mint").encode(key.address, PAYMENT_FLOAT * 10**decimals),
                        what=f"mint {config.payment_token.symbol} to {role} on {chain}",
                    )
                )
                report.minted.append(
                    f"{PAYMENT_FLOAT} {config.payment_token.symbol} to {role} on {chain}"
                )
            if minted:
                await owner.wait(minted)
    return report
