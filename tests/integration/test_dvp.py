"""Cross-chain DvP on two real chains: the tokens on a, the payment on b, a real relayer.

Each test trades between fresh wallets (dvp_support.fresh_traders) with real, short
expiries: the timelock compares them with block timestamps, which follow the clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from relayer.chain import contracts
from relayer.config import PrivateKey
from relayer.deployment.session import Session
from relayer.dvp.actions import TradeRefused, claim_asset, lock_asset, refund_legs
from relayer.dvp.files import SecretError, TradeRecord, secret_path
from relayer.dvp.protocol import hashlock_of
from relayer.dvp.status import trade_status
from relayer.dvp.watcher import action_purpose
from relayer.errors import TransactionReverted
from tests.integration.dvp_support import (
    ACME,
    DUSD,
    Traders,
    acme,
    chain_now,
    dusd,
    dvp_config,
    eventually,
    fresh_traders,
    lock_state,
    open_trade,
    settled_at,
    until_chain_time,
)
from tests.integration.system import Chains, System, relayer_process, running_relayer

pytestmark = pytest.mark.integration


@pytest.fixture
def trades_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Trade records and secrets of in-process traders go here, not in the session's home."""
    home = tmp_path / "trader-home"
    monkeypatch.setenv("STBRIDGE_HOME", str(home))
    return home


@pytest.fixture
async def chains(system: System) -> AsyncIterator[Chains]:
    opened = Chains(system)
    yield opened
    await opened.close()


@pytest.fixture
async def traders(system: System, chains: Chains) -> Traders:
    return await fresh_traders(system, chains)


async def test_happy_path_with_the_seller_offline(
    system: System, chains: Chains, traders: Traders, tmp_path: Path
) -> None:
    """Seller and buyer on their own machines (homes), exchanging offer files; the seller
    runs nothing after locking and is paid by the relayer."""
    config = system.config_file(tmp_path / "c.toml", tmp_path / "unused.db")
    selling = Desk(_home(system, tmp_path / "seller"), traders.seller, config)
    buying = Desk(_home(system, tmp_path / "buyer"), traders.buyer, config)
    seller, buyer = traders.seller.address, traders.buyer.address
    before = (await dusd(chains, "b", seller), await acme(chains, "a", buyer))
    async with running_relayer(system, tmp_path / "r.db") as relay:
        offer_file, accepted_file = tmp_path / "offer.json", tmp_path / "accepted.json"
        made = await selling.run(
            f"offer --buyer {buyer} --sell 12.5 --price 3000.25 -o {offer_file}"
        )
        assert made.returncode == 0, made.stderr
        accepted = await buying.run(f"accept {offer_file} --expires-in 90 -o {accepted_file}")
        assert accepted.returncode == 0, accepted.stderr
        trade = _trade_id(accepted_file)
        secret_file = buying.home / "dvp" / f"{trade}.secret"
        assert secret_file.stat().st_mode & 0o777 == 0o600
        assert not (selling.home / "dvp" / f"{trade}.secret").exists()
        locked = await selling.run(f"lock {accepted_file}")
        assert locked.returncode == 0, locked.stderr
        # the seller goes offline: from here on only the buyer and the relayer act
        claimed = await buying.run(f"claim {trade}")
        assert claimed.returncode == 0, claimed.stderr

        async def paid() -> bool:
            return await dusd(chains, "b", seller) == before[0] + 3_000_250_000

        await eventually(paid, 120, "the relayer paid the seller")
        assert await acme(chains, "a", buyer) == before[1] + 12 * ACME + ACME // 2
        shown = await buying.run(f"status {trade}")
        assert "settled" in shown.stdout, shown.stdout
        listed = await buying.run("list")
        assert trade in listed.stdout and "settled" in listed.stdout

        async def recorded() -> bool:  # the relayer's indexer sees it once it is confirmed
            rows = [k for k in await relay.store.htlc_locks() if k.receiver == seller]
            return [(k.state.value, k.action) for k in rows] == [("claimed", "claim")]

        await eventually(recorded, 120, "the relayer recorded its claim")
        assert relay.metrics.dvp_settled.labels("b")._value.get() >= 1


