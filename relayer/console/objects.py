"""The JSON objects the console's API and the CLI's ``--json`` share.

Pure functions of store rows and chain reads: amounts are decimal strings of base units,
times Unix seconds, ids 0x-hex. The CLI's ``messages list|show --json``, ``investor show
--json`` and ``captable --json`` print the same objects the API answers.
"""

from __future__ import annotations

from typing import Any

from relayer.core.bodies import IdentityRecord
from relayer.inputs import format_amount, format_investor_id
from relayer.issuer.audit import AuditReport
from relayer.issuer.captable import CapTable
from relayer.issuer.holdings_review import Holding
from relayer.issuer.investors import InvestorView, record_status
from relayer.store import HtlcLock, MessageRow, Status, TxRow
from relayer.store.reads import CheckpointCover, LaneHistory


def lane_name(m: MessageRow, names: dict[int, str]) -> str:
    return f"{names.get(m.origin, m.origin)}->{names.get(m.destination, m.destination)}"


def message_json(m: MessageRow, names: dict[int, str]) -> dict[str, Any]:
    """A message as `messages list|show --json` print it and ``/api/messages`` answers."""
    return {
        "id": m.id_hex,
        "lane": lane_name(m, names),
        "origin": names.get(m.origin, str(m.origin)),
        "destination": names.get(m.destination, str(m.destination)),
        "origin_chain_id": m.origin,
        "destination_chain_id": m.destination,
        "nonce": m.nonce,
        "status": m.status.value,
        "attempts": m.attempts,
        "last_error": m.last_error,
        "next_attempt_at": m.next_attempt_at if m.status == Status.FAILED else None,
        "dispatched_at": m.dispatched_at,
        "delivered_at": m.delivered_at,
        "transactions": {
            "dispatch": m.dispatch_tx,
            "dispatch_block": m.dispatch_block,
            "submitted": m.tx_hash,
            "delivered": m.deliver_tx,
            "delivered_block": m.delivered_block,
        },
    }


def tx_json(tx: TxRow, names: dict[int, str]) -> dict[str, Any]:
    """One transaction the relayer signed (an attempt to deliver)."""
    return {
        "hash": tx.hash,
        "chain": names.get(tx.chain_id, str(tx.chain_id)),
        "sender": tx.sender,
        "nonce": tx.nonce,
        "status": tx.status.value,
        "sent_at": tx.sent_at,
        "mined_block": tx.mined_block,
        "replaces": tx.replaces,
        "max_fee": str(tx.max_fee),
        "gas_limit": tx.gas_limit,
        "purpose": tx.purpose,
    }


