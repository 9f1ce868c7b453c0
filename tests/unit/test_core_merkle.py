"""The Merkle tree and range proofs: properties against a naive reference, and tampering."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relayer.core.hashing import keccak256
from relayer.core.merkle import (
    ZERO_HASHES,
    MessageTree,
    ProofError,
    naive_root,
    verify_range,
)


def leaves(n: int, salt: int = 0) -> list[bytes]:
    return [keccak256(f"{salt}:{i}".encode()) for i in range(n)]


def tree_of(items: list[bytes]) -> MessageTree:
    tree = MessageTree()
    for leaf in items:
        tree.append(leaf)
    return tree


def test_empty_tree_root_is_the_top_zero_hash() -> None:
    assert MessageTree().root() == ZERO_HASHES[32]
    assert naive_root([]) == ZERO_HASHES[32]


def test_zero_hashes_chain() -> None:
    assert ZERO_HASHES[0] == b"\x00" * 32
    for h in range(32):
        assert ZERO_HASHES[h + 1] == keccak256(ZERO_HASHES[h] * 2)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.integers(min_value=0, max_value=10**6))
def test_root_at_every_count_matches_the_naive_root(n: int, salt: int) -> None:
    items = leaves(n, salt)
    tree = tree_of(items)
    for count in {1, n // 2, n - 1, n} - {0}:
        assert tree.root(count) == naive_root(items[:count])


@st.composite
def ranges(draw: st.DrawFn) -> tuple[int, int, int, int]:
    n = draw(st.integers(min_value=1, max_value=260))
    index = draw(st.integers(min_value=0, max_value=n - 1))
    start = draw(st.integers(min_value=0, max_value=index))
    end = draw(st.integers(min_value=start, max_value=index))
    return n, start, end, index


@settings(max_examples=200, deadline=None)
@given(ranges())
def test_range_proof_verifies_against_the_checkpoint_root(case: tuple[int, int, int, int]) -> None:
    n, start, end, index = case
    items = leaves(n)
    tree = tree_of(items)
    proof = tree.range_proof(start, end, index)
    assert verify_range(items[start : end + 1], start, index, proof) == naive_root(
        items[: index + 1]
    )


@settings(max_examples=100, deadline=None)
@given(ranges(), st.data())
def test_any_flipped_bit_breaks_the_proof(
    case: tuple[int, int, int, int], data: st.DataObject
) -> None:
    n, start, end, index = case
    items = leaves(n)
    tree = tree_of(items)
    root = tree.root(index + 1)
    proof = tree.range_proof(start, end, index)
    rng_leaves = items[start : end + 1]
    targets = ["leaf"] + (["proof"] if proof else [])
    target = data.draw(st.sampled_from(targets))
    bit = data.draw(st.integers(min_value=0, max_value=255))
    if target == "leaf":
        i = data.draw(st.integers(min_value=0, max_value=len(rng_leaves) - 1))
        rng_leaves = list(rng_leaves)
        rng_leaves[i] = _flip(rng_leaves[i], bit)
    else:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        proof = list(proof)
        proof[i] = _flip(proof[i], bit)
    assert verify_range(rng_leaves, start, index, proof) != root


def _flip(value: bytes, bit: int) -> bytes:
    raw = bytearray(value)
    raw[bit // 8] ^= 1 << (bit % 8)
    return bytes(raw)


def test_proof_for_another_position_fails() -> None:
    items = leaves(20)
    tree = tree_of(items)
    proof = tree.range_proof(5, 5, 19)
    assert verify_range([items[5]], 5, 19, proof) == tree.root()
    assert verify_range([items[5]], 4, 19, proof) != tree.root()
    assert verify_range([items[6]], 5, 19, proof) != tree.root()


def test_extra_or_missing_proof_elements_are_refused() -> None:
    items = leaves(10)
    tree = tree_of(items)
    proof = tree.range_proof(3, 6, 9)
    with pytest.raises(ProofError, match="unused"):
        verify_range(items[3:7], 3, 9, [*proof, b"\x00" * 32])
    with pytest.raises(ProofError, match="too short"):
        verify_range(items[3:7], 3, 9, proof[:-1])


def test_range_past_the_checkpoint_index_is_refused() -> None:
    items = leaves(10)
    tree = tree_of(items)
    with pytest.raises(ProofError):
        tree.range_proof(3, 8, 7)
    with pytest.raises(ProofError):
        verify_range(items[3:9], 3, 7, [])
    with pytest.raises(ProofError):
        tree.range_proof(0, 0, 10)  # index beyond the leaves the tree holds


def test_proofs_are_short() -> None:
    """Right siblings past the index are left out: at most about 2*log2(count) hashes."""
    tree = tree_of(leaves(1000))
    assert len(tree.range_proof(999, 999, 999)) <= 10
    assert len(tree.range_proof(900, 999, 999)) <= 20
    assert len(tree.range_proof(0, 0, 0)) == 0


def test_boundaries() -> None:
    for n in (1, 2, 3, 7, 8, 9, 16, 33, 100, 256):
        items = leaves(n)
        tree = tree_of(items)
        root = naive_root(items)
        for start, end in ((0, 0), (n - 1, n - 1), (0, n - 1)):
            proof = tree.range_proof(start, end, n - 1)
            assert verify_range(items[start : end + 1], start, n - 1, proof) == root
    tree = tree_of(leaves(64))
    proof = tree.range_proof(32, 63, 63)  # a whole power-of-two subtree
    assert verify_range(leaves(64)[32:], 32, 63, proof) == tree.root()


def test_truncate_after_a_reorg() -> None:
    items = leaves(50)
    tree = tree_of(items)
    tree.truncate(23)
    assert tree.count == 23
    assert tree.root() == naive_root(items[:23])
    other = leaves(10, salt=7)
    for leaf in other:
        tree.append(leaf)
    assert tree.root() == naive_root(items[:23] + other)


def test_leaf_must_be_32_bytes() -> None:
    with pytest.raises(ProofError):
        MessageTree().append(b"\x01")
