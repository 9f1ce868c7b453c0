"""Cross-chain delivery versus payment, as traders run it (docs/dvp.md).

The seller offers; the buyer accepts, which makes the secret (kept in a 0600 file)
and locks the payment for the seller on the payment chain; the seller, after checking
that payment leg on chain, locks the security token for the buyer on the asset chain;
the buyer claims it, revealing the secret; the relayer then claims the payment for the
seller. Each tool refuses, with one line, a leg that would not be safe for the person
running it: a payment leg that expires too soon after the asset leg (the margin), a
buyer who may not hold the token, a leg whose token, amount, receiver or hashlock
differs from the offer.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from eth_utils.address import to_checksum_address

from relayer.chain import contracts
from relayer.config import PrivateKey
from relayer.deployment.session import Session
from relayer.dvp.files import (
    TradeRecord,
    load_record,
    read_secret,
    save_record,
    secret_path,
    write_secret,
)
from relayer.dvp.protocol import (
    LOCK_STATES,
    Leg,
    LegRefused,
    LockView,
    Offer,
    check_asset_leg,
    check_expiry_ahead,
    check_payment_leg,
    hashlock_of,
    margin_for,
    min_window_for,
    pick_lock,
)
from relayer.dvp.verify import verify_offer
from relayer.errors import InputError, InsufficientFunds, StbridgeError, TransactionReverted
from relayer.inputs import format_tokens

TIMELOCK = "HashedTimelock"


class TradeRefused(StbridgeError):
    """A trader tool refuses a leg: it does not match the offer or is not safe."""


@dataclass
class LegLock:
    """A leg this trader locked (or claimed, or refunded)."""

    trade: str
    leg: str  # "asset" or "payment"
    chain: str
    lock_id: bytes
    tx_hash: str
    expiry: int = 0


# --- reading the chains ----------------------------------------------------------------


async def chain_time(session: Session, chain: str) -> int:
    """The latest block's timestamp: the clock the timelock compares expiries with."""
    return (await session.rpc(chain).block("latest")).timestamp


async def read_lock(session: Session, chain: str, lock_id: bytes) -> LockView:
    """A lock as the chain holds it now."""
    htlc = session.address(chain, TIMELOCK)
    token, expiry, state, _sec, sender, receiver, hashlock, amount = await session.call(
        chain, htlc, TIMELOCK, "getLock", lock_id
    )
    return LockView(
        lock_id=lock_id, token=_checksum(token), sender=_checksum(sender),
        receiver=_checksum(receiver),
        amount=int(amount), hashlock=bytes(hashlock), expiry=int(expiry),
        state=LOCK_STATES[int(state)],
    )  # fmt: skip


def _checksum(address: object) -> str:
    return str(to_checksum_address(str(address)))


async def find_locks(
    session: Session, chain: str, hashlock: bytes, since: int | None = None
) -> list[LockView]:
    """Every lock under ``hashlock`` on ``chain`` (from its Locked events), as it is now."""
    rpc = session.rpc(chain)
    htlc = session.address(chain, TIMELOCK)
    event = contracts.load(TIMELOCK).event("Locked")
    start = since if since is not None else session.deployment.chain(chain).start_block
    head = await rpc.block_number()
    step = session.config.relayer.log_chunk_blocks
    ids: list[bytes] = []
    for low in range(start, head + 1, step):
        topics = ["0x" + event.topic.hex(), None, "0x" + hashlock.hex()]  # lockId, hashlock
        for log in await rpc.logs(htlc, low, min(head, low + step - 1), topics):
            ids.append(bytes(event.decode(log)["lockId"]))
    return [await read_lock(session, chain, i) for i in dict.fromkeys(ids)]


