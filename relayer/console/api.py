"""What the console's API answers, read from the store and the chains.

Each function returns one JSON-ready object (the shapes of ``objects``). Chain reads
that scan logs (the cap table, the investors, the audit) are cached a few seconds, so
a console left open and refreshing costs the relayer little (``bench/console_cost.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eth_utils.address import to_checksum_address

from relayer.chain import contracts
from relayer.config import Config
from relayer.console.objects import (
    audit_json,
    captable_json,
    history_json,
    investor_json,
    lock_json,
    message_json,
    message_life_json,
    record_json,
)
from relayer.core.bodies import BodyError, IdentityRecord, decode_body
from relayer.core.message import decode_message
from relayer.daemon.waiting import explain
from relayer.deployment.chainread import logs, topic
from relayer.deployment.record import Deployment
from relayer.deployment.session import Session
from relayer.errors import ChainError, InputError, NotFound
from relayer.inputs import parse_address, parse_cut
from relayer.issuer.investors import compare_copy, read_record, record_status, show_investor
from relayer.store import LockState, MessageRow, Status, Store

if TYPE_CHECKING:
    from relayer.daemon.relayer import Relayer

WINDOWS = {"15m": (900.0, 15.0), "hour": (3600.0, 60.0), "day": (86400.0, 1800.0)}
"""Chart windows: (span, bucket) in seconds."""

CACHE_SECONDS = 10.0
WALLET_SCAN = 5000  # messages searched by wallet: the newest this many

Section = Callable[["ConsoleApi"], Awaitable[Any]]
SECTIONS: dict[str, Section] = {}
"""Further read-only sections (distributions, votes): ``register_section("votes", fn)``
makes ``GET /api/sections/votes`` answer ``await fn(api)``; ``/api/sections`` lists them."""


def register_section(name: str, read: Section) -> None:
    """Add a section to the API (for relayer/distribution and relayer/vote)."""
    SECTIONS[name] = read


@dataclass
class _Cached:
    at: float
    value: Any


@dataclass
class ConsoleApi:
    """The API's reads over one relayer's config, deployment, store and running parts."""

    config: Config
    deployment: Deployment
    store: Store
    relayer: Relayer | None = None
    clock: Callable[[], float] = time.time
    _cache: dict[str, _Cached] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    @property
    def names(self) -> dict[int, str]:
        return {c.chain_id: c.name for c in self.config.chains}

    async def cached(self, key: str, read: Callable[[], Awaitable[Any]]) -> Any:
        """``read()``'s value, computed at most once per CACHE_SECONDS (and once at a time)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit.at < CACHE_SECONDS:
                return hit.value
            value = await read()
            self._cache[key] = _Cached(time.monotonic(), value)
            return value

    def forget(self) -> None:
        """Drop cached chain reads (after an action changed them)."""
        self._cache.clear()

    # --- operator ------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        reasons = self.relayer.not_ready() if self.relayer else ["no relayer in this process"]
        return {
            "network": self.config.network,
            "home": self.config.home,
            "ready": not reasons,
            "reasons": reasons,
            "now": self.clock(),
            "tokens": [t.symbol for t in self.deployment.tokens],
            "sections": sorted(SECTIONS),
        }

    async def chains(self) -> list[dict[str, Any]]:
        """Each chain: reachable or not (asked now), head and cursor, halted, key balance."""
        out = []
        relayer = self.relayer
        for chain in self.config.chains:
            item: dict[str, Any] = {"name": chain.name, "chain_id": chain.chain_id}
            indexer = relayer.parts.indexers.get(chain.name) if relayer else None
            if indexer is not None:
                item.update(head=indexer.state.head, cursor=indexer.state.cursor)
                item["halted"] = indexer.state.halted
            rpc = relayer.parts.rpcs.get(chain.name) if relayer else None
            item["reachable"], item["error"] = True, None
            if rpc is not None:
                try:
                    item["latest_block"] = await asyncio.wait_for(rpc.block_number(), 3)
                except (ChainError, TimeoutError) as exc:
                    item["reachable"], item["error"] = False, str(exc) or "no answer in 3 s"
            out.append(item)
        return out

    async def lanes(self, window: str = "hour") -> list[dict[str, Any]]:
        """Every lane: counts by status, backlog and its oldest age, throughput and latency
        over the last hour and day, and its history over ``window`` for the charts."""
        if window not in WINDOWS:
            raise InputError(f"window {window!r}: one of {', '.join(WINDOWS)}")
        now = self.clock()
        counts = await self.store.status_counts()
        halted = self._halted()
        out = []
        for origin in self.config.chains:
            for destination in self.config.chains:
                if origin.name == destination.name:
                    continue
                o, d = origin.chain_id, destination.chain_id
                backlog, oldest = await self.store.backlog(o, d)
                totals = {}
                for span_name in ("hour", "day"):
                    span, bucket = WINDOWS[span_name]
                    h = await self.store.lane_history(
                        o, d, since=now - span, until=now, bucket=span
                    )
                    b = h.buckets[0]
                    totals[span_name] = {
                        "delivered": b.delivered,
                        "dispatched": b.dispatched,
                        "per_minute": round(b.delivered / (span / 60), 3),
                        "latency_avg": b.latency_avg,
                        "latency_max": b.latency_max,
                    }
                span, bucket = WINDOWS[window]
                history = await self.store.lane_history(
                    o, d, since=now - span, until=now, bucket=bucket
                )
                out.append({
                    "lane": f"{origin.name}->{destination.name}",
                    "origin": origin.name,
                    "destination": destination.name,
                    "counts": {s.value: counts.get((o, d, s.value), 0) for s in Status},
                    "backlog": backlog,
                    "oldest_age": now - oldest if oldest else None,
                    "halted": halted.get(origin.name) or halted.get(destination.name),
                    "last_hour": totals["hour"],
                    "last_day": totals["day"],
                    "history": history_json(history),
                })  # fmt: skip
        return out

    def _halted(self) -> dict[str, str]:
        if self.relayer is None:
            return {}
        return {
            name: indexer.state.halted
            for name, indexer in self.relayer.parts.indexers.items()
            if indexer.state.halted
        }

    async def messages(
        self,
        *,
        message_id: str | None = None,
        wallet: str | None = None,
        lane: str | None = None,
        status: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Messages newest first, by id prefix, wallet (a transfer's sender or recipient,
        a record's wallet: among the newest WALLET_SCAN), lane and status."""
        if not 1 <= limit <= 1000:
            raise InputError(f"limit {limit}: between 1 and 1000")
        wanted = None
        if status:
            try:
                wanted = Status(status)
            except ValueError:
                raise InputError(
                    f"status {status!r}: one of {', '.join(s.value for s in Status)}"
                ) from None
        origin = destination = None
        if lane:
            o, arrow, d = lane.partition("->")
            if not arrow:
                raise InputError(f"lane {lane!r}: write ORIGIN->DESTINATION, e.g. a->b")
            origin, destination = self._chain_id(o.strip()), self._chain_id(d.strip())
        if message_id:
            text = message_id.strip().lower().removeprefix("0x")
            if not text or any(c not in "0123456789abcdef" for c in text):
                raise InputError(f"{message_id!r} is not a message id (0x and hex digits)")
            rows = await self.store.find_message(text)
            rows = [
                r for r in rows
                if (wanted is None or r.status == wanted)
                and (origin is None or (r.origin, r.destination) == (origin, destination))
            ]  # fmt: skip
        else:
            rows = await self.store.messages(
                status=wanted,
                origin=origin,
                destination=destination,
                limit=WALLET_SCAN if wallet else limit,
            )
        if wallet:
            address = parse_address(wallet, "wallet").lower()
            rows = [r for r in rows if address in _wallets(r)]
        return [message_json(m, self.names) for m in rows[:limit]]

    def _chain_id(self, name: str) -> int:
        for chain in self.config.chains:
            if chain.name == name:
                return chain.chain_id
        known = ", ".join(c.name for c in self.config.chains)
        raise InputError(f"no chain named {name!r} (chains: {known})")

    async def message(self, message_id: str) -> dict[str, Any]:
        """One message's whole life."""
        from relayer.store.lookup import resolve_message

        m = await resolve_message(self.store, message_id)
        why = await explain(
            self.store,
            m,
            validators=[k.address for k in self.config.accounts.validators],
            threshold=self.config.validators.threshold,
            chain_names=self.names,
        )
        return await message_life(self.store, m, self.names, waiting_for=why)

    async def validators(self) -> list[dict[str, Any]]:
        """Each validator's latest signed checkpoint per origin, against the origin's tree."""
        out = []
        trees = self.relayer.parts.origins if self.relayer else {}
        for key in self.config.accounts.validators:
            progress = {}
            for chain in self.config.chains:
                signed = await self.store.latest_signed_index(chain.chain_id, key.address)
                tree = trees.get(chain.name)
                count = tree.count if tree is not None else None
                progress[chain.name] = {"signed_index": signed, "tree_count": count}
            out.append({"address": key.address, "origins": progress})
        return out

    async def keys(self) -> list[dict[str, Any]]:
        """The relayer's key on each chain: balance (asked now) against the minimum."""
        address = self.config.accounts.relayer.address
        minimum = self.config.relayer.min_relayer_balance_wei
        out = []
        async with Session(self.config, self.deployment) as session:
            for chain in self.config.chains:
                item: dict[str, Any] = {"chain": chain.name, "address": address,
                                        "minimum_wei": str(minimum)}  # fmt: skip
                running = self.relayer.parts.rpcs.get(chain.name) if self.relayer else None
                rpc = running or session.rpc(chain.name)  # the relayer's connection if it runs
                try:
                    wei = await asyncio.wait_for(rpc.balance(address), 3)
                    item.update(balance_wei=str(wei), low=wei < minimum, error=None)
                except (ChainError, TimeoutError) as exc:
                    item.update(balance_wei=None, low=None, error=str(exc) or "no answer")
                out.append(item)
        return out

    async def dvp(self, state: str | None = None) -> list[dict[str, Any]]:
        """The hash-time locks the DvP watcher follows, soonest expiry first."""
        wanted = None
        if state:
            try:
                wanted = LockState(state)
            except ValueError:
                raise InputError(
                    f"state {state!r}: one of {', '.join(s.value for s in LockState)}"
                ) from None
        locks = await self.store.htlc_locks(state=wanted, limit=1000)
        return [lock_json(lock, self.names) for lock in locks]

    # --- issuer ----------------------------------------------------------------------

    async def captable(self, token: str | None, at: str | None) -> dict[str, Any]:
        """The cap table across chains (``at``: a date, a time or @unix), reconciled."""
        from relayer.issuer.captable import cap_table

        symbol = token or self.deployment.tokens[0].symbol
        spec = parse_cut([at] if at else [], [c.name for c in self.config.chains])

        async def read() -> dict[str, Any]:
            async with Session(self.config, self.deployment) as session:
                return captable_json(await cap_table(session, symbol, spec))

        return await self.cached(f"captable:{symbol}:{at}", read)

    async def audit(self) -> dict[str, Any]:
        """The compliance audit: mirrors against the home registry, holdings reviewed."""
        from relayer.issuer.audit import audit

        async def read() -> dict[str, Any]:
            async with Session(self.config, self.deployment) as session:
                return audit_json(await audit(session))

        return await self.cached("audit", read)

    async def investors(self) -> list[dict[str, Any]]:
        """Every wallet the home registry has a record for, and each mirror's copy."""

        async def read() -> list[dict[str, Any]]:
            async with Session(self.config, self.deployment) as session:
                return await _investors(session)

        return await self.cached("investors", read)

    async def investor(self, wallet: str) -> dict[str, Any]:
        """One investor's records and the token transfers that touched the wallet."""
        address = parse_address(wallet, "wallet")
        async with Session(self.config, self.deployment) as session:
            view = investor_json(await show_investor(session, address))
            view["history"] = await _holder_history(session, address)
        return view


async def message_life(
    store: Store, m: MessageRow, names: dict[int, str], *, waiting_for: str | None = None
) -> dict[str, Any]:
    """A message with its checkpoint, transactions, bounce and events, and what it waits
    for (``/api/messages/{id}`` and ``stbridge messages show --json``)."""
    checkpoint = await store.checkpoint_covering(m.origin, m.nonce)
    txs = await store.message_txs(m.id)
    returned = await store.return_of(m.id)
    events = [
        {"chain": names.get(e.chain_id), "name": e.name, "tx": e.tx_hash,
         "block": e.block, "data": _plain(e.data)}
        for e in await store.events(key=m.id)
    ]  # fmt: skip
    life = message_life_json(
        m, names, checkpoint=checkpoint, txs=txs, returned_by=returned, events=events
    )
    return {**life, "waiting_for": waiting_for or None}


def _plain(value: Any) -> Any:
    """Event data as JSON: bytes as 0x-hex, big ints as strings."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        return str(value)
    return value


def _wallets(m: MessageRow) -> set[str]:
    """The wallets a message's body names (a transfer's ends, a record's wallet)."""
    try:
        body = decode_body(decode_message(m.raw).body)
    except (BodyError, ValueError):  # not one of ours: it names no wallet
        return set()
    found = set()
    for name in ("sender", "recipient", "wallet"):
        value = getattr(body, name, None)
        if isinstance(value, str):
            found.add(value.lower())
    return found


async def _investors(session: Session) -> list[dict[str, Any]]:
    home = session.config.home
    rpc = session.rpc(home)
    head = await rpc.block_number()
    registry = session.address(home, "IdentityRegistry")
    start = session.deployment.chain(home).start_block
    found = await logs(rpc, registry, start, head, [topic("IdentityRegistry", "RecordUpdated")])
    abi = contracts.load("IdentityRegistry")
    records: dict[str, IdentityRecord] = {}
    for _event, v, _ in contracts.decode_logs(abi, found):
        records[to_checksum_address(v["wallet"])] = IdentityRecord(
            bytes(v["investorId"]), v["country"], v["expiresAt"], v["flags"], v["version"]
        )
    now = (await rpc.block("latest")).timestamp
    out = []
    for wallet, record in records.items():
        mirrors: list[dict[str, Any]] = []
        for chain in session.config.remote_chains:
            mirror = session.address(chain.name, "MirrorIdentityRegistry")
            copy = await read_record(session, chain.name, mirror, wallet)
            mirrors.append({"chain": chain.name, "state": compare_copy(record, copy),
                            "version": copy.version})  # fmt: skip
        out.append({
            "wallet": wallet,
            "status": record_status(record, now),
            "home": {"chain": home, **record_json(record)},  # type: ignore[dict-item]
            "mirrors": mirrors,
        })  # fmt: skip
    return out


async def _holder_history(session: Session, wallet: str) -> list[dict[str, Any]]:
    """Every Transfer of the deployment's tokens from or to ``wallet``, per chain."""
    word = "0x" + "00" * 12 + wallet.lower().removeprefix("0x")
    transfer = topic("SecurityToken", "Transfer")
    abi = contracts.load("SecurityToken")
    out = []
    for token in session.deployment.tokens:
        for chain, address in token.addresses.items():
            rpc = session.rpc(chain)
            head = await rpc.block_number()
            start = session.deployment.chain(chain).start_block
            found = await logs(rpc, address, start, head, [transfer, word])
            found += await logs(rpc, address, start, head, [transfer, None, word])
            for _event, v, log in contracts.decode_logs(abi, found):
                out.append({
                    "token": token.symbol, "chain": chain,
                    "block": int(log["blockNumber"], 16), "tx": log["transactionHash"],
                    "from": to_checksum_address(v["from"]), "to": to_checksum_address(v["to"]),
                    "amount": str(v["value"]),
                })  # fmt: skip
    out.sort(key=lambda t: (t["chain"], t["block"]))
    return out


__all__ = ["SECTIONS", "ConsoleApi", "NotFound", "register_section"]
