"""The DvP offer document, the margin, and the checks the trader tools refuse a leg for."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

import pytest

from relayer.dvp.protocol import (
    Leg,
    LegRefused,
    LockView,
    Offer,
    OfferError,
    check_asset_leg,
    check_expiry_ahead,
    check_payment_leg,
    default_margin,
    default_min_window,
    hashlock_of,
    margin_for,
    pick_lock,
)
from relayer.dvp.status import summarize

SELLER = "0xBcd4042DE499D14e55001CcbB24a551F3b954096"
BUYER = "0x71bE63f3384f5fb98995898A86B02Fb2426c5788"
ACME = "0x5FC8d32690cc91D4c39d9d3abcBD16989F875707"
DUSD = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
SECRET = bytes(range(32))
HASHLOCK = hashlib.sha256(SECRET).digest()


@dataclass(frozen=True)
class Chain:
    block_time: float
    confirmations: int


def offer(**changes: Any) -> Offer:
    base = Offer(
        trade="0123456789abcdef",
        network="devnet",
        seller=SELLER,
        buyer=BUYER,
        asset=Leg("a", 65001, ACME, "ACME", 18, 10 * 10**18),
        payment=Leg("b", 65002, DUSD, "dUSD", 6, 2_500 * 10**6),
        margin_seconds=42,
    )
    return replace(base, **changes)


def accepted(t_a: int = 1_000, margin: int = 42) -> Offer:
    return offer().accept(HASHLOCK, t_a, margin, {"a": 10, "b": 20})


def payment_lock(**changes: Any) -> LockView:
    base = LockView(
        lock_id=b"\x01" * 32, token=DUSD, sender=BUYER, receiver=SELLER, amount=2_500 * 10**6,
        hashlock=HASHLOCK, expiry=1_042, state="open",
    )  # fmt: skip
    return replace(base, **changes)


def asset_lock(**changes: Any) -> LockView:
    base = LockView(
        lock_id=b"\x02" * 32, token=ACME, sender=SELLER, receiver=BUYER, amount=10 * 10**18,
        hashlock=HASHLOCK, expiry=1_000, state="open",
    )  # fmt: skip
    return replace(base, **changes)


def test_default_margin_is_finality_inclusion_and_a_restart() -> None:
    devnet = Chain(1.0, 1)
    assert default_margin(devnet, devnet) == 1 + 1 + 10 + 30
    mainnet, l2 = Chain(12.0, 12), Chain(2.0, 5)
    assert default_margin(l2, mainnet) == 10 + 144 + 120 + 30
    assert default_min_window(devnet, devnet) == 10
    assert margin_for(7, devnet, devnet) == 7
    assert margin_for(None, devnet, devnet) == 42


def test_hashlock_is_sha256_of_32_bytes() -> None:
    assert hashlock_of(SECRET) == hashlib.sha256(SECRET).digest()
    with pytest.raises(OfferError, match="32 bytes"):
        hashlock_of(b"short")


def test_offer_round_trips_through_json() -> None:
    for doc in (offer(), replace(accepted(), payment_lock=b"\x09" * 32)):
        text = json.dumps(doc.to_json())
        assert Offer.from_json(json.loads(text)) == doc
    assert accepted().payment_expiry == 1_042
    assert accepted().search_block("b") == 20


def test_accepting_never_lowers_the_offered_margin() -> None:
    taken = offer(margin_seconds=60).accept(HASHLOCK, 1_000, 10, {})
    assert taken.margin_seconds == 60 and taken.payment_expiry == 1_060


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stbridge_dvp": 2}, "not a stbridge DvP offer"),
        ({"trade": "../../etc"}, "not a trade id"),
        ({"seller": "0x1234"}, "seller: '0x1234' is not an address"),
        ({"buyer": SELLER}, "same address"),
        ({"margin_seconds": "42"}, "margin_seconds: expected an integer"),
        ({"margin_seconds": 0}, "margin_seconds: must be positive"),
        ({"hashlock": "0xabc"}, "hashlock: '0xabc' is not 0x followed by 64 hex digits"),
        ({"hashlock": "0x" + "11" * 32}, "a hashlock and both expiries"),
        ({"asset": {"chain": "a"}}, "asset.chain_id: required"),
    ],
)
def test_bad_offers_name_the_field(change: dict[str, Any], message: str) -> None:
    raw = {**offer().to_json(), **change}
    with pytest.raises(OfferError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Offer.from_json(raw)


def test_bad_amounts_are_refused() -> None:
    raw = offer().to_json()
    raw["payment"]["amount"] = "0"
    with pytest.raises(OfferError, match=r"payment\.amount: must be positive"):
        Offer.from_json(raw)
    raw["payment"]["amount"] = "lots"
    with pytest.raises(OfferError, match=r"payment\.amount: expected base units as digits"):
        Offer.from_json(raw)
    raw["payment"]["amount"] = str(2**256)
    with pytest.raises(OfferError, match=r"payment\.amount: .* does not fit a token amount"):
        Offer.from_json(raw)
    for wrong in (2.5e9, "1e9", True, "-5", [1]):
        raw["payment"]["amount"] = wrong
        with pytest.raises(OfferError, match=r"payment\.amount: expected base units"):
            Offer.from_json(raw)


@pytest.mark.parametrize(
    ("leg", "change", "message"),
    [
        ("asset", {"decimals": "18"}, "asset.decimals: expected an integer"),
        ("asset", {"decimals": 18.0}, "asset.decimals: expected an integer"),
        ("asset", {"decimals": 300}, "asset.decimals: 300 is not a token's decimals"),
        ("payment", {"chain_id": True}, "payment.chain_id: expected an integer"),
        ("payment", {"chain_id": 0}, "payment.chain_id: must be positive"),
        ("payment", {"symbol": {"x": 1}}, "payment.symbol: expected a short string"),
        ("payment", {"chain": ""}, "payment.chain: expected a short string"),
        ("asset", {"token": 5}, "asset.token: 5 is not an address"),
    ],
)
def test_every_leg_field_has_its_type(leg: str, change: dict[str, Any], message: str) -> None:
    raw = offer().to_json()
    raw[leg].update(change)
    with pytest.raises(OfferError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Offer.from_json(raw)


def test_an_accepted_offer_keeps_its_margin_between_the_expiries() -> None:
    raw = accepted(t_a=1_000, margin=42).to_json()
    assert Offer.from_json(raw).payment_expiry == 1_042
    raw["payment_expiry"] = 1_010
    with pytest.raises(OfferError, match="payment_expiry: 1010 is 10 s after asset_expiry 1000, "
                       "under the offer's margin of 42 s"):  # fmt: skip
        Offer.from_json(raw)
    raw["asset_expiry"], raw["payment_expiry"] = 2**64, 2**64 + 42
    with pytest.raises(OfferError, match=r"asset_expiry: .* is not a unix time a lock can hold"):
        Offer.from_json(raw)


def test_the_version_is_the_number_one_not_true() -> None:
    with pytest.raises(OfferError, match="not a stbridge DvP offer"):
        Offer.from_json({**offer().to_json(), "stbridge_dvp": True})


def test_every_address_goes_through_the_given_parser() -> None:
    seen: list[str] = []

    def parse(text: str, what: str) -> str:
        seen.append(what)
        return text

    Offer.from_json(offer().to_json(), parse)
    assert sorted(seen) == ["asset.token", "buyer", "payment.token", "seller"]


def test_a_payment_leg_that_matches_passes() -> None:
    check_payment_leg(accepted(), payment_lock(), margin=42)


@pytest.mark.parametrize(
    ("lock", "reason"),
    [
        ({"expiry": 1_041}, "unsafe margin: the payment leg on b expires at 1041, only 41 s"),
        ({"expiry": 999}, "only -1 s after"),
        ({"amount": 2_500 * 10**6 - 1}, "holds 2,499.999999 dUSD, the offer says 2,500 dUSD"),
        ({"receiver": BUYER}, f"pays {BUYER}, not {SELLER}"),
        ({"token": ACME}, f"locks token {ACME}, not dUSD"),
        ({"hashlock": b"\x00" * 32}, "has hashlock 0x0000"),
        ({"state": "claimed"}, "is claimed, not open"),
        ({"state": "refunded"}, "is refunded, not open"),
    ],
)
def test_the_seller_refuses_a_payment_leg(lock: dict[str, Any], reason: str) -> None:
    with pytest.raises(LegRefused) as refused:
        check_payment_leg(accepted(), payment_lock(**lock), margin=42)
    assert reason in str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_seller_measures_the_margin_on_each_chains_clock() -> None:
    """T_A 1000, T_B 1042, margin 42: enough when both chains read 900; when the payment
    chain's clock runs 10 s ahead, the seller would have 10 s less to claim: refused."""
    check_payment_leg(accepted(), payment_lock(), margin=42, clocks=(900, 900))
    check_payment_leg(accepted(), payment_lock(), margin=42, clocks=(900, 890))  # behind: ok
    # one block apart reading the latest blocks (1 s blocks) is the clocks in step
    check_payment_leg(accepted(), payment_lock(), margin=42, clocks=(900, 901), slack=1)
    with pytest.raises(LegRefused) as refused:
        check_payment_leg(accepted(), payment_lock(), margin=42, clocks=(900, 910), slack=1)
    text = str(refused.value)
    assert "unsafe margin by the chains' clocks: the payment leg has 132 s left on b's" in text
    assert "the asset leg would have 100 s on a's (+10 s between the clocks)" in text


