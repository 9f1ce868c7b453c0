"""Checking a chain's history: did every movement of a watched wallet happen while it
was eligible on that chain?

The rule an auditor would apply: on each chain, replay the registry's record updates
(the home registry on the home chain, the mirror on a remote chain) and the token's
transfers in log order. Every credit to a watched wallet and every debit from it must
find the wallet's record valid at that point (present, neither revoked nor frozen, not
expired) — except the two movements the rules exempt on purpose: the agent's
enforcement (``ForcedTransfer`` in the same transaction) and a give-back of the
wallet's own bounced transfer (``Returned`` to it in the same transaction).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from relayer.chain import contracts
from relayer.core.bodies import IdentityRecord
from relayer.deployment.chainread import logs
from relayer.deployment.session import Session

ZERO = "0x" + "00" * 20


@dataclass(frozen=True)
class Movement:
    chain: str
    block: int
    tx: str
    wallet: str
    side: str  # "receive" or "send"
    amount: int
    record: IdentityRecord | None


def _position(log: dict[str, Any]) -> tuple[int, int]:
    return int(log["blockNumber"], 16), int(log["logIndex"], 16)


async def ineligible_movements(
    session: Session, chain: str, start: int, watched: set[str]
) -> tuple[list[Movement], int]:
    """Movements of ``watched`` wallets on ``chain`` from block ``start`` that the rules
    should have refused; and how many movements were checked."""
    home = chain == session.config.home
    registry = session.address(chain, "IdentityRegistry" if home else "MirrorIdentityRegistry")
    token = session.deployment.tokens[0].addresses[chain]
    bridge = session.address(chain, "TokenBridge")
    rpc = session.rpc(chain)
    end = await rpc.block_number()
    found = await logs(rpc, [registry, token, bridge], 0, end)
    registry_abi = contracts.load("IdentityRegistry")
    token_abi = contracts.load("SecurityToken")
    exempt = _exempt_transfers(found, token, bridge)
    records: dict[str, IdentityRecord] = {}
    times: dict[int, int] = {}
    bad: list[Movement] = []
    checked = 0
    for log in found:
        address = str(log["address"]).lower()
        block, _index = _position(log)
        if address == registry.lower():
            for event, v, _ in contracts.decode_logs(registry_abi, [log]):
                if event.name == "RecordUpdated":
                    records[str(v["wallet"]).lower()] = IdentityRecord(
                        bytes(v["investorId"]), v["country"], v["expiresAt"], v["flags"],
                        v["version"],
                    )  # fmt: skip
            continue
        if address != token.lower() or block < start:
            continue
        for event, v, _ in contracts.decode_logs(token_abi, [log]):
            if event.name != "Transfer" or _position(log) in exempt:
                continue
            tx = str(log["transactionHash"])
            for side, wallet in (("send", str(v["from"])), ("receive", str(v["to"]))):
                key = wallet.lower()
                if key not in watched or key == ZERO:
                    continue
                checked += 1
                record = records.get(key)
                if block not in times:
                    times[block] = (await rpc.block(block)).timestamp
                if not _valid(record, times[block]):
                    bad.append(Movement(chain, block, tx, wallet, side, v["value"], record))
    return bad, checked


def _exempt_transfers(found: list[dict[str, Any]], token: str, bridge: str) -> set[tuple[int, int]]:
    """Positions of the Transfer logs of enforcement moves and give-backs: the Transfer
    that a ``ForcedTransfer`` (token) or a ``Returned`` (bridge) event follows in the same
    transaction, with the same recipient and amount."""
    token_abi = contracts.load("SecurityToken")
    bridge_abi = contracts.load("TokenBridge")
    last: dict[str, list[tuple[tuple[int, int], str, int]]] = defaultdict(list)
    exempt: set[tuple[int, int]] = set()
    for log in found:
        address = str(log["address"]).lower()
        tx = str(log["transactionHash"])
        abi = token_abi if address == token.lower() else bridge_abi
        if address not in (token.lower(), bridge.lower()):
            continue
        for event, v, _ in contracts.decode_logs(abi, [log]):
            if event.name == "Transfer":
                last[tx].append((_position(log), str(v["to"]).lower(), int(v["value"])))
            elif event.name in ("ForcedTransfer", "Returned"):
                to = str(v["to"] if event.name == "ForcedTransfer" else v["recipient"]).lower()
                amount = int(v["amount"])
                match = [p for p, t, a in last[tx] if t == to and a == amount]
                if match:
                    exempt.add(match[-1])
    return exempt


def _valid(record: IdentityRecord | None, timestamp: int) -> bool:
    return (
        record is not None
        and record.exists
        and not record.revoked
        and not record.frozen
        and timestamp < record.expires_at
    )