async def test_buyer_never_claims_so_both_legs_are_refunded(
    system: System, chains: Chains, traders: Traders, tmp_path: Path, trades_home: Path
) -> None:
    config = dvp_config(system, margin=3)
    seller, buyer = traders.seller.address, traders.buyer.address
    before = (await acme(chains, "a", seller), await dusd(chains, "b", buyer))
    async with running_relayer(system, tmp_path / "r.db") as relay:
        async with Session(config, system.deployment) as session:
            offer, payment, asset = await open_trade(session, traders, expires_in=8)
        assert asset is not None and offer.payment_expiry is not None
        assert await acme(chains, "a", seller) == before[0] - 10 * ACME

        async def warned() -> bool:  # the asset leg has less than the margin left, unclaimed
            return relay.metrics.dvp_expiring.labels("a")._value.get() >= 1

        await eventually(warned, 120, "the relayer warned of a leg nearing expiry")

        async def refunded() -> bool:
            states = [
                await lock_state(chains, c, leg.lock_id)
                for c, leg in (("a", asset), ("b", payment))
            ]
            return states == ["refunded", "refunded"]

        await eventually(refunded, 120, "the relayer refunded both legs")
    assert await acme(chains, "a", seller) == before[0]
    assert await dusd(chains, "b", buyer) == before[1]
    _tx, refunded_at = await settled_at(chains, "b", payment.lock_id)
    assert refunded_at >= offer.payment_expiry


async def test_buyer_claims_at_the_last_moment_and_the_seller_is_still_paid(
    system: System, chains: Chains, traders: Traders, tmp_path: Path, trades_home: Path
) -> None:
    margin = 8
    config = dvp_config(system, margin=margin)
    seller = traders.seller.address
    before = await dusd(chains, "b", seller)
    async with running_relayer(system, tmp_path / "r.db"):
        async with Session(config, system.deployment) as session:
            offer, payment, asset = await open_trade(session, traders, expires_in=10)
            assert asset is not None and offer.asset_expiry is not None
            t_a, t_b = offer.asset_expiry, offer.asset_expiry + margin
            await until_chain_time(chains, "a", t_a - 2)
            claim = await claim_asset(session, key=traders.buyer, record=TradeRecord(offer))
        _tx, claimed_at = await settled_at(chains, "a", claim.lock_id)
        assert t_a - 3 <= claimed_at < t_a

        async def paid() -> bool:
            return await dusd(chains, "b", seller) == before + 2_500 * DUSD

        await eventually(paid, 120, "the relayer paid the seller")
    _tx, paid_at = await settled_at(chains, "b", payment.lock_id)
    assert paid_at < t_b, f"paid at {paid_at}, the payment leg expired at {t_b}"


async def test_relayer_down_during_the_claim_then_restarted_still_settles(
    system: System, chains: Chains, traders: Traders, tmp_path: Path, trades_home: Path
) -> None:
    config = dvp_config(system, margin=30)
    store = tmp_path / "relayer.db"
    config_file = system.config_file(tmp_path / "relayer.toml", store)
    log = tmp_path / "relayer.log"
    seller = traders.seller.address
    before = await dusd(chains, "b", seller)
    async with Session(config, system.deployment) as session:
        offer, payment, _asset = await open_trade(session, traders, expires_in=60)
        with relayer_process(system, config_file, log) as proc:
            await eventually(lambda: _indexed(store, payment.lock_id), 120, "relayer indexed")
            proc.kill()  # kill -9
            proc.wait(10)
        await claim_asset(session, key=traders.buyer, record=TradeRecord(offer))
    assert await dusd(chains, "b", seller) == before  # nobody claimed the payment yet
    purpose = action_purpose("claim", payment.lock_id)
    with relayer_process(system, config_file, log) as proc:

        async def paid() -> bool:
            return await dusd(chains, "b", seller) == before + 2_500 * DUSD

        await eventually(paid, 120, "the restarted relayer paid the seller")
        await eventually(lambda: _claims_final(store, purpose), 120, "claim confirmed")
        proc.kill()
        proc.wait(10)
    with relayer_process(system, config_file, log):  # once more: nothing left to do
        await eventually(lambda: _started(log, 3), 120, "relayer restarted")
        await asyncio.sleep(2)  # a few watcher rounds
        assert await _lock_settled_in_store(store, payment.lock_id)
    assert _claims(store, purpose) == 1, "exactly one claim transaction"
    assert await dusd(chains, "b", seller) == before + 2_500 * DUSD


