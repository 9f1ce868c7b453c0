"""Compliance travels: revocations and freezes reach the remote chain and bind there.

Two real chains and a real relayer. Each test makes its own investors (the devnet's
are shared with every other test) and leaves the shared system as it found it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from pathlib import Path

import pytest

from relayer.bridge.actions import send_transfer, transfer_status
from relayer.chain import contracts
from relayer.core.bodies import IdentityRecord, RecordUpdate, encode_body
from relayer.core.hashing import keccak256
from relayer.deployment.session import Session
from relayer.errors import InputError, TransactionReverted
from relayer.issuer.investors import flag_investor
from relayer.store import Status
from tests.integration.compliance_world import UNIT, World, make_key, until
from tests.integration.system import System, drained, revert, running_relayer, wait_delivered

pytestmark = pytest.mark.integration


async def _until_returned(session: Session, message_id: str, timeout: float = 90) -> list[str]:
    """Until the transfer bounced and came back; its stages with their details."""
    deadline = time.monotonic() + timeout
    while True:
        status = await transfer_status(session, message_id)
        if status.state == "returned":
            return [f"{s.name} {s.detail}" for s in status.stages]
        if time.monotonic() > deadline:
            raise AssertionError(f"{message_id} is {status.state} after {timeout}s")
        await asyncio.sleep(0.25)


async def _bounce_reason(world: World, chain: str, message_id: str) -> int:
    bridge = contracts.load("TokenBridge")
    event = bridge.event("Bounced")
    rpc = world.session.rpc(chain)
    logs = await rpc.logs(
        world.address(chain, "TokenBridge"),
        world.session.deployment.chain(chain).start_block,
        await rpc.block_number(),
        ["0x" + event.topic.hex(), message_id],
    )
    assert len(logs) == 1
    return int(event.decode(logs[0])["reason"])


async def test_revoked_while_in_flight_bounces_back_both_ways(
    system: System, tmp_path: Path
) -> None:
    """Transfers to investors revoked while the transfers were in flight return to their
    senders, towards the remote chain (the relayer delivers the revocation first) and
    towards home (the home registry refuses at once)."""
    store = tmp_path / "relayer.db"
    alice, bob, carol, dave = (make_key(f"inflight-{n}") for n in ("alice", "bob", "carol", "dave"))
    async with Session(system.config, system.deployment) as session:
        w = World(system, session)
        await w.fund([alice, bob])
        await w.onboard([alice, bob], holding=100 * UNIT)
        await w.onboard([carol, dave])
        async with running_relayer(system, store) as relay:
            sent = await send_transfer(
                session, key=bob, origin="a", destination="b", token="ACME", amount=40 * UNIT,
                recipient=bob.address,
            )  # fmt: skip
            await wait_delivered(relay.store, [bytes.fromhex(sent.message_id[2:])], 120)
            await drained(relay)
        # the relayer is down: both transfers leave, then both recipients are revoked
        out = await send_transfer(
            session, key=alice, origin="a", destination="b", token="ACME", amount=10 * UNIT + 7,
            recipient=carol.address,
        )  # fmt: skip
        back = await send_transfer(
            session, key=bob, origin="b", destination="a", token="ACME", amount=7 * UNIT + 3,
            recipient=dave.address,
        )  # fmt: skip
        revoked = await flag_investor(session, w.agent, carol.address, "revoke")
        await flag_investor(session, w.agent, dave.address, "revoke")
        assert await w.balance("b", bob.address) == 33 * UNIT - 3  # burned on b, in flight
        await w.blocks("a", 3)
        async with running_relayer(system, store):
            stages_out = await _until_returned(session, out.message_id)
            stages_back = await _until_returned(session, back.message_id)
        assert (await w.record("b", carol.address)).version >= revoked.record.version
        assert await w.balance("b", carol.address) == 0
        assert await w.balance("a", alice.address) == 100 * UNIT, stages_out
        assert await w.balance("a", dave.address) == 0
        assert await w.balance("b", bob.address) == 40 * UNIT, stages_back
        assert await _bounce_reason(w, "b", out.message_id) == 5  # recipient not verified
        assert await _bounce_reason(w, "a", back.message_id) == 5


async def test_frozen_or_revoked_on_the_remote_chain_cannot_move_or_claim(
    system: System, tmp_path: Path
) -> None:
    erin, frank, gina = (make_key(f"bind-{n}") for n in ("erin", "frank", "gina"))
    token_b = system.token("b")
    token_abi = contracts.load("SecurityToken")
    htlc_abi = contracts.load("HashedTimelock")
    async with Session(system.config, system.deployment) as session:
        w = World(system, session)
        await w.fund([erin, frank, gina])
        await w.onboard([erin, frank, gina], holding=50 * UNIT)
        erin_b, frank_b = session.wallet("b", erin), session.wallet("b", frank)
        async with running_relayer(system, tmp_path / "relayer.db") as relay:
            ids = []
            for key in (erin, frank):
                sent = await send_transfer(
                    session, key=key, origin="a", destination="b", token="ACME",
                    amount=20 * UNIT, recipient=key.address,
                )  # fmt: skip
                ids.append(bytes.fromhex(sent.message_id[2:]))
            await wait_delivered(relay.store, ids, 120)

            # a lock on b towards gina, then gina is revoked: the claim is refused on b
            htlc = w.address("b", "HashedTimelock")
            secret = keccak256(b"compliance-claim")
            await erin_b.transact(token_b, token_abi.fn("approve"), htlc, 5 * UNIT)
            # long enough for the revocation to arrive before it, short enough to wait out
            lifetime = max(8, round(30 * system.config.chain("b").block_time))
            expiry = (await session.rpc("b").block("latest")).timestamp + lifetime
            receipt = await erin_b.transact(
                htlc, htlc_abi.fn("lock"), token_b, gina.address, 5 * UNIT,
                hashlib.sha256(secret).digest(), expiry,
            )  # fmt: skip
            [(_, locked, _)] = [
                e for e in contracts.decode_logs(htlc_abi, receipt["logs"]) if e[0].name == "Locked"
            ]
            lock_id = bytes(locked["lockId"])
            change = await flag_investor(session, w.agent, gina.address, "revoke")
            await w.wait_mirror(gina.address, change.record.version)
            with pytest.raises(TransactionReverted, match=r"verified investor \(ERC-1404 code 5\)"):
                await frank_b.transact(htlc, htlc_abi.fn("claim"), lock_id, secret)

            # erin frozen at home: on b she can neither send nor receive, nor bridge out
            change = await flag_investor(session, w.agent, erin.address, "freeze")
            with pytest.raises(InputError, match=r"Recipient is frozen \(ERC-1404 code 3\)"):
                await send_transfer(
                    session, key=frank, origin="a", destination="b", token="ACME",
                    amount=UNIT, recipient=erin.address,
                )  # refused at home at once  # fmt: skip
            await w.wait_mirror(erin.address, change.record.version)
            with pytest.raises(TransactionReverted, match=r"Sender is frozen \(ERC-1404 code 2\)"):
                await erin_b.transact(token_b, token_abi.fn("transfer"), frank.address, UNIT)
            with pytest.raises(TransactionReverted, match=r"\(ERC-1404 code 3\)"):
                await frank_b.transact(token_b, token_abi.fn("transfer"), erin.address, UNIT)
            with pytest.raises(InputError, match=r"cannot send ACME on b: Sender is frozen"):
                await send_transfer(
                    session, key=erin, origin="b", destination="a", token="ACME",
                    amount=UNIT, recipient=frank.address,
                )  # fmt: skip
            assert await w.balance("b", erin.address) == 15 * UNIT

            # unfrozen, she moves again once the update is delivered
            change = await flag_investor(session, w.agent, erin.address, "unfreeze")
            await w.wait_mirror(erin.address, change.record.version)
            await erin_b.transact(token_b, token_abi.fn("transfer"), frank.address, UNIT)
            assert await w.balance("b", frank.address) == 21 * UNIT

            # the lock expires and goes back to erin: the relayer refunds expired locks, and
            # anyone may; a give-back needs no eligibility
            await w.time_passes("b", expiry)

            async def refunded() -> bool:
                return await w.balance("b", erin.address) == 19 * UNIT

            with contextlib.suppress(AssertionError):
                await until(refunded, 5, "the relayer to refund the lock")
            if not await refunded():
                with contextlib.suppress(TransactionReverted):  # the relayer's came first
                    await frank_b.transact(htlc, htlc_abi.fn("refund"), lock_id)
            await until(refunded, 120, "the lock to be refunded")
            assert await w.balance("b", gina.address) == 0
            await drained(relay)


async def test_a_record_from_anything_but_the_home_registry_is_refused(
    system: System, tmp_path: Path
) -> None:
    """Anyone may dispatch through the mailbox: a RecordUpdate that claims to reinstate a
    revoked investor is relayed like any message and refused by the mirror."""
    mallory, henry = make_key("forge-mallory"), make_key("forge-henry")
    mailbox_abi = contracts.load("Mailbox")
    b_id = system.config.chain("b").chain_id
    async with Session(system.config, system.deployment) as session:
        w = World(system, session)
        await w.fund([mallory])
        await w.onboard([henry])
        async with running_relayer(system, tmp_path / "r1.db") as relay:
            change = await flag_investor(session, w.agent, henry.address, "revoke")
            await w.wait_mirror(henry.address, change.record.version)
            await drained(relay)
        rpc_a = session.rpc("a")
        snapshot = await rpc_a.request("evm_snapshot")  # the forged message is undone after
        try:
            forged = IdentityRecord(keccak256(b"henry"), 276, 2**40, 0, change.record.version + 100)
            body = encode_body(RecordUpdate(henry.address, forged))
            mirror = bytes(12) + bytes.fromhex(w.address("b", "MirrorIdentityRegistry")[2:])
            receipt = await session.wallet("a", mallory).transact(
                w.address("a", "Mailbox"), mailbox_abi.fn("dispatch"), b_id, mirror, body
            )
            [(_, dispatched, _)] = contracts.decode_logs(mailbox_abi, receipt["logs"])
            forged_id = bytes(dispatched["id"])
            async with running_relayer(system, tmp_path / "r2.db") as relay:
                row = None
                for _ in range(1200):
                    row = await relay.store.message(forged_id)
                    if row is not None and row.status == Status.FAILED:
                        break
                    await asyncio.sleep(0.1)
                assert row is not None and row.status == Status.FAILED
                assert row.last_error is not None and "WrongSender" in row.last_error
            held = await w.record("b", henry.address)
            assert held.version == change.record.version
            assert held.revoked
            # the mirror's own entry point refuses anyone but the mailbox, whatever they send
            with pytest.raises(TransactionReverted, match="NotMailbox"):
                await session.wallet("b", mallory).transact(
                    w.address("b", "MirrorIdentityRegistry"),
                    contracts.load("MirrorIdentityRegistry").fn("handle"),
                    system.config.chain("a").chain_id,
                    bytes(12) + bytes.fromhex(w.address("a", "IdentityRegistry")[2:]),
                    body,
                )
        finally:
            assert await revert(rpc_a, snapshot)  # and chain a keeps the wall clock
