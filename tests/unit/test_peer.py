"""The peer baseline's pure parts (bench/peer.py): per-message proofs, credits, gas, fill."""

from __future__ import annotations

import pytest
from eth_utils.address import to_checksum_address

from bench.peer import (
    CEILING_MAX_FEE,
    HYPERLANE_GAS_BUFFER,
    expected_credits,
    fees,
    fill,
    gas_limit,
    per_message_proofs,
)
from relayer.core.bodies import IdentityRecord, RecordUpdate, Transfer, encode_body
from relayer.core.merkle import MessageTree, ProofError, verify_range
from relayer.core.message import Message, address_to_bytes32, message_id

TOKEN = "0x" + "11" * 20
HOLDERS = ["0x" + f"{i:02x}" * 20 for i in (0xA1, 0xB2, 0xC3)]


def transfer(nonce: int, recipient: str, amount: int, destination: int = 2) -> bytes:
    body = encode_body(Transfer(TOKEN, recipient, recipient, amount, IdentityRecord()))
    return Message(
        nonce, 1, address_to_bytes32(TOKEN), destination, address_to_bytes32(TOKEN), body
    ).encode()


def backlog(n: int) -> tuple[MessageTree, list[bytes]]:
    messages = [transfer(i, HOLDERS[i % 3], 10**18 + i) for i in range(n)]
    tree = MessageTree()
    for raw in messages:
        tree.append(message_id(raw))
    return tree, messages


@pytest.mark.parametrize(("n", "index"), [(1, 0), (37, 36), (37, 20), (300, 299)])
def test_each_message_proves_alone_against_the_checkpoint_root(n: int, index: int) -> None:
    tree, messages = backlog(n)
    deliveries = per_message_proofs(tree, messages[: index + 1], index)
    assert [d.nonce for d in deliveries] == list(range(index + 1))
    root = tree.root(index + 1)  # the checkpoint's root, not the tree's head
    for d in deliveries:
        assert verify_range([message_id(d.message)], d.nonce, index, d.proof) == root


def test_a_message_that_is_not_the_trees_leaf_is_refused() -> None:
    tree, messages = backlog(8)
    forged = transfer(3, HOLDERS[0], 999)
    with pytest.raises(ProofError, match="not the tree's leaf at 3"):
        per_message_proofs(tree, [forged], 7)
    with pytest.raises(ProofError):  # past the checkpoint
        per_message_proofs(tree, [messages[6]], 5)
    with pytest.raises(ProofError, match="not the tree's leaf at 8"):  # not in the tree yet
        per_message_proofs(tree, [transfer(8, HOLDERS[0], 1)], 7)


def test_credits_sum_each_recipients_transfers() -> None:
    _, messages = backlog(7)
    owed = expected_credits(messages)
    assert sum(owed.values()) == sum(10**18 + i for i in range(7))
    assert owed[to_checksum_address(HOLDERS[0])] == 3 * 10**18 + 0 + 3 + 6  # nonces 0, 3, 6


def test_credits_refuse_a_message_that_is_not_a_transfer() -> None:
    other = Message(
        0, 1, b"\x00" * 32, 2, b"\x00" * 32, encode_body(RecordUpdate(HOLDERS[0], IdentityRecord()))
    ).encode()
    with pytest.raises(ValueError, match="not a transfer"):
        expected_credits([other])


def test_gas_limit_is_the_estimate_plus_the_buffer_and_fees_leave_room() -> None:
    assert gas_limit(628_280) == 628_280 + HYPERLANE_GAS_BUFFER == 703_280
    assert fees(10**9, 10**9) == (CEILING_MAX_FEE, 10**9)  # low base fee: the ceiling's cap
    assert fees(40 * 10**9, 10**9) == (81 * 10**9, 10**9)  # room for the base fee to double


def test_fill_leaves_out_the_last_block() -> None:
    assert fill([150, 120, 30], 150) == (0.8, 0.9)
    assert fill([75], 150) == (0.5, 0.5)