def message_life_json(
    m: MessageRow,
    names: dict[int, str],
    *,
    checkpoint: CheckpointCover | None,
    txs: list[TxRow],
    returned_by: MessageRow | None,
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    """A message and its whole life, in order: dispatch, checkpoint, each transaction
    that carried it, then its delivery, refusal or bounce (a Return message)."""
    steps: list[dict[str, Any]] = [
        {"step": "dispatched", "at": m.dispatched_at, "chain": names.get(m.origin),
         "tx": m.dispatch_tx, "block": m.dispatch_block},
    ]  # fmt: skip
    if checkpoint is not None:
        steps.append(
            {"step": "checkpoint", "index": checkpoint.index, "root": "0x" + checkpoint.root.hex(),
             "signers": checkpoint.validators}
        )  # fmt: skip
    for tx in txs:
        steps.append({"step": "attempt", **tx_json(tx, names)})
    if m.status == Status.DELIVERED:
        steps.append({"step": "delivered", "at": m.delivered_at, "tx": m.deliver_tx,
                      "block": m.delivered_block, "chain": names.get(m.destination)})  # fmt: skip
    elif m.status in (Status.FAILED, Status.REFUSED, Status.IGNORED):
        steps.append({"step": m.status.value, "error": m.last_error, "attempts": m.attempts})
    if returned_by is not None:
        steps.append({"step": "bounced", "return_message": returned_by.id_hex,
                      "return_status": returned_by.status.value})  # fmt: skip
    return {**message_json(m, names), "life": steps, "events": events}


def history_json(h: LaneHistory) -> dict[str, Any]:
    """A lane over time: per bucket start, dispatched, delivered (throughput), the
    average and worst latency, and the backlog at the bucket's end."""
    return {
        "since": h.since,
        "bucket_seconds": h.bucket,
        "t": [b.start for b in h.buckets],
        "dispatched": [b.dispatched for b in h.buckets],
        "delivered": [b.delivered for b in h.buckets],
        "latency_avg": [b.latency_avg for b in h.buckets],
        "latency_max": [b.latency_max for b in h.buckets],
        "backlog": h.backlog(),
    }


def record_json(record: IdentityRecord) -> dict[str, Any]:
    """An identity record (home or a mirror's copy)."""
    return {
        "investor_id": format_investor_id(record.investor_id),
        "country": record.country,
        "expires_at": record.expires_at,
        "revoked": record.revoked,
        "frozen": record.frozen,
        "version": record.version,
    }


def lock_json(lock: HtlcLock, names: dict[int, str]) -> dict[str, Any]:
    """A DvP hash-time lock as the relayer's watcher follows it."""
    return {
        "chain": names.get(lock.chain_id, str(lock.chain_id)),
        "lock_id": "0x" + lock.lock_id.hex(),
        "hashlock": "0x" + lock.hashlock.hex(),
        "token": lock.token,
        "sender": lock.sender,
        "receiver": lock.receiver,
        "amount": str(lock.amount),
        "expiry": lock.expiry,
        "state": lock.state.value,
        "locked_tx": lock.locked_tx,
        "locked_at": lock.locked_at,
        "settled_tx": lock.settled_tx,
        "settled_at": lock.settled_at,
        "action": lock.action,
        "attempts": lock.attempts,
        "last_error": lock.last_error,
    }


def investor_json(view: InvestorView) -> dict[str, Any]:
    """An investor's home record beside each mirror's copy and its sync state."""
    return {
        "wallet": view.wallet,
        "status": record_status(view.record, view.home_time),
        "home": {"chain": view.home_chain, **record_json(view.record)},
        "mirrors": [
            {"chain": m.chain, "state": m.state, **record_json(m.record)} for m in view.mirrors
        ],
    }


def captable_json(t: CapTable) -> dict[str, Any]:
    """The cap table as JSON; amounts are decimal strings of base units."""
    return {
        "token": t.symbol,
        "decimals": t.decimals,
        "cut": {"label": t.cut.label, "blocks": t.cut.blocks, "times": t.cut.times},
        "holders": [
            {
                "wallet": h.wallet,
                "status": h.status,
                "balances": {c: str(v) for c, v in h.balances.items()},
                "total": str(h.total),
            }
            for h in t.holders
        ],
        "holder_count": t.holder_count,
        "onchain_holder_counts": t.onchain_holder_counts,
        "custodians": [
            {"chain": c.chain, "role": c.role, "address": c.address, "balance": str(c.balance)}
            for c in t.custodians
        ],
        "supplies": {c: str(v) for c, v in t.supplies.items()},
        "lanes": [
            {
                "remote": lane.remote,
                "locked": str(lane.locked),
                "remote_supply": str(lane.remote_supply),
                "in_flight": str(lane.in_flight),
                "in_flight_messages": lane.in_flight_messages,
                "ok": lane.ok,
            }
            for lane in t.escrow.lanes
        ],
        "issued": str(t.issued),
        "held": str(t.held),
        "in_custody": str(t.in_custody),
        "in_flight": str(t.in_flight),
        "escrow_surplus": str(t.escrow.surplus),
        "reconciled": t.ok,
        "problems": t.problems,
        "notes": t.notes,
    }


def audit_json(r: AuditReport) -> dict[str, Any]:
    return {
        "cut": {"label": r.cut.label, "blocks": r.cut.blocks, "times": r.cut.times},
        "escrow": [
            {
                "token": c.symbol,
                "escrow": c.escrow,
                "balance": str(c.balance),
                "locked": str(c.locked),
                "lanes": [
                    {
                        "remote": lane.remote,
                        "locked": str(lane.locked),
                        "remote_supply": str(lane.remote_supply),
                        "in_flight": str(lane.in_flight),
                        "ok": lane.ok,
                    }
                    for lane in c.lanes
                ],
            }
            for c in r.escrow
        ],
        "mirrors": [
            {
                "chain": m.chain,
                "wallets": m.wallets,
                "in_sync": m.in_sync,
                "catching_up": m.catching_up,
                "violations": m.violations,
            }
            for m in r.mirrors
        ],
        "exceptions": [holding_json(h, r.home) for h in r.exceptions],
        "frozen": [holding_json(h, r.home) for h in r.frozen],
        "ok": r.ok,
        "problems": r.problems,
        "notes": r.notes,
    }


def holding_json(h: Holding, home: str) -> dict[str, Any]:
    """One listed holding; ``balance`` in base units, ``amount`` in token units."""
    return {
        "chain": h.chain,
        "token": h.token,
        "wallet": h.wallet,
        "balance": str(h.balance),
        "amount": format_amount(h.balance, h.decimals).replace(",", ""),
        "reasons": h.reasons,
        "command": h.command(home),
    }