async def receiver_restriction(session: Session, leg: Leg, receiver: str) -> str | None:
    """Why ``leg``'s security token would refuse ``receiver`` from the timelock, if it would."""
    htlc = session.address(leg.chain, TIMELOCK)
    code = await session.call(
        leg.chain, leg.token, "SecurityToken", "detectTransferRestriction", htlc, receiver,
        leg.amount,
    )  # fmt: skip
    if code == 0:
        return None
    text = await session.call(
        leg.chain, leg.token, "SecurityToken", "messageForTransferRestriction", code
    )
    return f"{text} (ERC-1404 code {code})"


# --- the trader's steps ----------------------------------------------------------------------


async def make_offer(
    session: Session,
    *,
    seller: PrivateKey,
    buyer: str,
    token: str,
    amount: int,
    asset_chain: str,
    price: int,
    payment_chain: str,
) -> Offer:
    """The seller's offer: ``amount`` of ``token`` on ``asset_chain`` for ``price`` of the
    payment token on ``payment_chain``. Saved locally; nothing is sent."""
    if asset_chain == payment_chain:
        raise InputError("the asset and the payment are on the same chain: DvP here is cross-chain")
    if buyer.lower() == seller.address.lower():
        raise InputError("the buyer is the seller's own address")
    config = session.config
    asset_cfg, payment_cfg = session.chain(asset_chain), session.chain(payment_chain)
    await session.reachable(asset_chain)
    deployed = session.token(token)
    token_address = deployed.addresses.get(asset_chain)
    if token_address is None:
        raise InputError(f"{deployed.symbol} is not deployed on chain {asset_chain}")
    payment_address = session.deployment.payment_token.get(payment_chain)
    if payment_address is None or config.payment_token is None:
        raise InputError(f"no payment token is deployed on chain {payment_chain}")
    offer = Offer(
        trade=secrets.token_hex(8),
        network=config.network,
        seller=seller.address,
        buyer=buyer,
        asset=Leg(asset_chain, asset_cfg.chain_id, token_address, deployed.symbol,
                  deployed.decimals, amount),
        payment=Leg(payment_chain, payment_cfg.chain_id, payment_address,
                    config.payment_token.symbol, config.payment_token.decimals, price),
        margin_seconds=margin_for(config.dvp.margin_seconds, asset_cfg, payment_cfg),
    )  # fmt: skip
    await verify_offer(session, offer)  # the deployment record against the token contracts
    await _check_balance(session, offer.asset, seller.address)
    await _check_receiver(session, offer)
    save_record(offer)
    return offer


async def accept_offer(
    session: Session, *, buyer: PrivateKey, offer: Offer, expires_in: int
) -> tuple[Offer, LegLock]:
    """The buyer accepts: makes the secret, fixes the expiries, locks the payment.

    ``T_A`` (the asset leg's expiry) is ``expires_in`` seconds after the asset chain's
    time, ``T_B = T_A + margin``. The secret is written (mode 0600) before anything is
    locked, and removed again only if no lock was made.
    """
    if offer.hashlock is not None:
        raise InputError(
            f"trade {offer.trade} is already accepted (hashlock 0x{offer.hashlock.hex()})"
        )
    _check_party(offer.buyer, buyer, "buyer", offer.trade)
    await verify_offer(session, offer)
    asset_cfg, payment_cfg = session.chain(offer.asset.chain), session.chain(offer.payment.chain)
    window = min_window_for(session.config.dvp.min_window_seconds, asset_cfg, payment_cfg)
    if expires_in < window:
        raise TradeRefused(
            f"--expires-in {expires_in} s is under the minimum window of {window} s: the "
            "seller must lock and you must claim before the asset leg expires"
        )
    await _check_receiver(session, offer)
    await _check_balance(session, offer.payment, buyer.address)
    heads = {
        leg.chain: await session.rpc(leg.chain).block_number()
        for leg in (offer.asset, offer.payment)
    }
    now = await chain_time(session, offer.asset.chain)
    margin = margin_for(session.config.dvp.margin_seconds, asset_cfg, payment_cfg)
    secret = os.urandom(32)
    hashlock = hashlock_of(secret)
    accepted = offer.accept(hashlock, now + expires_in, margin, heads)
    expiry = now + expires_in + accepted.margin_seconds  # T_B, as accepted.payment_expiry
    await _check_payment_expiry(session, offer.payment.chain, expiry, window)
    write_secret(offer.trade, secret)
    try:
        lock_id, tx = await _lock(
            session, buyer, accepted.payment, accepted.seller, hashlock, expiry
        )
    except (TradeRefused, TransactionReverted, InsufficientFunds):
        secret_path(offer.trade).unlink(missing_ok=True)  # nothing was locked under it
        raise
    accepted = replace(accepted, payment_lock=lock_id)
    save_record(accepted, payment_lock="0x" + lock_id.hex(), payment_tx=tx)
    leg = LegLock(offer.trade, "payment", offer.payment.chain, lock_id, tx, expiry)
    return accepted, leg


