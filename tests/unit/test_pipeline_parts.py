"""Small pieces of the pipeline: backoff schedule, gas model, runs of nonces, fee bumps."""

from __future__ import annotations

from relayer.chain.sender import Fees
from relayer.core.backoff import SCHEDULE, next_attempt, retry_delay
from relayer.daemon.lane import HANDLER_RESERVE, GasModel, _runs
from relayer.store import MessageRow, Status


def test_backoff_grows_5_10_30_60_then_minutes_with_jitter() -> None:
    assert SCHEDULE[:4] == (5.0, 10.0, 30.0, 60.0)
    for attempts, base in enumerate(SCHEDULE):
        delays = {retry_delay(attempts) for _ in range(50)}
        assert all(base * 0.8 <= d <= base * 1.2 for d in delays)
        assert len(delays) > 1  # jittered
    assert retry_delay(100) <= SCHEDULE[-1] * 1.2
    assert 1000 + 4 <= next_attempt(0, now=1000) <= 1000 + 6


def test_fee_bump_is_at_least_ten_percent() -> None:
    fees = Fees(max_fee=1_000_000_007, priority_fee=3)
    bumped = fees.bumped()
    assert bumped.max_fee * 10 >= fees.max_fee * 11
    assert bumped.priority_fee * 10 >= fees.priority_fee * 11


def test_gas_model_estimates_first_then_predicts_and_reestimates() -> None:
    model = GasModel(refresh=3)
    assert model.needs_estimate()
    model.learn(10, HANDLER_RESERVE + 10 * 50_000)
    assert not model.needs_estimate()
    predicted = model.predict(100)
    assert predicted >= HANDLER_RESERVE + 100 * 50_000 * 1.3
    model.predict(100)
    model.predict(100)
    assert model.needs_estimate()  # refresh after 3 predictions
    model.learn(10, HANDLER_RESERVE + 10 * 50_000)
    model.ran_out()
    assert model.needs_estimate()


def _row(nonce: int) -> MessageRow:
    return MessageRow(
        id=nonce.to_bytes(32, "big"), origin=1, nonce=nonce, destination=2, sender=b"",
        recipient=b"",
        raw=b"", kind=1, ref=None, dispatch_tx="", dispatch_block=0, dispatched_at=0.0,
        status=Status.PENDING, attempts=0, next_attempt_at=0.0, last_error=None, tx_hash=None,
        deliver_tx=None, delivered_block=None, delivered_at=None, indexed_at=0.0, updated_at=0.0,
    )  # fmt: skip


def test_runs_split_at_gaps() -> None:
    runs = _runs([_row(n) for n in (3, 4, 5, 7, 8, 10)])
    assert [[m.nonce for m in run] for run in runs] == [[3, 4, 5], [7, 8], [10]]
    assert _runs([]) == []


def test_a_signed_transaction_decodes_to_what_signs_it_again() -> None:
    """What a fee bump relies on: decode_signed gives back exactly the signed fields, so
    signing them again yields the same transaction, and with bumped fees a replacement
    that differs only in its fees."""
    from unittest.mock import MagicMock

    from eth_account.typed_transactions.typed_transaction import TypedTransaction
    from hexbytes import HexBytes

    from relayer.chain.sender import TxSender, decode_signed
    from relayer.config import PrivateKey
    from relayer.core.hashing import keccak256

    rpc = MagicMock()
    rpc.chain.chain_id = 65002
    key = PrivateKey.from_hex("0x" + "42" * 32, source="inline")
    sender = TxSender(rpc, key, MagicMock())
    to = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    fees = Fees(10, 2)
    tx_hash, raw = sender.sign(to=to, data=b"\x01\x02", nonce=7, gas=50_000, fees=fees, value=5)
    assert tx_hash == "0x" + keccak256(raw).hex()
    decoded_to, data, value = decode_signed(raw)
    assert (decoded_to, data, value) == (to, b"\x01\x02", 5)

    same_hash, same_raw = sender.sign(
        to=decoded_to, data=data, nonce=7, gas=50_000, fees=fees, value=value
    )
    assert (same_hash, same_raw) == (tx_hash, raw)

    bumped = fees.bumped()
    again_hash, again_raw = sender.sign(
        to=decoded_to, data=data, nonce=7, gas=50_000, fees=bumped, value=value
    )
    assert again_hash != tx_hash
    assert decode_signed(again_raw) == (to, b"\x01\x02", 5)
    first = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    replacement = TypedTransaction.from_bytes(HexBytes(again_raw)).as_dict()
    fee_fields = {"maxFeePerGas", "maxPriorityFeePerGas", "v", "r", "s"}
    assert {k: v for k, v in first.items() if k not in fee_fields} == {
        k: v for k, v in replacement.items() if k not in fee_fields
    }
    assert (replacement["maxFeePerGas"], replacement["maxPriorityFeePerGas"]) == (
        bumped.max_fee,
        bumped.priority_fee,
    )


def test_a_contract_creation_decodes_without_a_recipient() -> None:
    from unittest.mock import MagicMock

    from relayer.chain.sender import TxSender, decode_signed
    from relayer.config import PrivateKey

    rpc = MagicMock()
    rpc.chain.chain_id = 65002
    sender = TxSender(rpc, PrivateKey.from_hex("0x" + "42" * 32, source="inline"), MagicMock())
    _hash, raw = sender.sign(to=None, data=b"\x60\x00", nonce=0, gas=90_000, fees=Fees(10, 2))
    assert decode_signed(raw) == (None, b"\x60\x00", 0)