def test_the_seller_uses_their_own_margin_not_the_documents() -> None:
    doc = accepted(margin=5)  # the buyer claims 5 s is enough; the seller wants 42
    with pytest.raises(LegRefused, match="the margin is 42 s"):
        check_payment_leg(doc, payment_lock(expiry=1_005), margin=42)


@pytest.mark.parametrize(
    ("lock", "reason"),
    [
        ({"amount": 9 * 10**18}, "holds 9 ACME, the offer says 10 ACME"),
        ({"receiver": SELLER}, f"pays {SELLER}, not {BUYER}"),
        ({"token": DUSD}, "locks token"),
        ({"state": "refunded"}, "is refunded, not open"),
    ],
)
def test_the_buyer_refuses_an_asset_leg(lock: dict[str, Any], reason: str) -> None:
    check_asset_leg(accepted(), asset_lock())
    with pytest.raises(LegRefused, match=reason):
        check_asset_leg(accepted(), asset_lock(**lock))


def test_an_expiry_too_close_to_now_is_refused() -> None:
    check_expiry_ahead(1_010, now=1_000, window=10, what="the asset leg")
    with pytest.raises(LegRefused, match=r"expire at 1009 \(in 9 s\); an expiry must be at least"):
        check_expiry_ahead(1_009, now=1_000, window=10, what="the asset leg")
    with pytest.raises(LegRefused, match=r"\(5 s ago\)"):
        check_expiry_ahead(995, now=1_000, window=0, what="the asset leg")