async def lock_asset(session: Session, *, seller: PrivateKey, record: TradeRecord) -> LegLock:
    """The seller locks the token for the buyer, after checking the payment leg on chain."""
    offer = _accepted(record.offer)
    assert offer.hashlock is not None and offer.asset_expiry is not None
    hashlock, t_a = offer.hashlock, offer.asset_expiry
    _check_party(offer.seller, seller, "seller", offer.trade)
    margin, window = _seller_limits(session, offer)
    await verify_offer(session, offer)
    await _check_receiver(session, offer)
    now = await chain_time(session, offer.asset.chain)
    clocks = (now, await chain_time(session, offer.payment.chain))
    # two latest-block times differ by up to a block with the clocks in step
    slack = math.ceil(
        max(session.config.chain(c.chain).block_time for c in (offer.asset, offer.payment))
    )
    payment_legs = await _legs(session, offer, offer.payment)
    with _refusing():
        check_expiry_ahead(t_a, now=now, window=window, what="the asset leg")
        pick_lock(
            payment_legs,
            lambda lk: check_payment_leg(offer, lk, margin=margin, clocks=clocks, slack=slack),
            what="payment", chain=offer.payment.chain, hashlock=hashlock,
        )  # fmt: skip
    for lock in await _legs(session, offer, offer.asset):
        if lock.sender.lower() == seller.address.lower() and lock.state == "open":
            raise TradeRefused(
                f"you already locked the asset leg 0x{lock.lock_id.hex()} of trade {offer.trade}"
            )
    lock_id, tx = await _lock(session, seller, offer.asset, offer.buyer, hashlock, t_a)
    save_record(offer, asset_lock="0x" + lock_id.hex(), asset_tx=tx)
    return LegLock(offer.trade, "asset", offer.asset.chain, lock_id, tx, t_a)


async def claim_asset(session: Session, *, key: PrivateKey, record: TradeRecord) -> LegLock:
    """The buyer claims the asset leg with the secret, after checking it matches the offer."""
    offer = _accepted(record.offer)
    assert offer.hashlock is not None
    hashlock, chain = offer.hashlock, offer.asset.chain
    _check_own_record(offer)
    await verify_offer(session, offer)  # a look-alike token must not get the secret revealed
    secret = read_secret(offer.trade, hashlock)
    candidates = await _legs(session, offer, offer.asset)
    with _refusing():
        lock = pick_lock(
            candidates, lambda lk: check_asset_leg(offer, lk),
            what="asset", chain=chain, hashlock=hashlock,
        )  # fmt: skip
    now = await chain_time(session, chain)
    if now >= lock.expiry:
        raise TradeRefused(
            f"the asset leg 0x{lock.lock_id.hex()[:12]}… expired at {lock.expiry} "
            f"({now - lock.expiry} s ago): it can only be refunded; refund your payment "
            f"after {offer.payment_expiry}"
        )
    wallet = session.wallet(chain, key)
    receipt = await wallet.transact(
        session.address(chain, TIMELOCK), contracts.load(TIMELOCK).fn("claim"),
        lock.lock_id, secret, what=f"claim {offer.asset.symbol} on {chain}",
    )  # fmt: skip
    tx = str(receipt["transactionHash"])
    save_record(offer, claim_tx=tx)
    return LegLock(offer.trade, "asset", chain, lock.lock_id, tx, lock.expiry)


