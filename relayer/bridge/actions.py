"""Bridge transfers as users see them: send one, follow it, see balances everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field

from relayer.bridge.precheck import check_bridge_send, refuse_own_contract
from relayer.chain import contracts
from relayer.config import PrivateKey
from relayer.core.message import decode_message
from relayer.deployment.session import Session
from relayer.errors import InputError, NotFound


@dataclass
class SentTransfer:
    message_id: str
    tx_hash: str
    origin: str
    destination: str
    amount: int


async def send_transfer(
    session: Session,
    *,
    key: PrivateKey,
    origin: str,
    destination: str,
    token: str,
    amount: int,
    recipient: str,
) -> SentTransfer:
    """Lock (home) or burn (remote) ``amount`` and dispatch it; returns the message id.

    Everything the bridge or the token would refuse (a recipient that is one of the
    deployment's contracts, a short balance, a pause, a lock-up, an ineligible recipient,
    a paused lane, the rate limit) is refused before any transaction, in words; only
    then, on the home chain, is the bridge approved when the allowance is short.
    """
    if origin == destination:
        raise InputError("--from and --to name the same chain")
    session.chain(origin)
    dest_chain = session.chain(destination)
    deployed = session.token(token)
    local = deployed.addresses.get(origin)
    if local is None:
        raise InputError(f"{deployed.symbol} is not deployed on chain {origin}")
    if destination not in deployed.addresses:
        raise InputError(f"{deployed.symbol} is not deployed on chain {destination}")
    refuse_own_contract(session, destination, recipient)
    await session.reachable(origin)
    bridge = session.address(origin, "TokenBridge")
    wallet = session.wallet(origin, key)
    token_abi = contracts.load("SecurityToken")
    await check_bridge_send(
        session, deployed, origin=origin, destination=destination, sender=key.address,
        recipient=recipient, amount=amount,
    )  # fmt: skip
    if origin == deployed.home_chain:
        allowance = await wallet.call(local, token_abi.fn("allowance"), key.address, bridge)
        if allowance < amount:
            approval = await wallet.send(
                local, token_abi.fn("approve").encode(bridge, amount), what="approve the bridge"
            )
            await wallet.wait([approval])
    bridge_abi = contracts.load("TokenBridge")
    sent = await wallet.send(
        bridge,
        bridge_abi.fn("send").encode(local, dest_chain.chain_id, recipient, amount),
        what=f"send {deployed.symbol} to {destination}",
    )
    receipt = (await wallet.wait([sent]))[0]
    events = contracts.decode_logs(bridge_abi, receipt.get("logs", []))
    ids = [values["id"] for event, values, _ in events if event.name == "TransferSent"]
    if not ids:
        raise NotFound(f"transaction {sent.hash} emitted no TransferSent event")
    return SentTransfer("0x" + bytes(ids[0]).hex(), sent.hash, origin, destination, amount)


@dataclass
class Stage:
    name: str
    done: bool
    detail: str = ""


@dataclass
class TransferStatus:
    message_id: str
    origin: str | None = None
    destination: str | None = None
    nonce: int | None = None
    stages: list[Stage] = field(default_factory=list)

    @property
    def state(self) -> str:
        done = [s.name for s in self.stages if s.done]
        return done[-1] if done else "unknown"


async def transfer_status(session: Session, message_id: str) -> TransferStatus:
    """Where a message is: dispatched, checkpointed, delivered, bounced, returned.

    Read from the chains (the mailboxes' and bridges' logs), so it works from any
    machine; the checkpoint stage comes from the relayer's store when it is at hand.
    """
    raw_id = _message_id(message_id)
    status = TransferStatus("0x" + raw_id.hex())
    mailbox = contracts.load("Mailbox")
    topic = "0x" + raw_id.hex()
    dispatch = None
    for chain in session.config.chains:
        start = session.deployment.chain(chain.name).start_block
        logs = await session.rpc(chain.name).logs(
            session.address(chain.name, "Mailbox"),
            start,
            await session.rpc(chain.name).block_number(),
            ["0x" + mailbox.event("Dispatch").topic.hex(), topic],
        )
        if logs:
            dispatch = (chain.name, logs[0])
            break
    if dispatch is None:
        raise NotFound(f"no message {status.message_id} was dispatched on any chain")
    origin_name, log = dispatch
    message = decode_message(bytes(mailbox.event("Dispatch").decode(log)["message"]))
    destination = session.config.chain_by_id(message.destination).name
    status.origin, status.destination, status.nonce = origin_name, destination, message.nonce
    status.stages.append(
        Stage("dispatched", True, f"on {origin_name}, tx {log['transactionHash']}")
    )

    checkpointed = await _checkpointed(session, message.origin, message.nonce)
    status.stages.append(Stage("checkpointed", bool(checkpointed), checkpointed or ""))

    processed = await _event_by_id(
        session, destination, "Mailbox", mailbox.event("Process"), raw_id
    )
    status.stages.append(
        Stage(
            "delivered",
            processed is not None,
            f"on {destination}, tx {processed}" if processed else "",
        )
    )
    bounced = await _bounce(session, destination, raw_id)
    if bounced is not None:
        return_id, tx = bounced
        status.stages.append(Stage("bounced", True, f"on {destination}, tx {tx}"))
        returned = await _event_by_id(
            session, origin_name, "Mailbox", mailbox.event("Process"), return_id
        )
        status.stages.append(
            Stage(
                "returned",
                returned is not None,
                f"on {origin_name}, tx {returned}" if returned else "",
            )
        )
    return status


async def _checkpointed(session: Session, origin: int, nonce: int) -> str | None:
    from relayer.store import open_store

    try:
        store = await open_store(session.config.relayer.store)
    except Exception:
        return None
    try:
        validators = [k.address for k in session.config.accounts.validators]
        best = await store.best_checkpoint(origin, validators, session.config.validators.threshold)
    finally:
        await store.close()
    if best is None or best.index < nonce:
        return None
    return f"index {best.index}, {len(best.signatures)} signature(s)"


async def _event_by_id(
    session: Session, chain: str, contract: str, event: contracts.Event, key: bytes
) -> str | None:
    start = session.deployment.chain(chain).start_block
    rpc = session.rpc(chain)
    logs = await rpc.logs(
        session.address(chain, contract),
        start,
        await rpc.block_number(),
        ["0x" + event.topic.hex(), "0x" + key.hex()],
    )
    return str(logs[0]["transactionHash"]) if logs else None


async def _bounce(session: Session, chain: str, transfer_id: bytes) -> tuple[bytes, str] | None:
    bridge = contracts.load("TokenBridge")
    event = bridge.event("Bounced")
    start = session.deployment.chain(chain).start_block
    rpc = session.rpc(chain)
    logs = await rpc.logs(
        session.address(chain, "TokenBridge"),
        start,
        await rpc.block_number(),
        ["0x" + event.topic.hex(), "0x" + transfer_id.hex()],
    )
    if not logs:
        return None
    values = event.decode(logs[0])
    return bytes(values["returnId"]), str(logs[0]["transactionHash"])


def _message_id(text: str) -> bytes:
    cleaned = text.strip().lower().removeprefix("0x")
    if len(cleaned) != 64 or any(c not in "0123456789abcdef" for c in cleaned):
        raise InputError(f"{text!r} is not a message id (0x followed by 64 hex digits)")
    return bytes.fromhex(cleaned)


@dataclass
class Holding:
    symbol: str
    decimals: int
    by_chain: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_chain.values())


async def balances(session: Session, wallet: str) -> list[Holding]:
    """The wallet's balance of every deployed token (and the payment token) on every chain."""
    holdings = []
    for token in session.deployment.tokens:
        by_chain = {}
        for chain, address in token.addresses.items():
            by_chain[chain] = await session.call(
                chain, address, "SecurityToken", "balanceOf", wallet
            )
        holdings.append(Holding(token.symbol, token.decimals, by_chain))
    payment = session.deployment.payment_token
    if payment and session.config.payment_token is not None:
        p = session.config.payment_token
        by_chain = {
            chain: await session.call(chain, address, "PaymentToken", "balanceOf", wallet)
            for chain, address in payment.items()
        }
        holdings.append(Holding(p.symbol, p.decimals, by_chain))
    return holdings
