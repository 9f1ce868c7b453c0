"""The lane delivers a wallet's newer record before a transfer to that wallet."""

from __future__ import annotations

from relayer.core.bodies import (
    IdentityRecord,
    RecordUpdate,
    Return,
    Transfer,
    encode_body,
)
from relayer.core.message import Message
from relayer.daemon.compliance_order import records_first
from relayer.store.models import MessageRow, Status

TOKEN = "0x" + "11" * 20
ALICE = "0x" + "aa" * 20
BOB = "0x" + "bb" * 20
SENDER = b"\x00" * 12 + b"\x22" * 20


def _row(nonce: int, body: bytes, kind: int | None) -> MessageRow:
    message = Message(nonce, 65001, SENDER, 65002, SENDER, body)
    return MessageRow(
        id=message.id, origin=65001, nonce=nonce, destination=65002, sender=SENDER,
        recipient=SENDER, raw=message.encode(), kind=kind, ref=None, dispatch_tx="0x",
        dispatch_block=1, dispatched_at=0.0, status=Status.PENDING, attempts=0,
        next_attempt_at=0.0, last_error=None, tx_hash=None, deliver_tx=None,
        delivered_block=None, delivered_at=None, indexed_at=0.0, updated_at=0.0,
    )  # fmt: skip


def transfer(nonce: int, to: str, version: int = 1) -> MessageRow:
    record = IdentityRecord(b"\x01" * 32, 276, 2**40, 0, version)
    return _row(nonce, encode_body(Transfer(TOKEN, BOB, to, 5, record)), 1)


def update(nonce: int, wallet: str, flags: int = 1, version: int = 2) -> MessageRow:
    record = IdentityRecord(b"\x01" * 32, 276, 2**40, flags, version)
    return _row(nonce, encode_body(RecordUpdate(wallet, record)), 3)


def nonces(rows: list[MessageRow]) -> list[int]:
    return [r.nonce for r in rows]


def test_a_transfer_waits_for_a_later_update_of_its_recipient() -> None:
    due = [transfer(0, ALICE), update(1, ALICE), transfer(2, BOB)]
    now, held = records_first(due)
    assert nonces(now) == [1, 2]
    assert nonces(held) == [0]


def test_an_update_before_the_transfer_changes_nothing() -> None:
    due = [update(0, ALICE), transfer(1, ALICE)]
    assert records_first(due) == (due, [])


def test_an_update_of_someone_else_changes_nothing() -> None:
    due = [transfer(0, ALICE), update(1, BOB)]
    assert records_first(due) == (due, [])


def test_returns_and_garbage_keep_their_place() -> None:
    ret = _row(0, encode_body(Return(TOKEN, ALICE, 5, b"\x05" * 32, 5)), 2)
    garbage = _row(1, b"\x00" * 31 + b"\x01" + b"junk", 1)  # says Transfer, is not one
    unknown = _row(2, b"\x09" * 64, None)
    due = [ret, garbage, unknown, update(3, ALICE)]
    assert records_first(due) == (due, [])


def test_several_transfers_to_one_wallet_all_wait() -> None:
    due = [transfer(0, ALICE), transfer(1, ALICE), update(2, ALICE), transfer(3, ALICE)]
    now, held = records_first(due)
    assert nonces(now) == [2, 3]
    assert nonces(held) == [0, 1]
