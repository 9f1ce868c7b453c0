"""Entitlements add up to the declared amount to the unit; the distribution tree matches the
Solidity side (tests/vectors/distribution.json, checked by OpenZeppelin's MerkleProof)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relayer.distribution.entitlements import Position, allocate, withholding
from relayer.distribution.merkle import Tree, leaf_hash, verify

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
DUST = "0x000000000000000000000000000000000000d057"


def h(text: str) -> bytes:
    return bytes.fromhex(text[2:])


@pytest.mark.parametrize(
    "tree", json.loads((VECTORS / "distribution.json").read_text()), ids=lambda t: t["root"][:10]
)
def test_tree_matches_solidity(tree: dict) -> None:
    leaves = []
    for row in tree["leaves"]:
        leaf = leaf_hash(
            int(row["domain"]),
            int(row["id"]),
            row["holder"],
            int(row["gross"]),
            int(row["withheld"]),
        )
        assert leaf == h(row["leaf"])
        leaves.append(leaf)
    built = Tree.build(leaves)
    assert built.root == h(tree["root"])
    for i, proof in enumerate(tree["proofs"]):
        assert built.proof(i) == [h(x) for x in proof["proof"]]
        assert verify(built.proof(i), built.root, leaves[i])
    if len(leaves) > 1:
        assert not verify(built.proof(0), built.root, leaves[1])


positions = st.lists(
    st.builds(
        Position,
        chain=st.sampled_from(["home", "l2a", "l2b"]),
        wallet=st.sampled_from([f"0x{i:040x}" for i in range(1, 12)] + [DUST]),
        balance=st.integers(0, 10**27),
        country=st.sampled_from([0, 276, 840, 250]),
    ),
    min_size=1,
    max_size=40,
).filter(lambda ps: sum(p.balance for p in ps) > 0)


@settings(max_examples=300, deadline=None)
@given(positions, st.integers(1, 10**30))
def test_sum_plus_dust_is_the_amount(ps: list[Position], amount: int) -> None:
    rates = {276: Fraction(26375, 100000), 840: Fraction(30, 100)}
    a = allocate(ps, amount, home="home", dust_account=DUST, rates=rates)
    assert sum(e.gross for e in a.entitlements) == amount
    total = sum(p.balance for p in ps)
    owed = sum(amount * b // total for b in _merged_balances(ps))
    assert owed + a.dust == amount
    assert 0 <= a.dust < len(a.entitlements) + 1
    assert sum(a.total(c) for c in {e.chain for e in a.entitlements}) == amount
    keys = [(e.chain, e.wallet.lower()) for e in a.entitlements]
    assert len(keys) == len(set(keys)), "one leaf per holder and chain"
    for e in a.entitlements:
        assert 0 <= e.withheld <= e.gross and e.net + e.withheld == e.gross


@settings(max_examples=100, deadline=None)
@given(positions, st.integers(1, 10**9), st.integers(1, 10**6))
def test_per_unit(ps: list[Position], per_unit: int, extra: int) -> None:
    need = sum(p.balance * per_unit // 10**18 for p in _merged(ps))
    a = allocate(ps, need + extra, home="home", dust_account=DUST, per_unit=per_unit, decimals=18)
    assert sum(e.gross for e in a.entitlements) == need + extra
    if need > 1:
        with pytest.raises(ValueError, match="short"):
            allocate(ps, need - 1, home="home", dust_account=DUST, per_unit=per_unit, decimals=18)


def _merged_balances(ps: list[Position]) -> list[int]:
    return [p.balance for p in _merged(ps)]


def _merged(ps: list[Position]) -> list[Position]:
    out: dict[tuple[str, str], int] = {}
    for p in ps:
        out[(p.chain, p.wallet)] = out.get((p.chain, p.wallet), 0) + p.balance
    return [Position(c, w, b) for (c, w), b in out.items()]


def test_rounding_rule_example() -> None:
    ps = [Position("home", "0x" + "01" * 20, 1), Position("l2a", "0x" + "02" * 20, 1),
          Position("l2b", "0x" + "03" * 20, 1)]  # fmt: skip
    a = allocate(ps, 100, home="home", dust_account=DUST)
    assert [e.gross for e in a.entitlements] == [33, 33, 33, 1]
    assert a.entitlements[-1].wallet == DUST and a.entitlements[-1].chain == "home"
    assert withholding(33, Fraction(26375, 100000)) == 8  # floor(8.703...)


def test_the_relayer_carries_roots_out_and_tallies_home_only() -> None:
    from relayer.config import parse_config
    from relayer.daemon.policy import deployment_routes, word
    from relayer.deployment.record import ChainDeployment, Deployment
    from tests.helpers import devnet_raw

    manager, votes = "0x" + "a3" * 20, "0x" + "a4" * 20
    distributor, ballot = "0x" + "b3" * 20, "0x" + "b4" * 20
    deployment = Deployment(
        network="devnet",
        home="a",
        chains={
            "a": ChainDeployment("a", 65001, 0, {"DistributionManager": manager,
                                                 "VoteManager": votes}),
            "b": ChainDeployment("b", 65002, 0, {"Distributor": distributor, "Ballot": ballot}),
        },
    )  # fmt: skip
    routes = deployment_routes(parse_config(devnet_raw()), deployment)
    assert routes == {
        (65001, 65002, word(manager), word(distributor)),
        (65001, 65002, word(votes), word(ballot)),
        (65002, 65001, word(ballot), word(votes)),
    }


def test_in_flight_counts_for_the_recipient_there_or_the_sender_on_return() -> None:
    from relayer.distribution.snapshot import in_flight
    from relayer.issuer.ledger import Bounce, ChainHistory, Cut, History, Sent

    token = "0x" + "70" * 20
    alice, bob, carol = ("0x" + c * 40 for c in ("a", "b", "c"))
    a, b, c = ChainHistory("a", 1), ChainHistory("b", 2), ChainHistory("c", 3)
    flying = Sent(b"\x01" * 32, token, 2, alice, bob, 5)  # a -> b, not delivered
    landed = Sent(b"\x02" * 32, token, 3, alice, carol, 7)  # a -> c, delivered
    bounced = Sent(b"\x03" * 32, token, 2, alice, carol, 11)  # a -> b, bounced, Return flying
    settled = Sent(b"\x04" * 32, token, 3, bob, carol, 13)  # b -> c, bounced, Return delivered
    other = Sent(b"\x05" * 32, "0x" + "99" * 20, 2, alice, bob, 17)  # another token
    a.sent += [flying, landed, bounced, other]
    b.sent.append(settled)
    c.processed[landed.id] = 1
    b.processed[bounced.id] = 1
    b.bounced.append(Bounce(bounced.id, b"\x13" * 32, 1, alice, 11))
    c.processed[settled.id] = 2
    c.bounced.append(Bounce(settled.id, b"\x14" * 32, 2, bob, 13))
    b.processed[b"\x14" * 32] = 3
    history = History(Cut({}, {}, "test"), {"a": a, "b": b, "c": c}, "a")
    got = sorted(
        (chain, wallet.lower(), amount) for chain, wallet, amount in in_flight(history, token)
    )
    assert got == sorted([("a", alice, 11), ("b", bob, 5)])
    assert ("b", bob, 17) not in got, "another token's transfer is not counted"
