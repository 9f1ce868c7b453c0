"""The bridge's books, read from the chains: a consistent cut, its messages, the escrow.

Both ``captable`` and ``audit`` read every chain at one **cut**: a block per chain.
Given a time, each chain is read at its last block not after it; by default the time
is one second before the older of the chains' latest blocks, so no block can still
join the cut. A message is processed on its destination after it was dispatched on its
origin, so a time cut never shows a delivery without its dispatch (blocks given per
chain may; that is reported).

In-flight amounts come from the chains, not from a relayer's store: every bridge
message (a Transfer, or the Return of a bounce) whose ``Process`` has not happened on
its destination within the cut. For each token and remote chain ``r``:

    locked_r  = sent home→r − received on home from r − returned on home (bounced on r)
    locked_r == supply on r + in flight on the lane      (the escrow invariant)

and the home bridge's balance equals the sum of ``locked_r`` over the remotes (tokens
transferred to the bridge outside the bridge's own flows are a surplus, reported apart).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from relayer.chain import contracts
from relayer.core.message import Message, decode_message
from relayer.deployment.chainread import logs, topic
from relayer.deployment.record import TokenDeployment
from relayer.deployment.session import Session
from relayer.errors import InputError
from relayer.inputs import CutSpec, format_time


@dataclass(frozen=True)
class Cut:
    """The block each chain is read at, and that block's time."""

    blocks: dict[str, int]
    times: dict[str, int]
    label: str


async def _last_block_at(session: Session, chain: str, moment: int, head: int) -> int:
    rpc = session.rpc(chain)
    if (await rpc.block(0)).timestamp > moment:
        raise InputError(f"chain {chain} did not exist yet at {format_time(moment)}")
    low, high = 0, head  # block `low` is at or before the moment, `high` may be after
    while low < high:
        mid = (low + high + 1) // 2
        if (await rpc.block(mid)).timestamp <= moment:
            low = mid
        else:
            high = mid - 1
    return low


async def resolve_cut(session: Session, spec: CutSpec) -> Cut:
    """The blocks to read, per the ``--at-block`` values (see the module docstring)."""
    names = [c.name for c in session.config.chains]
    for name in names:
        await session.reachable(name)
    heads = {n: await session.rpc(n).block("latest") for n in names}
    stable = min(h.timestamp for h in heads.values()) - 1
    blocks: dict[str, int] = {}
    if spec.at_time is not None:
        if spec.at_time > stable:
            raise InputError(
                f"--at-block {format_time(spec.at_time)} is not final on every chain yet "
                f"(the latest complete second is {format_time(stable)}): pick an earlier time"
            )
        moment = spec.at_time
        label = f"at {format_time(moment)}"
    else:
        moment = stable
        label = "latest" if not spec.blocks else spec.describe()
    for name in names:
        if name in spec.blocks:
            wanted = spec.blocks[name]
            if wanted > heads[name].number:
                raise InputError(
                    f"--at-block {name}:{wanted} is past chain {name}'s head ({heads[name].number})"
                )
            blocks[name] = wanted
        else:
            blocks[name] = await _last_block_at(session, name, moment, heads[name].number)
    times = {n: (await session.rpc(n).block(b)).timestamp for n, b in blocks.items()}
    return Cut(blocks, times, label)


@dataclass(frozen=True)
class Sent:
    id: bytes
    home_token: str
    destination: int
    sender: str
    recipient: str
    amount: int


@dataclass(frozen=True)
class Bounce:
    transfer_id: bytes
    return_id: bytes
    origin: int
    sender: str
    amount: int


@dataclass
class ChainHistory:
    """One chain's bridge and mailbox events within the cut."""

    chain: str
    chain_id: int
    sent: list[Sent] = field(default_factory=list)
    received: list[tuple[bytes, str, int, int]] = field(
        default_factory=list
    )  # id, token, origin, amount
    bounced: list[Bounce] = field(default_factory=list)
    returned: list[tuple[bytes, str, int]] = field(
        default_factory=list
    )  # transfer id, token, amount
    dispatched: dict[bytes, Message] = field(default_factory=dict)
    processed: dict[bytes, int] = field(default_factory=dict)  # id -> origin domain


@dataclass
class History:
    cut: Cut
    chains: dict[str, ChainHistory]
    home: str
    inconsistencies: list[str] = field(default_factory=list)

    def by_id(self, chain_id: int) -> ChainHistory | None:
        return next((c for c in self.chains.values() if c.chain_id == chain_id), None)


async def _chain_history(session: Session, chain: str, cut: Cut) -> ChainHistory:
    deployed = session.deployment.chain(chain)
    rpc = session.rpc(chain)
    start, end = deployed.start_block, cut.blocks[chain]
    history = ChainHistory(chain, deployed.chain_id)
    bridge_abi, mailbox_abi = contracts.load("TokenBridge"), contracts.load("Mailbox")
    bridge_topics = [
        topic("TokenBridge", e) for e in ("TransferSent", "TransferReceived", "Bounced", "Returned")
    ]
    found = await logs(rpc, deployed.address("TokenBridge"), start, end, [bridge_topics])
    for event, v, _ in contracts.decode_logs(bridge_abi, found):
        if event.name == "TransferSent":
            history.sent.append(
                Sent(bytes(v["id"]), _cs(v["homeToken"]), v["destination"], _cs(v["sender"]),
                     _cs(v["recipient"]), v["amount"])
            )  # fmt: skip
        elif event.name == "TransferReceived":
            history.received.append(
                (bytes(v["transferId"]), _cs(v["homeToken"]), v["origin"], v["amount"])
            )
        elif event.name == "Bounced":
            history.bounced.append(
                Bounce(bytes(v["transferId"]), bytes(v["returnId"]), v["origin"],
                       _cs(v["sender"]), v["amount"])
            )  # fmt: skip
        elif event.name == "Returned":
            history.returned.append((bytes(v["transferId"]), _cs(v["homeToken"]), v["amount"]))
    mailbox_topics = [topic("Mailbox", "Dispatch"), topic("Mailbox", "Process")]
    found = await logs(rpc, deployed.address("Mailbox"), start, end, [mailbox_topics])
    for event, v, _ in contracts.decode_logs(mailbox_abi, found):
        if event.name == "Dispatch":
            history.dispatched[bytes(v["id"])] = decode_message(bytes(v["message"]))
        else:
            history.processed[bytes(v["id"])] = v["origin"]
    return history