async def test_buyer_revoked_between_the_locks_both_get_their_assets_back(
    system: System, chains: Chains, traders: Traders, trades_home: Path
) -> None:
    config = dvp_config(system, margin=4)
    accounts = system.config.accounts
    registry = system.deployment.chain("a").address("IdentityRegistry")
    registry_abi = contracts.load("IdentityRegistry")
    seller, buyer = traders.seller.address, traders.buyer.address
    before = (await acme(chains, "a", seller), await dusd(chains, "b", buyer))
    async with Session(config, system.deployment) as session:
        offer, payment, _none = await open_trade(
            session, traders, expires_in=6, lock_asset_leg=False
        )
        agent = chains.wallet("a", accounts.issuer_agent)
        await agent.transact(registry, registry_abi.fn("revoke"), buyer)
        with pytest.raises(TradeRefused, match=rf"buyer {buyer} may not receive ACME on a: "):
            await lock_asset(session, seller=traders.seller, record=TradeRecord(offer))
        # forced past the tool, the contract refuses it as well
        htlc = system.deployment.chain("a").address("HashedTimelock")
        wallet = chains.wallet("a", traders.seller)
        token = system.token("a")
        await wallet.transact(token, contracts.load("SecurityToken").fn("approve"), htlc, ACME)
        assert offer.hashlock is not None and offer.asset_expiry is not None
        with pytest.raises(TransactionReverted, match="ReceiverRestricted"):
            await wallet.transact(
                htlc,
                contracts.load("HashedTimelock").fn("lock"),
                token,
                buyer,
                ACME,
                offer.hashlock,
                offer.asset_expiry,
            )
        with pytest.raises(TradeRefused, match="nothing to refund yet"):
            await refund_legs(session, key=traders.buyer, record=TradeRecord(offer))
        assert offer.payment_expiry is not None
        await until_chain_time(chains, "b", offer.payment_expiry)
        [done] = await refund_legs(session, key=traders.buyer, record=TradeRecord(offer))
        assert done.leg == "payment" and done.lock_id == payment.lock_id
    assert await dusd(chains, "b", buyer) == before[1]
    assert await acme(chains, "a", seller) == before[0]


async def test_wrong_preimage_is_refused_and_changes_nothing(
    system: System, chains: Chains, traders: Traders, tmp_path: Path, trades_home: Path
) -> None:
    config = dvp_config(system, margin=30)
    async with Session(config, system.deployment) as session:
        offer, _payment, asset = await open_trade(session, traders, expires_in=60)
        assert asset is not None and offer.hashlock is not None
        record = TradeRecord(offer)
        secret_file = secret_path(offer.trade)
        good = secret_file.read_text()
        secret_file.write_text("0x" + "11" * 32 + "\n")  # the tool checks before it sends
        with pytest.raises(SecretError, match="does not hash to the trade's hashlock"):
            await claim_asset(session, key=traders.buyer, record=record)
        htlc = system.deployment.chain("a").address("HashedTimelock")
        wallet = chains.wallet("a", traders.buyer)  # past the tool: the contract refuses it
        with pytest.raises(TransactionReverted, match=r"WrongPreimage\(lockId=0x"):
            await wallet.transact(
                htlc, contracts.load("HashedTimelock").fn("claim"), asset.lock_id, b"\x11" * 32
            )
        assert await lock_state(chains, "a", asset.lock_id) == "open"
        secret_file.write_text(good)
        before = await dusd(chains, "b", traders.seller.address)
        async with running_relayer(system, tmp_path / "r.db"):
            await claim_asset(session, key=traders.buyer, record=record)

            async def paid() -> bool:
                return await dusd(chains, "b", traders.seller.address) == before + 2_500 * DUSD

            await eventually(paid, 120, "the seller paid after the right preimage")


