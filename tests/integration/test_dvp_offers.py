"""Tampered and broken offers on two real chains: every field the chains can tell is
checked against them before anything is locked or claimed, and `dvp status` shows what
the timelocks hold, not what the offer says."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from relayer.chain import contracts
from relayer.deployment.session import Session
from relayer.dvp.actions import make_offer
from tests.integration.dvp_support import (
    ACME,
    DUSD,
    Traders,
    dusd,
    dvp_config,
    fresh_traders,
    lock_state,
    open_trade,
)
from tests.integration.system import Chains, System
from tests.integration.test_dvp import Desk, _home

pytestmark = pytest.mark.integration


@pytest.fixture
def trades_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
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


async def _footprint(chains: Chains, who: str) -> dict[str, int]:
    """Nonce and dUSD balance on both chains: what any lock or approval would change."""
    seen = {}
    for chain in ("a", "b"):
        seen[f"nonce {chain}"] = await chains.rpcs[chain].nonce(who, "latest")
        seen[f"dUSD {chain}"] = await dusd(chains, chain, who)
    return seen


def _refused(result: Any, says: str, code: int = 2) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert says in lines[0], lines[0]


async def test_a_tampered_offer_is_refused_before_the_buyer_locks_anything(
    system: System, chains: Chains, traders: Traders, tmp_path: Path, trades_home: Path
) -> None:
    config = dvp_config(system, margin=20)
    config_file = system.config_file(tmp_path / "c.toml", tmp_path / "unused.db")
    buying = Desk(_home(system, tmp_path / "buyer"), traders.buyer, config_file)
    async with Session(config, system.deployment) as session:
        offer = await make_offer(
            session, seller=traders.seller, buyer=traders.buyer.address, token="ACME",
            amount=5 * ACME, asset_chain="a", price=10 * DUSD, payment_chain="b",
        )  # fmt: skip
    a_id = system.config.chain("a").chain_id
    dusd_a = system.deployment.payment_token["a"]
    acme_b = system.token("b")
    cases: list[tuple[str, dict[str, dict[str, Any]], str]] = [
        ("decimals", {"asset": {"decimals": 6}},
         "asset.decimals: the offer says 6, the token ACME on a says 18"),
        ("symbol", {"payment": {"symbol": "USDC"}},
         f"payment.symbol: the offer says 'USDC', the token {offer.payment.token} on b says "
         "'dUSD'"),
        ("payment chain", {"payment": {"chain": "a", "chain_id": a_id, "token": dusd_a}},
         "payment.chain: the offer puts the payment on a, the chain of the asset"),
        ("chain id", {"payment": {"chain_id": a_id}},
         f"payment.chain_id: the offer says {a_id}, chain b is "
         f"{system.config.chain('b').chain_id}"),
        ("token", {"payment": {"token": acme_b}},
         f"payment.token: the offer says {acme_b}, the deployment's payment token on b is "
         f"{offer.payment.token}"),
        ("unknown chain", {"payment": {"chain": "c"}},
         "payment.chain: the offer says 'c', the config has chains a, b"),
    ]  # fmt: skip
    before = await _footprint(chains, traders.buyer.address)
    for name, change, says in cases:
        raw = offer.to_json()
        for leg, fields in change.items():
            raw[leg].update(fields)
        doc = tmp_path / f"tampered-{name.replace(' ', '-')}.json"
        doc.write_text(json.dumps(raw))
        result = await buying.run(f"accept {doc} --expires-in 60")
        _refused(result, says)
        assert "nothing was sent" in result.stderr
        assert await _footprint(chains, traders.buyer.address) == before, name
    assert not list(buying.home.glob("dvp/*.secret"))  # no secret made for a refused offer

    binary = tmp_path / "offer.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    result = await buying.run(f"accept {binary}")
    _refused(result, f"{binary} is not an offer: not UTF-8 text")
    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps(offer.to_json())[:200])
    _refused(await buying.run(f"accept {truncated}"), f"{truncated} is not JSON")
    shape = tmp_path / "shape.json"
    shape.write_text(json.dumps({**offer.to_json(), "asset": ["ACME", 5]}))
    _refused(await buying.run(f"status {shape}"), f"{shape}: asset: expected an object")
    assert await _footprint(chains, traders.buyer.address) == before


async def test_a_seller_without_the_record_refuses_an_accepted_offer_with_wrong_decimals(
    system: System, chains: Chains, traders: Traders, tmp_path: Path, trades_home: Path
) -> None:
    """The seller locks from another machine than the one that made the offer."""
    config = dvp_config(system, margin=20)
    config_file = system.config_file(tmp_path / "c.toml", tmp_path / "unused.db")
    with config_file.open("a") as out:
        out.write("\n[dvp]\nmargin_seconds = 20\nmin_window_seconds = 2\n")
    selling = Desk(_home(system, tmp_path / "seller-laptop"), traders.seller, config_file)
    async with Session(config, system.deployment) as session:
        offer, _payment, _none = await open_trade(
            session, traders, expires_in=120, lock_asset_leg=False
        )
    raw = offer.to_json()
    raw["asset"]["decimals"] = 6
    doc = tmp_path / "accepted.json"
    doc.write_text(json.dumps(raw))
    before = await _footprint(chains, traders.seller.address)
    acme_before = await chains.balance("a", traders.seller.address)
    _refused(await selling.run(f"lock {doc}"), "asset.decimals: the offer says 6")
    assert await _footprint(chains, traders.seller.address) == before
    assert await chains.balance("a", traders.seller.address) == acme_before


async def test_a_look_alike_token_locked_for_the_buyer_is_never_claimed(
    system: System, chains: Chains, traders: Traders, tmp_path: Path, trades_home: Path
) -> None:
    """A seller locks a token of their own called ACME and hands the buyer an offer naming
    it: claiming would reveal the secret and pay the seller for nothing."""
    config = dvp_config(system, margin=20)
    config_file = system.config_file(tmp_path / "c.toml", tmp_path / "unused.db")
    buying = Desk(_home(system, trades_home), traders.buyer, config_file)
    async with Session(config, system.deployment) as session:
        offer, _payment, _none = await open_trade(
            session, traders, expires_in=120, lock_asset_leg=False
        )
    assert offer.hashlock is not None and offer.asset_expiry is not None
    seller_a = chains.wallet("a", traders.seller)
    erc20 = contracts.load("PaymentToken")
    [receipt] = await seller_a.wait(
        [await seller_a.deploy(erc20, "Acme Growth Fund", "ACME", 18, traders.seller.address)]
    )
    fake = str(receipt["contractAddress"])
    await seller_a.transact(fake, erc20.fn("mint"), traders.seller.address, 10 * ACME)
    htlc_a = system.deployment.chain("a").address("HashedTimelock")
    await seller_a.transact(fake, erc20.fn("approve"), htlc_a, 10 * ACME)
    timelock = contracts.load("HashedTimelock")
    locked = await seller_a.transact(
        htlc_a, timelock.fn("lock"), fake, traders.buyer.address, 10 * ACME,
        offer.hashlock, offer.asset_expiry,
    )  # fmt: skip
    [(_event, values, _log)] = [
        d for d in contracts.decode_logs(timelock, locked["logs"]) if d[0].name == "Locked"
    ]
    raw = offer.to_json()
    raw["asset"]["token"] = fake
    doc = tmp_path / "look-alike.json"
    doc.write_text(json.dumps(raw))
    result = await buying.run(f"claim {doc}")
    assert result.returncode != 0, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert await lock_state(chains, "a", bytes(values["lockId"])) == "open"  # secret kept


async def test_status_shows_what_a_lock_holds_not_what_the_offer_says(
    system: System, chains: Chains, traders: Traders, tmp_path: Path, trades_home: Path
) -> None:
    config = dvp_config(system, margin=20)
    config_file = system.config_file(tmp_path / "c.toml", tmp_path / "unused.db")
    buying = Desk(_home(system, trades_home), traders.buyer, config_file)
    async with Session(config, system.deployment) as session:
        offer, _payment, _none = await open_trade(
            session, traders, amount=5 * ACME, expires_in=120, lock_asset_leg=False
        )
    assert offer.hashlock is not None and offer.asset_expiry is not None
    htlc_a = system.deployment.chain("a").address("HashedTimelock")
    seller_a = chains.wallet("a", traders.seller)
    token = system.token("a")
    await seller_a.transact(token, contracts.load("SecurityToken").fn("approve"), htlc_a, 4 * ACME)
    await seller_a.transact(
        htlc_a, contracts.load("HashedTimelock").fn("lock"), token, traders.buyer.address,
        4 * ACME, offer.hashlock, offer.asset_expiry,
    )  # fmt: skip
    shown = await buying.run(f"status {offer.trade}")
    assert shown.returncode == 1, (shown.stdout, shown.stderr)
    assert "both legs locked" not in shown.stdout, shown.stdout
    assert "payment locked: waiting for the seller" in shown.stdout, shown.stdout
    assert f"holds 4 ACME (token {token}) for {traders.buyer.address}" in shown.stdout
    assert "MISMATCH" in shown.stdout
    assert "on a holds 4 ACME, the offer says 5 ACME" in shown.stderr, shown.stderr
    assert "holds 2,500 dUSD" in shown.stdout, shown.stdout  # the payment leg, as locked
