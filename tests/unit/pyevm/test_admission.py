"""Admission checks of raw transactions: each one tried with a transaction that should fail it."""

from __future__ import annotations

import re

import pytest
import rlp

from chains.pyevm.admission import (
    MAX_INITCODE_SIZE,
    SECP256K1_N,
    SenderState,
    calldata_floor_gas,
    check_against_state,
    decode_transaction,
)
from chains.pyevm.errors import TransactionRejected
from tests.fixtures.pyevm.support import CHAIN_ID, GWEI, account, sign_tx

LIMIT = 30_000_000
TO = "0x" + "11" * 20


def rejected(raw: bytes, message: str) -> None:
    with pytest.raises(TransactionRejected, match=re.escape(message)):
        decode_transaction(raw, CHAIN_ID, LIMIT)


def test_a_good_transaction_of_each_type_decodes_with_its_sender() -> None:
    sender = account(0)
    for extra in ({}, {"gasPrice": GWEI}, {"gasPrice": GWEI, "accessList": [], "type": 1}):
        decoded = decode_transaction(sign_tx(sender, nonce=0, to=TO, **extra), CHAIN_ID, LIMIT)
        assert decoded.sender == bytes.fromhex(sender.address[2:])


def test_other_chain_ids_are_refused_for_every_type() -> None:
    sender = account(0)
    rejected(
        sign_tx(sender, nonce=0, to=TO, chainId=1),
        f"invalid chain id for signer: have 1 want {CHAIN_ID}",
    )
    rejected(
        sign_tx(sender, nonce=0, to=TO, chainId=CHAIN_ID + 1, gasPrice=GWEI),
        f"have {CHAIN_ID + 1} want {CHAIN_ID}",
    )
    rejected(
        sign_tx(sender, nonce=0, to=TO, chainId=5, gasPrice=GWEI, accessList=[], type=1),
        f"have 5 want {CHAIN_ID}",
    )


def test_legacy_transaction_without_chain_id_is_refused() -> None:
    tx = {"nonce": 0, "to": TO, "value": 0, "gas": 21_000, "gasPrice": GWEI}
    raw = bytes(account(0).sign_transaction(tx).raw_transaction)
    assert rlp.decode(raw)[6] in (b"\x1b", b"\x1c")  # v = 27/28: no chain id
    rejected(raw, "only replay-protected (EIP-155) transactions allowed over RPC")


def _flip_s_typed(raw: bytes) -> bytes:
    fields = rlp.decode(raw[1:])
    y_parity, r, s = fields[-3:]
    high_s = SECP256K1_N - int.from_bytes(s, "big")
    flipped = b"" if y_parity == b"\x01" else b"\x01"
    return raw[:1] + rlp.encode([*fields[:-3], flipped, r, high_s.to_bytes(32, "big")])


def test_malleable_high_s_signatures_are_refused() -> None:
    sender = account(0)
    raw = sign_tx(sender, nonce=0, to=TO)
    twin = _flip_s_typed(raw)  # the same signature, mirrored: still recovers the sender
    assert twin != raw
    rejected(twin, "invalid transaction v, r, s values")

    legacy = rlp.decode(sign_tx(sender, nonce=0, to=TO, gasPrice=GWEI))
    v, s = int.from_bytes(legacy[6], "big"), int.from_bytes(legacy[8], "big")
    mirrored_v = v + 1 if v % 2 else v - 1
    legacy_twin = rlp.encode(
        [
            *legacy[:6],
            mirrored_v.to_bytes(3, "big"),
            legacy[7],
            (SECP256K1_N - s).to_bytes(32, "big"),
        ]
    )
    rejected(legacy_twin, "invalid transaction v, r, s values")


def test_zero_r_signature_is_refused() -> None:
    fields = rlp.decode(sign_tx(account(0), nonce=0, to=TO)[1:])
    rejected(
        b"\x02" + rlp.encode([*fields[:-2], b"", fields[-1]]), "invalid transaction v, r, s values"
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "transaction is empty"),
        (b"\x03\xc0", "transaction type not supported: type 3"),
        (b"\x04\xc0", "transaction type not supported: type 4"),
        (b"\x12\x34", "transaction type not supported: type 18"),
        (b"\x02\xc0", "invalid transaction: could not decode"),
        (b"\xf8\x01\x02", "invalid transaction: could not decode"),
    ],
)
def test_undecodable_or_unsupported_bytes_are_refused(raw: bytes, message: str) -> None:
    rejected(raw, message)


def test_gas_checks() -> None:
    sender = account(0)
    rejected(
        sign_tx(sender, nonce=0, to=TO, gas=20_999),
        "intrinsic gas too low: gas 20999, minimum needed 21000",
    )
    rejected(
        sign_tx(sender, nonce=0, to=TO, gas=LIMIT + 1), f"exceeds block gas limit: gas {LIMIT + 1}"
    )
    data = b"\x01" * 1000  # intrinsic 21000 + 16/byte, but the EIP-7623 floor is 21000 + 40/byte
    assert calldata_floor_gas(data) == 21_000 + 40 * 1000
    rejected(
        sign_tx(sender, nonce=0, to=TO, data=data, gas=21_000 + 16 * 1000 + 500), "floor data gas"
    )
    decode_transaction(sign_tx(sender, nonce=0, to=TO, data=data, gas=61_000), CHAIN_ID, LIMIT)
    initcode = b"\x00" * (MAX_INITCODE_SIZE + 1)
    rejected(sign_tx(sender, nonce=0, data=initcode, gas=LIMIT), "max initcode size exceeded")


def test_tip_above_fee_cap_is_refused() -> None:
    raw = sign_tx(account(0), nonce=0, to=TO, maxFeePerGas=GWEI, maxPriorityFeePerGas=2 * GWEI)
    rejected(raw, "max priority fee per gas higher than max fee per gas")


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            SenderState(nonce=0, balance=10**18, base_fee=101 * GWEI),
            "max fee per gas less than block base fee",
        ),
        (SenderState(nonce=4, balance=10**18, base_fee=GWEI), "nonce too low: address 0x"),
        (
            SenderState(nonce=3, balance=21_000 * 100 * GWEI + 6, base_fee=GWEI),
            "insufficient funds for gas * price + value",
        ),
    ],
)
def test_state_checks(state: SenderState, message: str) -> None:
    decoded = decode_transaction(sign_tx(account(0), nonce=3, to=TO, value=7), CHAIN_ID, LIMIT)
    with pytest.raises(TransactionRejected, match=re.escape(message)):
        check_against_state(decoded, state)


def test_state_checks_pass_at_the_edges() -> None:
    decoded = decode_transaction(sign_tx(account(0), nonce=3, to=TO, value=7), CHAIN_ID, LIMIT)
    exact = SenderState(nonce=3, balance=21_000 * 100 * GWEI + 7, base_fee=100 * GWEI)
    check_against_state(decoded, exact)
    check_against_state(
        decoded, SenderState(nonce=1, balance=10**18, base_fee=0)
    )  # future nonce: queued
