"""The escrow invariant from events: every stage of a transfer's life, both directions."""

from __future__ import annotations

from relayer.deployment.record import TokenDeployment
from relayer.issuer.ledger import Bounce, ChainHistory, Cut, History, Sent, lane_balance

TOKEN = "0x" + "11" * 20
OTHER = "0x" + "22" * 20
ALICE = "0x" + "aa" * 20
A, B = 65001, 65002


def _id(n: int) -> bytes:
    return n.to_bytes(32, "big")


def history() -> History:
    cut = Cut({"a": 10, "b": 10}, {"a": 0, "b": 0}, "test")
    return History(cut, {"a": ChainHistory("a", A), "b": ChainHistory("b", B)}, "a")


def token() -> TokenDeployment:
    return TokenDeployment("ACME", "Acme", 18, "a", {"a": TOKEN, "b": "0x" + "33" * 20})


def out(h: History, n: int, amount: int, to: int = B, tok: str = TOKEN) -> None:
    h.chains["a"].sent.append(Sent(_id(n), tok, to, ALICE, ALICE, amount))


def back(h: History, n: int, amount: int) -> None:
    h.chains["b"].sent.append(Sent(_id(n), TOKEN, A, ALICE, ALICE, amount))


def processed(h: History, chain: str, n: int, origin: int) -> None:
    h.chains[chain].processed[_id(n)] = origin


def test_a_transfer_out_is_in_flight_until_minted() -> None:
    h = history()
    out(h, 1, 100)
    lane = lane_balance(h, token(), "b", remote_supply=0)
    assert (lane.locked, lane.in_flight, lane.in_flight_messages, lane.ok) == (100, 100, 1, True)
    processed(h, "b", 1, A)
    assert lane_balance(h, token(), "b", remote_supply=100).ok
    assert not lane_balance(h, token(), "b", remote_supply=0).ok  # processed, nothing minted


def test_a_bounce_stays_in_flight_until_its_return_is_released() -> None:
    h = history()
    out(h, 1, 100)
    processed(h, "b", 1, A)
    h.chains["b"].bounced.append(Bounce(_id(1), _id(2), A, ALICE, 100))
    lane = lane_balance(h, token(), "b", remote_supply=0)
    assert (lane.locked, lane.in_flight, lane.ok) == (100, 100, True)
    processed(h, "a", 2, B)
    h.chains["a"].returned.append((_id(1), TOKEN, 100))
    lane = lane_balance(h, token(), "b", remote_supply=0)
    assert (lane.locked, lane.in_flight, lane.ok) == (0, 0, True)


def test_a_transfer_home_is_in_flight_from_burn_to_unlock() -> None:
    h = history()
    out(h, 1, 100)
    processed(h, "b", 1, A)
    back(h, 3, 40)  # burned on b
    lane = lane_balance(h, token(), "b", remote_supply=60)
    assert (lane.locked, lane.in_flight, lane.ok) == (100, 40, True)
    processed(h, "a", 3, B)
    h.chains["a"].received.append((_id(3), TOKEN, B, 40))
    lane = lane_balance(h, token(), "b", remote_supply=60)
    assert (lane.locked, lane.in_flight, lane.ok) == (60, 0, True)


def test_a_transfer_home_that_bounces_is_restored_on_the_remote_chain() -> None:
    h = history()
    out(h, 1, 100)
    processed(h, "b", 1, A)
    back(h, 3, 40)
    processed(h, "a", 3, B)
    h.chains["a"].bounced.append(Bounce(_id(3), _id(4), B, ALICE, 40))
    lane = lane_balance(h, token(), "b", remote_supply=60)
    assert (lane.locked, lane.in_flight, lane.ok) == (100, 40, True)
    processed(h, "b", 4, A)  # the Return re-mints on b
    lane = lane_balance(h, token(), "b", remote_supply=100)
    assert (lane.locked, lane.in_flight, lane.ok) == (100, 0, True)


def test_other_tokens_and_other_lanes_do_not_count() -> None:
    h = history()
    out(h, 1, 100, tok=OTHER)
    out(h, 2, 50, to=65003)
    lane = lane_balance(h, token(), "b", remote_supply=0)
    assert (lane.locked, lane.in_flight, lane.ok) == (0, 0, True)


def test_unbacked_remote_supply_is_a_difference() -> None:
    h = history()
    out(h, 1, 100)
    processed(h, "b", 1, A)
    lane = lane_balance(h, token(), "b", remote_supply=105)
    assert lane.difference == -5 and not lane.ok