async def test_tools_refuse_unsafe_mismatched_or_ineligible_legs_in_one_line(
    system: System, chains: Chains, traders: Traders, tmp_path: Path, trades_home: Path
) -> None:
    margin = 20
    config = dvp_config(system, margin=margin)
    config_file = system.config_file(tmp_path / "c.toml", tmp_path / "unused.db")
    with config_file.open("a") as out:
        out.write(f"\n[dvp]\nmargin_seconds = {margin}\nmin_window_seconds = 2\n")
    selling = Desk(_home(system, trades_home), traders.seller, config_file)
    buying = Desk(trades_home, traders.buyer, config_file)
    stranger = "0x" + os.urandom(20).hex()  # no identity record
    _one_line(
        await selling.run(f"offer --buyer {stranger} --sell 1 --price 1"),
        "may not receive ACME on a: ",
    )
    async with Session(config, system.deployment) as session:
        offer, _p, _a = await open_trade(session, traders, expires_in=120, lock_asset_leg=False)
    assert offer.hashlock is not None and offer.asset_expiry is not None
    htlc_b = system.deployment.chain("b").address("HashedTimelock")
    timelock = contracts.load("HashedTimelock")
    buyer_b = chains.wallet("b", traders.buyer)
    dusd_b = system.deployment.payment_token["b"]
    await buyer_b.transact(dusd_b, contracts.load("PaymentToken").fn("approve"), htlc_b, 10**15)
    cases = [  # how the buyer's payment leg is forced past the tool; what the seller's tool says
        ({"expiry": offer.asset_expiry + 1}, "unsafe margin: the payment leg on b expires at"),
        ({"amount": 2_500 * DUSD - 1}, "holds 2,499.999999 dUSD, the offer says 2,500 dUSD"),
        ({"hashlock": b"\x07" * 32}, "no payment leg with hashlock"),
    ]
    for i, (forced, reason) in enumerate(cases):
        hashlock = hashlock_of(os.urandom(32))
        forged = offer.accept(hashlock, offer.asset_expiry, margin, dict(offer.search_from))
        lock = {"amount": 2_500 * DUSD, "expiry": offer.asset_expiry + margin, "hashlock": hashlock}
        lock.update(forced)
        await buyer_b.transact(
            htlc_b, timelock.fn("lock"), dusd_b, traders.seller.address,
            lock["amount"], lock["hashlock"], lock["expiry"],
        )  # fmt: skip
        doc = tmp_path / f"forced-{i}.json"
        doc.write_text(json.dumps(forged.to_json()))
        _one_line(await selling.run(f"lock {doc}"), reason)
    tampered = offer.to_json()
    tampered["asset"]["amount"] = str(20 * ACME)
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    _one_line(
        await selling.run(f"lock {tmp_path / 'tampered.json'}"),
        "the accepted offer changes the asset amount",
    )
    # the buyer's tool checks the seller's leg too: one ACME short is refused
    htlc_a = system.deployment.chain("a").address("HashedTimelock")
    seller_a = chains.wallet("a", traders.seller)
    token = system.token("a")
    await seller_a.transact(token, contracts.load("SecurityToken").fn("approve"), htlc_a, 9 * ACME)
    await seller_a.transact(
        htlc_a, timelock.fn("lock"), token, traders.buyer.address, 9 * ACME,
        offer.hashlock, offer.asset_expiry,
    )  # fmt: skip
    _one_line(
        await buying.run(f"claim {offer.trade}"),
        "holds 9 ACME, the offer says 10 ACME",
    )