async def refund_legs(
    session: Session, *, key: PrivateKey, record: TradeRecord, leg: str | None = None
) -> list[LegLock]:
    """Refund the trade's expired open legs (or only ``leg``) to their senders; anyone may."""
    offer = _accepted(record.offer)
    assert offer.hashlock is not None
    wanted = [leg] if leg else ["payment", "asset"]
    done: list[LegLock] = []
    waiting: list[str] = []
    for name in wanted:
        terms, sender = (
            (offer.asset, offer.seller) if name == "asset" else (offer.payment, offer.buyer)
        )
        locks = [
            lk
            for lk in await _legs(session, offer, terms)
            if lk.state == "open"
            and lk.sender.lower() == sender.lower()
            and lk.token.lower() == terms.token.lower()
        ]
        now = await chain_time(session, terms.chain)
        for lock in locks:
            if now < lock.expiry:
                waiting.append(
                    f"the {name} leg 0x{lock.lock_id.hex()[:12]}… on {terms.chain} expires at "
                    f"{lock.expiry} (in {lock.expiry - now} s)"
                )
                continue
            wallet = session.wallet(terms.chain, key)
            receipt = await wallet.transact(
                session.address(terms.chain, TIMELOCK), contracts.load(TIMELOCK).fn("refund"),
                lock.lock_id, what=f"refund the {name} leg on {terms.chain}",
            )  # fmt: skip
            done.append(LegLock(offer.trade, name, terms.chain, lock.lock_id,
                                str(receipt["transactionHash"]), lock.expiry))  # fmt: skip
    if not done:
        if waiting:
            raise TradeRefused("nothing to refund yet: " + "; ".join(waiting))
        legs = f"{leg} leg" if leg else "leg"
        raise TradeRefused(f"trade {offer.trade} has no open {legs} to refund")
    save_record(offer, refund_txs=[d.tx_hash for d in done])
    return done


# --- helpers ---------------------------------------------------------------------------------


async def _lock(
    session: Session, key: PrivateKey, leg: Leg, receiver: str, hashlock: bytes, expiry: int
) -> tuple[bytes, str]:
    """Approve the timelock if needed, lock ``leg`` for ``receiver``; the lock id and tx."""
    wallet = session.wallet(leg.chain, key)
    htlc = session.address(leg.chain, TIMELOCK)
    erc20 = contracts.load("PaymentToken")
    await _check_balance(session, leg, key.address)
    if await wallet.call(leg.token, erc20.fn("allowance"), key.address, htlc) < leg.amount:
        what = f"approve the timelock for {leg.symbol} on {leg.chain}"
        await wallet.transact(leg.token, erc20.fn("approve"), htlc, leg.amount, what=what)
    timelock = contracts.load(TIMELOCK)
    receipt = await wallet.transact(
        htlc, timelock.fn("lock"), leg.token, receiver, leg.amount, hashlock, expiry,
        what=f"lock {leg.symbol} on {leg.chain}",
    )  # fmt: skip
    for event, values, _raw in contracts.decode_logs(timelock, receipt.get("logs", [])):
        if event.name == "Locked":
            return bytes(values["lockId"]), str(receipt["transactionHash"])
    raise TradeRefused(f"the lock transaction {receipt['transactionHash']} emitted no Locked event")


async def _check_payment_expiry(session: Session, chain: str, expiry: int, window: int) -> None:
    """T_B is fixed from the asset chain's clock; the payment chain's own clock (which
    its timelock compares with) must still be ``window`` seconds short of it."""
    now = await chain_time(session, chain)
    if expiry - now < max(window, 1):
        ahead = expiry - now
        when = f"{ahead} s after" if ahead >= 0 else f"{-ahead} s before"
        raise TradeRefused(
            f"the payment leg would expire before it is mined: its expiry {expiry} is {when} "
            f"chain {chain}'s time {now} (chain clocks differ); accept again with a longer "
            f"--expires-in (at least {max(window, 1) - ahead + 1} s more)"
        )


