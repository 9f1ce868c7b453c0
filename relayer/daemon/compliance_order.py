"""Delivery order on a lane: a wallet's newer identity record before a transfer to it.

A Transfer from the home chain carries the recipient's record as it was when the
transfer was sent. If the issuer revokes or freezes the recipient while the transfer is
in flight, the home registry dispatches a RecordUpdate with a higher nonce; delivered in
nonce order, the transfer would land first and mint to an investor who is no longer
eligible, and only then would the revocation arrive. The mailbox does not require nonce
order (its replay protection is a bitmap), so when both are due in the same round the
lane delivers such a transfer *after* the record update: the mirror then holds the newer
record, the carried one is ignored as older, and the transfer bounces back to its sender.
A transfer delivered in an earlier round (its revocation mined later, or not yet
confirmed or checkpointed) is not recalled: ``stbridge audit`` lists the holding.

Only the order changes, never what is delivered: a held transfer goes out in the same
round, in a transaction sent after the update's (the sender's nonces keep them in
order). Messages that are not well-formed bodies are left where they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from relayer.core.bodies import BodyError, Kind, RecordUpdate, Transfer, decode_body
from relayer.core.message import MessageError, decode_message
from relayer.store.models import MessageRow


def _body(row: MessageRow) -> Transfer | RecordUpdate | None:
    if row.kind not in (Kind.TRANSFER, Kind.RECORD_UPDATE):
        return None
    try:
        body = decode_body(decode_message(row.raw).body)
    except (BodyError, MessageError):
        return None
    return body if isinstance(body, Transfer | RecordUpdate) else None


def records_first(due: Sequence[MessageRow]) -> tuple[list[MessageRow], list[MessageRow]]:
    """Split ``due`` (nonce order) into what to deliver now and what to deliver after.

    A Transfer is held back when a RecordUpdate for its recipient comes later in
    ``due``; everything else keeps its place. Both lists stay in nonce order.
    """
    updated_after: dict[str, int] = {}  # wallet -> highest nonce of a RecordUpdate for it
    for row in due:
        if row.kind == Kind.RECORD_UPDATE:
            body = _body(row)
            if isinstance(body, RecordUpdate):
                wallet = body.wallet.lower()
                updated_after[wallet] = max(updated_after.get(wallet, -1), row.nonce)
    if not updated_after:  # the usual round: no transfer is decoded at all
        return list(due), []
    now: list[MessageRow] = []
    held: list[MessageRow] = []
    for row in due:
        body = _body(row) if row.kind == Kind.TRANSFER else None
        if isinstance(body, Transfer) and updated_after.get(body.recipient.lower(), -1) > row.nonce:
            held.append(row)
        else:
            now.append(row)
    return now, held
