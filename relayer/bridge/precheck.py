"""What a movement of tokens would meet, asked before anything is signed.

A command that moves tokens first asks the chain what the contracts would say (the
token's ERC-1404 restriction, the bridge's lane and rate limit, the balance) and refuses
in one line, in token units and words, so nothing is sent that would be refused: no
``approve`` left behind by a ``bridge send`` that the lock-up stops. One check needs no
chain at all: a recipient that is one of the deployment's own contracts.
"""

from __future__ import annotations

import math

from relayer.deployment.record import TokenDeployment
from relayer.deployment.session import Session
from relayer.errors import InputError
from relayer.inputs import ZERO_ADDRESS, format_expiry, format_tokens

ARTIFACT = "SecurityToken"
BRIDGE_ARTIFACT = "TokenBridge"
CODE_LOCKED_UP = 10
CUSTODIANS = ("TokenBridge", "HashedTimelock", "Distributor")  # hold tokens for investors


def own_contract(session: Session, chain: str, address: str) -> str | None:
    """What ``address`` is when it is one of this deployment's contracts on ``chain``
    (``stbridge's HashedTimelock on b, a custodian contract``); None otherwise.

    Read from the deployment record: no chain is asked."""
    deployment = session.deployment
    wanted = address.lower()
    names: list[tuple[str, bool]] = []
    deployed_chain = deployment.chains.get(chain)
    if deployed_chain is not None:
        names += [
            (name, name in CUSTODIANS)
            for name, where in deployed_chain.contracts.items()
            if where.lower() == wanted
        ]
    names += [
        (f"{t.symbol} token", False)
        for t in deployment.tokens
        if t.addresses.get(chain, "").lower() == wanted
    ]
    if deployment.payment_token.get(chain, "").lower() == wanted:
        names.append(("payment token", False))
    if not names:
        return None
    name, custodian = names[0]
    return f"stbridge's {name} on {chain}, {'a custodian contract' if custodian else 'a contract'}"


def refuse_own_contract(session: Session, chain: str, address: str) -> None:
    """InputError when tokens would go to one of the deployment's contracts on ``chain``."""
    found = own_contract(session, chain, address)
    if found is not None:
        raise InputError(f"the recipient is {found}: tokens sent there would be stuck")


async def restriction(session: Session, chain: str, token: str, code: int) -> str:
    """An ERC-1404 code in the token's own words: ``Token is paused (ERC-1404 code 1)``;
    a lock-up says until when."""
    text = await session.call(chain, token, ARTIFACT, "messageForTransferRestriction", code)
    said = f"{text} (ERC-1404 code {code})"
    if code == CODE_LOCKED_UP:
        until = int(await session.call(chain, token, ARTIFACT, "lockupUntil"))
        said += f" {format_expiry(until)}"
    return said


async def check_bridge_send(
    session: Session,
    deployed: TokenDeployment,
    *,
    origin: str,
    destination: str,
    sender: str,
    recipient: str,
    amount: int,
) -> None:
    """Everything ``TokenBridge.send`` and the token would refuse, asked first: the sender's
    side of the token's rules (pause, freezes, identity, lock-up: what to fix before
    anything else), the balance, the recipient's eligibility, the lane (enrolled, not
    paused) and its rate limit."""
    token = deployed.addresses[origin]
    bridge = session.address(origin, BRIDGE_ARTIFACT)
    symbol = deployed.symbol

    def show(units: int) -> str:
        return format_tokens(units, deployed.decimals, symbol)

    # home: the bridge (a custodian) takes the tokens in escrow; remote: it burns them
    into = bridge if origin == deployed.home_chain else ZERO_ADDRESS
    code = int(
        await session.call(
            origin, token, ARTIFACT, "detectTransferRestriction", sender, into, amount
        )
    )
    if code:
        reason = await restriction(session, origin, token, code)
        raise InputError(f"{sender} cannot send {symbol} on {origin}: {reason}")
    balance = int(await session.call(origin, token, ARTIFACT, "balanceOf", sender))
    if balance < amount:
        raise InputError(
            f"{sender} holds {show(balance)} on {origin}, fewer than the {show(amount)} asked"
        )
    if not await session.call(origin, token, ARTIFACT, "canReceive", recipient):
        code = int(
            await session.call(
                origin, token, ARTIFACT, "detectTransferRestriction", ZERO_ADDRESS, recipient, 0
            )
        )
        reason = await restriction(session, origin, token, code) if code else "refused"
        raise InputError(f"recipient {recipient} cannot receive {symbol}: {reason}")
    domain = session.chain(destination).chain_id
    enrolled, lane_paused = await session.call(origin, bridge, BRIDGE_ARTIFACT, "remote", domain)
    lane = f"the bridge's lane {origin} -> {destination}"
    if str(enrolled).lower() == ZERO_ADDRESS:
        raise InputError(f"{lane} is not enrolled: chain {destination} takes no transfers")
    if lane_paused:
        raise InputError(f"{lane} is paused by its guardian: nothing can be sent on it now")
    available, capacity, rate = await session.call(
        origin, bridge, BRIDGE_ARTIFACT, "rateLimit", deployed.home_address, domain, False
    )
    if capacity and amount > capacity:
        raise InputError(
            f"{show(amount)} is more than {lane} lets through at once ({show(capacity)}): "
            "send it in parts"
        )
    if capacity and amount > available:
        wait = f"wait {math.ceil((amount - available) / rate)} s" if rate else "wait"
        raise InputError(
            f"{lane} can take {show(available)} now (rate limit), fewer than the "
            f"{show(amount)} asked: send less, or {wait}"
        )