async def _check_balance(session: Session, leg: Leg, holder: str) -> None:
    balance = await session.call(leg.chain, leg.token, "PaymentToken", "balanceOf", holder)
    if balance < leg.amount:
        raise TradeRefused(
            f"{holder} holds {format_tokens(balance, leg.decimals, leg.symbol)} on {leg.chain}, "
            f"fewer than the {format_tokens(leg.amount, leg.decimals, leg.symbol)} of the trade"
        )


def _check_party(expected: str, key: PrivateKey, role: str, trade: str) -> None:
    if expected.lower() != key.address.lower():
        raise TradeRefused(
            f"the {role} of trade {trade} is {expected}, not {key.address}: sign with that key"
        )


def _check_terms(original: Offer, offer: Offer) -> None:
    """The accepted offer keeps every term the seller offered."""
    if original.terms() == offer.terms():
        return
    for name in ("network", "seller", "buyer", "asset", "payment"):
        mine, theirs = getattr(original, name), getattr(offer, name)
        if mine != theirs:
            if isinstance(mine, Leg) and isinstance(theirs, Leg) and mine.amount != theirs.amount:
                raise TradeRefused(
                    f"the accepted offer changes the {name} amount of trade {offer.trade}: "
                    f"{format_tokens(theirs.amount, theirs.decimals, theirs.symbol)}, you "
                    f"offered {format_tokens(mine.amount, mine.decimals, mine.symbol)}"
                )
            raise TradeRefused(f"the accepted offer changes the {name} of trade {offer.trade}")


def _check_own_record(offer: Offer) -> None:
    """The buyer's claim: an offer file that changes the terms of the buyer's own record
    (kept since `accept`) is refused."""
    original = load_record(offer.trade)
    if original is not None:
        _check_terms(original.offer, offer)
        if original.offer.hashlock is not None and original.offer.hashlock != offer.hashlock:
            raise TradeRefused(f"the offer file changes the hashlock of trade {offer.trade}")


def _accepted(offer: Offer) -> Offer:
    if not offer.accepted:
        raise TradeRefused(
            f"trade {offer.trade} is not accepted yet: the buyer runs `stbridge dvp accept`"
        )
    return offer


def _seller_limits(session: Session, offer: Offer) -> tuple[int, int]:
    """The seller's margin and window: their config's, and never less than they offered.

    An accepted offer that changes the seller's own record of the terms is refused.
    """
    asset, payment = session.chain(offer.asset.chain), session.chain(offer.payment.chain)
    margin = margin_for(session.config.dvp.margin_seconds, asset, payment)
    window = min_window_for(session.config.dvp.min_window_seconds, asset, payment)
    original = load_record(offer.trade)
    if original is not None:
        _check_terms(original.offer, offer)
        margin = max(margin, original.offer.margin_seconds)
    return margin, window


async def _legs(session: Session, offer: Offer, leg: Leg) -> list[LockView]:
    """The locks on ``leg``'s chain under the offer's hashlock."""
    assert offer.hashlock is not None
    return await find_locks(session, leg.chain, offer.hashlock, offer.search_block(leg.chain))


async def _check_receiver(session: Session, offer: Offer) -> None:
    restriction = await receiver_restriction(session, offer.asset, offer.buyer)
    if restriction is not None:
        raise TradeRefused(
            f"buyer {offer.buyer} may not receive {offer.asset.symbol} on {offer.asset.chain}: "
            f"{restriction}"
        )


@contextmanager
def _refusing() -> Iterator[None]:
    """A pure check's LegRefused becomes the tool's one-line TradeRefused."""
    try:
        yield
    except LegRefused as exc:
        raise TradeRefused(str(exc)) from None
