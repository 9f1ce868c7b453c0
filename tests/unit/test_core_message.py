"""Message encoding and checkpoint signatures."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import given
from hypothesis import strategies as st

from relayer.core.bodies import (
    BodyError,
    IdentityRecord,
    RecordUpdate,
    Return,
    Transfer,
    decode_body,
    encode_body,
)
from relayer.core.checkpoint import (
    Checkpoint,
    SignatureError,
    eth_signed_hash,
    pack_signatures,
    recover,
    sign_checkpoint,
)
from relayer.core.hashing import keccak256
from relayer.core.message import (
    Message,
    MessageError,
    address_to_bytes32,
    decode_message,
    message_id,
)

KEY = bytes.fromhex("7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6")
ADDRESS = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"

u32 = st.integers(min_value=0, max_value=2**32 - 1)
b32 = st.binary(min_size=32, max_size=32)


@given(u32, u32, b32, u32, b32, st.binary(max_size=400))
def test_message_round_trip(
    nonce: int, origin: int, sender: bytes, destination: int, recipient: bytes, body: bytes
) -> None:
    message = Message(nonce, origin, sender, destination, recipient, body)
    raw = message.encode()
    assert len(raw) == 77 + len(body)
    assert decode_message(raw) == message
    assert message.id == message_id(raw) == keccak256(raw)


def test_message_layout() -> None:
    message = Message(5, 65001, b"\xaa" * 32, 65002, b"\xbb" * 32, b"hi")
    raw = message.encode()
    assert raw[0] == 1
    assert raw[1:5] == (5).to_bytes(4, "big")
    assert raw[5:9] == (65001).to_bytes(4, "big")
    assert raw[9:41] == b"\xaa" * 32
    assert raw[41:45] == (65002).to_bytes(4, "big")
    assert raw[45:77] == b"\xbb" * 32
    assert raw[77:] == b"hi"


def test_bad_messages() -> None:
    with pytest.raises(MessageError):
        decode_message(b"\x01" * 76)
    with pytest.raises(MessageError):
        Message(2**32, 1, b"\x00" * 32, 2, b"\x00" * 32, b"").encode()
    with pytest.raises(MessageError):
        Message(1, 1, b"\x00" * 31, 2, b"\x00" * 32, b"").encode()
    assert address_to_bytes32(ADDRESS)[:12] == b"\x00" * 12


def test_signature_recovers_and_matches_eth_account() -> None:
    checkpoint = Checkpoint(65001, address_to_bytes32(ADDRESS), b"\x11" * 32, 41)
    signature = sign_checkpoint(KEY, checkpoint)
    assert len(signature) == 65
    assert recover(checkpoint.signed_digest, signature) == bytes.fromhex(ADDRESS[2:])
    reference = Account.sign_message(encode_defunct(primitive=checkpoint.digest), KEY)
    assert reference.signature == signature
    assert eth_signed_hash(checkpoint.digest) == checkpoint.signed_digest


def test_high_s_and_bad_v_are_refused() -> None:
    checkpoint = Checkpoint(65001, b"\x00" * 32, b"\x11" * 32, 0)
    signature = sign_checkpoint(KEY, checkpoint)
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(signature[32:64], "big")
    flipped = signature[:32] + (n - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    with pytest.raises(SignatureError, match="high s"):
        recover(checkpoint.signed_digest, flipped)
    with pytest.raises(SignatureError, match="v must be"):
        recover(checkpoint.signed_digest, signature[:64] + b"\x01")
    with pytest.raises(SignatureError):
        recover(checkpoint.signed_digest, signature[:64])


def test_a_changed_field_changes_the_signer() -> None:
    checkpoint = Checkpoint(65001, b"\x00" * 32, b"\x11" * 32, 3)
    signature = sign_checkpoint(KEY, checkpoint)
    for other in (
        Checkpoint(65002, b"\x00" * 32, b"\x11" * 32, 3),
        Checkpoint(65001, b"\x01" * 32, b"\x11" * 32, 3),
        Checkpoint(65001, b"\x00" * 32, b"\x12" * 32, 3),
        Checkpoint(65001, b"\x00" * 32, b"\x11" * 32, 4),
    ):
        assert recover(other.signed_digest, signature) != bytes.fromhex(ADDRESS[2:])


def test_pack_signatures_orders_by_signer_and_refuses_duplicates() -> None:
    packed = pack_signatures([(b"\x02" * 20, b"B" * 65), (b"\x01" * 20, b"A" * 65)])
    assert packed == b"A" * 65 + b"B" * 65
    with pytest.raises(SignatureError):
        pack_signatures([(b"\x01" * 20, b"A" * 65), (b"\x01" * 20, b"B" * 65)])


RECORD = IdentityRecord(b"\x07" * 32, 276, 1_900_000_000, 2, 9)


@pytest.mark.parametrize(
    "body",
    [
        Transfer("0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20, 10**24, RECORD),
        Return("0x" + "11" * 20, "0x" + "22" * 20, 5, b"\x09" * 32, 5),
        RecordUpdate("0x" + "44" * 20, RECORD),
    ],
)
def test_bodies_round_trip(body: Transfer | Return | RecordUpdate) -> None:
    raw = encode_body(body)
    assert len(raw) % 32 == 0
    assert decode_body(raw) == body


def test_unknown_or_short_bodies() -> None:
    with pytest.raises(BodyError, match="unknown body kind 9"):
        decode_body((9).to_bytes(32, "big") + b"\x00" * 64)
    with pytest.raises(BodyError):
        decode_body(b"\x01")
    with pytest.raises(BodyError):
        decode_body((1).to_bytes(32, "big"))
