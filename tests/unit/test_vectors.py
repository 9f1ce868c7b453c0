"""The relayer's encoders replay the vectors the Solidity side wrote (tests/vectors/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_utils.address import to_checksum_address

from relayer.core.bodies import (
    DistributionRoot,
    IdentityRecord,
    RecordUpdate,
    Return,
    Transfer,
    VoteRoot,
    VoteTally,
    decode_body,
    encode_body,
)
from relayer.core.checkpoint import (
    Checkpoint,
    checkpoint_digest,
    domain_hash,
    eth_signed_hash,
    recover,
)
from relayer.core.merkle import ZERO_HASHES, MessageTree, verify_range
from relayer.core.message import Message, decode_message

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text())


def h(text: str) -> bytes:
    return bytes.fromhex(text[2:])


def test_vector_files_are_not_empty() -> None:
    assert len(load("messages")) >= 5
    assert len(load("merkle")["trees"]) >= 5
    assert len(load("checkpoints")) >= 1
    assert {b["kind"] for b in load("bodies")} == {1, 2, 3, 4, 5, 6}


@pytest.mark.parametrize("vector", load("messages"), ids=lambda v: f"nonce{v['nonce']}")
def test_message_encoding_and_id(vector: dict[str, Any]) -> None:
    message = Message(
        nonce=int(vector["nonce"]),
        origin=int(vector["origin"]),
        sender=h(vector["sender"]),
        destination=int(vector["destination"]),
        recipient=h(vector["recipient"]),
        body=h(vector["body"]),
        version=int(vector["version"]),
    )
    assert message.encode() == h(vector["message"])
    assert message.id == h(vector["id"])
    assert decode_message(h(vector["message"])) == message


def test_zero_hashes() -> None:
    assert [h(z) for z in load("merkle")["zeroHashes"]] == list(
        ZERO_HASHES[: len(load("merkle")["zeroHashes"])]
    )


@pytest.mark.parametrize("tree", load("merkle")["trees"], ids=lambda t: f"count{t['count']}")
def test_tree_roots_and_range_proofs(tree: dict[str, Any]) -> None:
    leaves = [h(leaf) for leaf in tree["leaves"]]
    ours = MessageTree()
    for leaf in leaves:
        ours.append(leaf)
    assert ours.count == tree["count"]
    assert ours.root() == h(tree["root"])
    assert tree["ranges"], "every tree vector has ranges"
    for rng in tree["ranges"]:
        start, end, index = rng["start"], rng["end"], rng["index"]
        proof = [h(p) for p in rng["proof"]]
        assert ours.root(index + 1) == h(rng["root"])
        assert ours.range_proof(start, end, index) == proof, (start, end, index)
        assert verify_range(leaves[start : end + 1], start, index, proof) == h(rng["root"])


@pytest.mark.parametrize("vector", load("checkpoints"), ids=lambda v: f"index{v['index']}")
def test_checkpoint_digests_and_signers(vector: dict[str, Any]) -> None:
    domain = domain_hash(int(vector["origin"]), h(vector["mailbox"]))
    assert domain == h(vector["domainHash"])
    digest = checkpoint_digest(domain, h(vector["root"]), int(vector["index"]))
    assert digest == h(vector["digest"])
    assert eth_signed_hash(digest) == h(vector["signedDigest"])
    checkpoint = Checkpoint(
        int(vector["origin"]), h(vector["mailbox"]), h(vector["root"]), int(vector["index"])
    )
    signers = [recover(checkpoint.signed_digest, h(s)) for s in vector["signatures"]]
    assert ["0x" + s.hex() for s in signers] == [a.lower() for a in vector["signers"]]


def _record(raw: dict[str, Any]) -> IdentityRecord:
    return IdentityRecord(
        investor_id=h(raw["investorId"]),
        country=int(raw["country"]),
        expires_at=int(raw["expiresAt"]),
        flags=int(raw["flags"]),
        version=int(raw["version"]),
    )


@pytest.mark.parametrize("vector", load("bodies"), ids=lambda v: f"kind{v['kind']}")
def test_bodies(vector: dict[str, Any]) -> None:
    kind = vector["kind"]
    body: Transfer | Return | RecordUpdate | DistributionRoot | VoteRoot | VoteTally
    if kind == 1:
        body = Transfer(
            to_checksum_address(vector["homeToken"]),
            to_checksum_address(vector["sender"]),
            to_checksum_address(vector["recipient"]),
            int(vector["amount"]),
            _record(vector["recipientRecord"]),
        )
    elif kind == 2:
        body = Return(
            to_checksum_address(vector["homeToken"]),
            to_checksum_address(vector["recipient"]),
            int(vector["amount"]),
            h(vector["transferId"]),
            int(vector["reason"]),
        )
    elif kind == 4:
        body = DistributionRoot(
            int(vector["id"]),
            to_checksum_address(vector["paymentToken"]),
            int(vector["total"]),
            int(vector["claimUntil"]),
            h(vector["root"]),
        )
    elif kind == 5:
        body = VoteRoot(
            int(vector["id"]),
            int(vector["closes"]),
            int(vector["options"]),
            int(vector["totalPower"]),
            h(vector["root"]),
        )
    elif kind == 6:
        body = VoteTally(int(vector["id"]), tuple(int(x) for x in vector["tally"]))
    else:
        body = RecordUpdate(to_checksum_address(vector["wallet"]), _record(vector["record"]))
    assert encode_body(body) == h(vector["body"])
    assert decode_body(h(vector["body"])) == body