def test_pick_lock_takes_the_first_good_one_or_says_why_none_is() -> None:
    good, bad = payment_lock(lock_id=b"\x05" * 32), payment_lock(amount=1)
    check = lambda lk: check_payment_leg(accepted(), lk, margin=42)  # noqa: E731
    kw: dict[str, Any] = {"what": "payment", "chain": "b", "hashlock": HASHLOCK}
    assert pick_lock([bad, good], check, **kw) == good
    with pytest.raises(LegRefused, match=r"holds 0\.000001 dUSD"):
        pick_lock([bad], check, **kw)
    with pytest.raises(LegRefused, match="no payment leg with hashlock 0x"):
        pick_lock([], check, **kw)


@pytest.mark.parametrize(
    ("asset", "payment", "summary"),
    [
        (set(), set(), "accepted: the payment is not locked yet"),
        (set(), {"open"}, "payment locked: waiting for the seller"),
        ({"open"}, {"open"}, "both legs locked"),
        ({"claimed"}, {"open"}, "asset claimed: the payment is being claimed"),
        ({"claimed"}, {"claimed"}, "settled"),
        ({"refunded"}, {"refunded"}, "refunded"),
        (set(), {"refunded"}, "refunded"),
        ({"claimed"}, {"refunded"}, "seller unpaid"),
        ({"refunded"}, {"open"}, "asset refunded"),
    ],
)
def test_a_trade_is_summarized_from_its_legs(
    asset: set[str], payment: set[str], summary: str
) -> None:
    assert summarize(accepted(), asset, payment).startswith(summary)
    assert summarize(offer(), asset, payment).startswith("offered")


def test_the_dvp_section_of_the_config() -> None:
    from relayer.config import parse_config
    from relayer.errors import ConfigError
    from tests.helpers import devnet_raw

    config = parse_config({**devnet_raw(), "dvp": {"margin_seconds": 90}})
    a, b = config.chains
    assert margin_for(config.dvp.margin_seconds, a, b) == 90
    assert margin_for(parse_config(devnet_raw()).dvp.margin_seconds, a, b) == 42
    for bad, reason in (({"margin_seconds": 0}, "dvp.margin_seconds:"),
                        ({"margin": 5}, "dvp.margin: unknown key")):  # fmt: skip
        with pytest.raises(ConfigError, match=reason):
            parse_config({**devnet_raw(), "dvp": bad})


def test_a_lock_that_differs_from_the_offer_is_a_mismatch_and_not_counted() -> None:
    from relayer.dvp.status import (
        LegState,
        TradeStatus,
        lock_differences,
        trade_status_json,
    )
    from relayer.dvp.verify import TokenFacts

    taken = accepted()
    state = LegState("asset", taken.asset, BUYER, taken.asset_expiry)
    state.tokens[ACME.lower()] = TokenFacts(ACME, "ACME", 18)
    short = asset_lock(lock_id=b"\x03" * 32, amount=4 * 10**18, expiry=999)
    state.locks = [short, asset_lock()]
    assert lock_differences(state, asset_lock()) == []
    state.differences[short.lock_id] = lock_differences(state, short)
    assert state.differences[short.lock_id] == [
        "holds 4 ACME, the offer says 10 ACME",
        "expires at 999, the offer says 1000",
    ]
    assert state.matching == [asset_lock()]
    payment = LegState("payment", taken.payment, SELLER, taken.payment_expiry)
    found = TradeStatus(taken, state, payment, {})
    assert found.mismatches == [
        f"the asset leg's lock 0x{'03' * 8}… on a holds 4 ACME, the offer says 10 ACME",
        f"the asset leg's lock 0x{'03' * 8}… on a expires at 999, the offer says 1000",
    ]
    shown = trade_status_json(found)
    assert [lk["matches_offer"] for lk in shown["asset"]["locks"]] == [False, True]
    assert shown["asset"]["locks"][0]["amount"] == str(4 * 10**18)