def _cs(address: Any) -> str:
    from eth_utils.address import to_checksum_address

    return str(to_checksum_address(address))


async def read_history(session: Session, cut: Cut) -> History:
    """Every chain's bridge and mailbox events within ``cut``, checked for consistency."""
    names = [c.name for c in session.config.chains]
    chains = dict(
        zip(
            names,
            await asyncio.gather(*(_chain_history(session, n, cut) for n in names)),
            strict=True,
        )
    )
    history = History(cut, chains, session.config.home)
    for chain in chains.values():
        early = [
            i for i, origin in chain.processed.items()
            if (o := history.by_id(origin)) is not None and i not in o.dispatched
        ]  # fmt: skip
        if early:
            history.inconsistencies.append(
                f"{len(early)} message(s) delivered on {chain.chain} within the cut were "
                f"dispatched after it (first 0x{early[0].hex()}): the blocks given are not one "
                "moment; give a time instead"
            )
    return history


@dataclass
class LaneBalance:
    """The escrow invariant of one token on one lane."""

    symbol: str
    remote: str
    locked: int
    remote_supply: int
    in_flight: int
    in_flight_messages: int

    @property
    def difference(self) -> int:
        """locked − (remote supply + in flight): zero when the books balance."""
        return self.locked - self.remote_supply - self.in_flight

    @property
    def ok(self) -> bool:
        return self.difference == 0


def lane_balance(
    history: History, token: TokenDeployment, remote: str, remote_supply: int
) -> LaneBalance:
    """The escrow invariant for ``token`` between the home chain and ``remote``."""
    home, there = history.chains[history.home], history.chains[remote]
    ht = token.home_address.lower()
    out = [s for s in home.sent if s.home_token.lower() == ht and s.destination == there.chain_id]
    back = [s for s in there.sent if s.home_token.lower() == ht and s.destination == home.chain_id]
    out_ids, back_ids = {s.id for s in out}, {s.id for s in back}
    received = sum(
        amount for _i, tok, origin, amount in home.received
        if tok.lower() == ht and origin == there.chain_id
    )  # fmt: skip
    returned = sum(amount for tid, _tok, amount in home.returned if tid in out_ids)
    flying: list[int] = [s.amount for s in out if s.id not in there.processed]
    flying += [s.amount for s in back if s.id not in home.processed]
    flying += [
        b.amount
        for b in there.bounced
        if b.transfer_id in out_ids and b.return_id not in home.processed
    ]
    flying += [
        b.amount
        for b in home.bounced
        if b.transfer_id in back_ids and b.return_id not in there.processed
    ]
    locked = sum(s.amount for s in out) - received - returned
    return LaneBalance(token.symbol, remote, locked, remote_supply, sum(flying), len(flying))


@dataclass
class EscrowCheck:
    """The home bridge's balance of a token against what its lanes account for."""

    symbol: str
    decimals: int
    escrow: str
    balance: int
    lanes: list[LaneBalance]

    @property
    def locked(self) -> int:
        return sum(lane.locked for lane in self.lanes)

    @property
    def surplus(self) -> int:
        """More in escrow than the lanes account for (tokens sent to the bridge directly)."""
        return max(0, self.balance - self.locked)

    @property
    def deficit(self) -> int:
        return max(0, self.locked - self.balance)


async def escrow_check(session: Session, history: History, token: TokenDeployment) -> EscrowCheck:
    """Read supplies and the escrow balance at the cut and balance the books."""
    fn = contracts.load("SecurityToken").fn
    cut = history.cut
    lanes = []
    for remote in (c.name for c in session.config.remote_chains):
        if remote not in token.addresses:
            continue
        raw = await session.rpc(remote).call(
            token.addresses[remote], fn("totalSupply").encode(), cut.blocks[remote]
        )
        lanes.append(lane_balance(history, token, remote, fn("totalSupply").decode(raw)[0]))
    escrow = session.address(history.home, "TokenBridge")
    raw = await session.rpc(history.home).call(
        token.home_address, fn("balanceOf").encode(escrow), cut.blocks[history.home]
    )
    return EscrowCheck(token.symbol, token.decimals, escrow, fn("balanceOf").decode(raw)[0], lanes)


def undelivered(history: History, origin: str, destination: str) -> list[Message]:
    """Messages from ``origin`` to ``destination`` dispatched but not processed in the cut."""
    source, target = history.chains[origin], history.chains[destination]
    return [
        m for i, m in source.dispatched.items()
        if m.destination == target.chain_id and i not in target.processed
    ]  # fmt: skip