async def test_an_unsafe_leg_forced_through_leaves_the_seller_unpaid(
    system: System, chains: Chains, traders: Traders, trades_home: Path
) -> None:
    """The contracts cannot know the other leg: a seller who bypasses the tool and locks
    past the payment's expiry lets the buyer refund the payment and still take the tokens."""
    config = dvp_config(system, margin=2)
    seller, buyer = traders.seller.address, traders.buyer.address
    before = (await acme(chains, "a", seller), await dusd(chains, "b", buyer))
    async with Session(config, system.deployment) as session:
        offer, payment, _none = await open_trade(
            session, traders, expires_in=3, lock_asset_leg=False
        )
        assert offer.hashlock is not None and offer.payment_expiry is not None
        t_a = offer.payment_expiry + 8  # after T_B: the tool refuses this...
        unsafe = replace(offer, asset_expiry=t_a)
        with pytest.raises(TradeRefused, match="unsafe margin"):
            await lock_asset(session, seller=traders.seller, record=TradeRecord(unsafe))
        htlc = system.deployment.chain("a").address("HashedTimelock")
        wallet = chains.wallet("a", traders.seller)  # ...and the contract accepts it
        token = system.token("a")
        await wallet.transact(token, contracts.load("SecurityToken").fn("approve"), htlc, 10 * ACME)
        await wallet.transact(
            htlc,
            contracts.load("HashedTimelock").fn("lock"),
            token,
            buyer,
            10 * ACME,
            offer.hashlock,
            t_a,
        )
        await until_chain_time(chains, "b", offer.payment_expiry)
        await refund_legs(session, key=traders.buyer, record=TradeRecord(offer), leg="payment")
        assert await chain_now(chains, "a") < t_a
        await claim_asset(session, key=traders.buyer, record=TradeRecord(unsafe))
        status = await trade_status(session, TradeRecord(offer))
    assert status.summary.startswith("seller unpaid")
    assert await lock_state(chains, "b", payment.lock_id) == "refunded"
    assert await dusd(chains, "b", buyer) == before[1]  # the buyer paid nothing
    assert await acme(chains, "a", buyer) == 10 * ACME  # and holds the tokens
    assert await acme(chains, "a", seller) == before[0] - 10 * ACME


# --- helpers ----------------------------------------------------------------------------------


def _home(system: System, path: Path) -> Path:
    """A trader's own STBRIDGE_HOME with (only) the deployment record."""
    (path / "deployments").mkdir(parents=True)
    for record in (system.home / "deployments").glob("*.json"):
        (path / "deployments" / record.name).write_text(record.read_text())
    return path


@dataclass
class Desk:
    """A trader at their own machine: ``stbridge dvp`` with their home, key and config."""

    home: Path
    key: PrivateKey
    config: Path

    async def run(self, command: str) -> subprocess.CompletedProcess[str]:
        """Run the command without holding up this test's event loop (a relayer runs in it)."""
        env = {
            **os.environ,
            "STBRIDGE_HOME": str(self.home),
            "COLUMNS": "200",
            "TRADER_KEY": "0x" + self.key.secret().hex(),
        }
        args = [*shlex.split(command), "-c", str(self.config)]
        if args[0] not in ("status", "list"):
            args += ["--key-env", "TRADER_KEY"]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "relayer", "dvp", *args, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode is not None
        return subprocess.CompletedProcess(args, proc.returncode, out.decode(), err.decode())


def _one_line(result: subprocess.CompletedProcess[str], reason: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert reason in lines[0], lines[0]


def _trade_id(path: Path) -> str:
    return str(json.loads(path.read_text())["trade"])


async def _started(log: Path, times: int) -> bool:
    return log.read_text(errors="replace").count('"relayer running"') >= times


async def _indexed(store: Path, lock_id: bytes) -> bool:
    rows = _query(store, "SELECT count(*) FROM htlc_locks WHERE lock_id = ?", (lock_id,))
    return bool(rows and rows[0][0])


async def _lock_settled_in_store(store: Path, lock_id: bytes) -> bool:
    rows = _query(store, "SELECT state FROM htlc_locks WHERE lock_id = ?", (lock_id,))
    return bool(rows) and rows[0][0] == "claimed"


async def _claims_final(store: Path, purpose: str) -> bool:
    rows = _query(
        store, "SELECT count(*) FROM txs WHERE purpose = ? AND status = 'pending'", (purpose,)
    )
    return bool(rows) and rows[0][0] == 0 and _claims(store, purpose) >= 1


def _claims(store: Path, purpose: str) -> int:
    """Claim transactions the relayer stored for a lock (a fee bump is the same claim)."""
    rows = _query(store, "SELECT count(DISTINCT nonce) FROM txs WHERE purpose = ?", (purpose,))
    return int(rows[0][0]) if rows else 0


def _query(store: Path, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
    if not store.exists():
        return []
    db = sqlite3.connect(store, timeout=10)
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # the relayer has not created its tables yet
        return []
    finally:
        db.close()
