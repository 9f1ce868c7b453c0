"""Reading many things from a chain at once: logs in chunks, calls in batches, agent checks.

The issuer's commands read whole histories (every Transfer of a token, every record
update) and many balances; these helpers keep that to a few round trips and turn a
missing role into one line before anything is signed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relayer.chain import contracts
from relayer.chain.rpc import ChainRpc, RpcError
from relayer.config import PrivateKey
from relayer.core.hashing import keccak256
from relayer.deployment.session import Session
from relayer.errors import InputError

AGENT_ROLE = keccak256(b"AGENT_ROLE")
LOG_CHUNK = 5_000  # blocks per eth_getLogs; halved when a node refuses the range
CALL_BATCH = 200  # eth_calls per JSON-RPC batch


async def logs(
    rpc: ChainRpc,
    address: str | Sequence[str],
    start: int,
    end: int,
    topics: Sequence[Any] | None = None,
) -> list[dict[str, Any]]:
    """Every log in ``start..end`` (inclusive), fetched in chunks, in chain order."""
    found: list[dict[str, Any]] = []
    chunk = LOG_CHUNK
    first = start
    while first <= end:
        last = min(end, first + chunk - 1)
        try:
            found += await rpc.logs(address, first, last, topics)
        except RpcError:  # the node refused the range: ask for less
            if chunk == 1:
                raise
            chunk = max(1, chunk // 2)
            continue
        first = last + 1
    found.sort(key=lambda log: (int(log["blockNumber"], 16), int(log["logIndex"], 16)))
    return found


async def calls(
    rpc: ChainRpc,
    requests: Sequence[tuple[str, contracts.Function, Sequence[Any]]],
    block: int | str = "latest",
) -> list[Any]:
    """``(to, fn, args)`` calls at ``block``, batched; each the single output or the tuple."""
    tag = hex(block) if isinstance(block, int) else block
    results: list[Any] = []
    for first in range(0, len(requests), CALL_BATCH):
        part = requests[first : first + CALL_BATCH]
        answers = await rpc.batch(
            [
                ("eth_call", [{"to": to, "data": "0x" + fn.encode(*args).hex()}, tag])
                for to, fn, args in part
            ]
        )
        for (_to, fn, _args), answer in zip(part, answers, strict=True):
            out = fn.decode(bytes.fromhex(str(answer)[2:]))
            results.append(out[0] if len(out) == 1 else out)
    return results


async def require_agent(
    session: Session, chain: str, target: str, contract: str, key: PrivateKey
) -> None:
    """InputError unless ``key`` holds AGENT_ROLE on ``contract`` at ``target``."""
    if not await session.call(chain, target, contract, "hasRole", AGENT_ROLE, key.address):
        raise InputError(
            f"key {key.address} is not an agent of the {contract} on chain {chain} "
            "(it lacks AGENT_ROLE): sign with the issuer agent's key (--key-env VARIABLE)"
        )


def topic(artifact: str, event: str) -> str:
    """topic0 of ``artifact``'s ``event``, as 0x-hex."""
    return "0x" + contracts.load(artifact).event(event).topic.hex()
