"""The vote commands against the chains.

``open`` takes the same record-date snapshot as a distribution (relayer.distribution.snapshot:
balances per chain, transfers in flight counted for their recipient on the destination),
opens the vote on the home VoteManager and commits one root of voting power per chain: a
holder's power on a chain is its balance there, so a holder on two chains votes on each with
that chain's part and no unit is counted twice. The record with the proofs is kept in
``$STBRIDGE_HOME/votes/<network>/<id>.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relayer.chain import contracts
from relayer.chain.wallet import Sent
from relayer.config import Config, PrivateKey
from relayer.core.checkpoint import sign_hash
from relayer.core.hashing import keccak256
from relayer.deployment.chainread import calls, require_agent
from relayer.deployment.session import Session
from relayer.distribution.merkle import Tree
from relayer.distribution.snapshot import snapshot
from relayer.errors import DeploymentError, InputError
from relayer.inputs import format_time
from relayer.paths import state_dir

MANAGER = "VoteManager"
BALLOT = "Ballot"
LEAF_PREFIX = b"STBRIDGE-VOTE-LEAF"


def leaf_hash(domain: int, vote_id: int, holder: str, power: int) -> bytes:
    """VoteLib.leaf: never a message, an inner node or a distribution leaf."""
    return keccak256(
        LEAF_PREFIX
        + domain.to_bytes(4, "big")
        + vote_id.to_bytes(8, "big")
        + bytes.fromhex(holder.lower().removeprefix("0x"))
        + power.to_bytes(32, "big")
    )


@dataclass
class Voter:
    chain: str
    wallet: str
    power: int
    proof: list[str] = field(default_factory=list)


@dataclass
class VoteRecord:
    network: str
    id: int
    token: str
    record_date: int
    closes: int
    question: str
    options: list[str]
    roots: dict[str, str]
    powers: dict[str, int]
    voters: list[Voter]

    def on(self, chain: str) -> list[Voter]:
        return [v for v in self.voters if v.chain == chain]

    def to_json(self) -> str:
        doc = {**self.__dict__, "voters": [dict(v.__dict__) for v in self.voters]}
        doc["powers"] = {c: str(p) for c, p in self.powers.items()}
        for v in doc["voters"]:
            v["power"] = str(v["power"])
        return json.dumps(doc, indent=1)

    @classmethod
    def from_json(cls, text: str) -> VoteRecord:
        doc = json.loads(text)
        voters = [Voter(**{**v, "power": int(v["power"])}) for v in doc.pop("voters")]
        doc["powers"] = {c: int(p) for c, p in doc["powers"].items()}
        return cls(**doc, voters=voters)


def _path(network: str, vote_id: int) -> Path:
    return state_dir() / "votes" / network / f"{vote_id}.json"


def load_vote(config: Config, vote_id: int) -> VoteRecord:
    path = _path(config.network, vote_id)
    try:
        return VoteRecord.from_json(path.read_text())
    except FileNotFoundError:
        raise InputError(
            f"vote {vote_id} was not opened from this machine ({path} is missing): give the id "
            "`vote open` printed"
        ) from None


def _save(record: VoteRecord) -> Path:
    path = _path(record.network, record.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record.to_json())
    return path


def _contract(session: Session, chain: str, name: str) -> str:
    address = session.deployment.chain(chain).contracts.get(name)
    if address is None:
        raise InputError(f"chain {chain} has no {name} in this deployment: run `stbridge deploy`")
    return address


def parse_options(text: str) -> list[str]:
    options = [o.strip() for o in text.split(",") if o.strip()]
    if len(options) < 2 or len(set(options)) != len(options) or len(options) > 255:
        raise InputError(f"--options {text!r}: give two or more distinct options, like yes,no")
    return options


async def open_vote(
    session: Session, key: PrivateKey, token: str, record_date: int, closes: int,
    question: str, options: list[str],
) -> tuple[VoteRecord, Path]:  # fmt: skip
    """Snapshot, open on home, commit a root of voting power per chain."""
    config = session.config
    try:
        deployed = session.token(token)
    except DeploymentError as exc:
        raise InputError(f"--token: {exc}") from None
    home = config.home
    await session.reachable(home)
    manager = _contract(session, home, MANAGER)
    now = (await session.rpc(home).block("latest")).timestamp
    if record_date >= now:
        raise InputError(
            f"record date {format_time(record_date)} is in the future (the home chain is at "
            f"{format_time(now)}): give a date that has passed"
        )
    if closes <= now:
        raise InputError(f"--closes {format_time(closes)} has passed: give a later time")
    if not question.strip():
        raise InputError("--question is empty: say what the holders vote on")
    for chain in deployed.addresses:
        _contract(session, chain, BALLOT)
    await require_agent(session, home, manager, MANAGER, key)
    positions = await snapshot(session, deployed.symbol, record_date)
    if not positions:
        raise InputError(f"nobody held {deployed.symbol} at {format_time(record_date)}")
    wallet = session.wallet(home, key)
    abi = contracts.load(MANAGER)
    receipt = await wallet.transact(
        manager, abi.fn("open"), deployed.home_address, record_date, closes, len(options),
        keccak256(question.encode()), what="open a vote",
    )  # fmt: skip
    found = contracts.decode_logs(abi, receipt.get("logs") or [])
    vote_id = next(int(v["id"]) for e, v, _ in found if e.name == "VoteOpened")
    roots: dict[str, str] = {}
    powers: dict[str, int] = {}
    voters: list[Voter] = []
    for chain in sorted({p.chain for p in positions}):
        here = [p for p in positions if p.chain == chain]
        domain = config.chain(chain).chain_id
        tree = Tree.build([leaf_hash(domain, vote_id, p.wallet, p.balance) for p in here])
        roots[chain] = "0x" + tree.root.hex()
        powers[chain] = sum(p.balance for p in here)
        for i, p in enumerate(here):
            voters.append(
                Voter(chain, p.wallet, p.balance, ["0x" + x.hex() for x in tree.proof(i)])
            )
    record = VoteRecord(config.network, vote_id, deployed.symbol, record_date, closes, question,
                        options, roots, powers, voters)  # fmt: skip
    path = _save(record)
    sent: list[Sent] = []
    for chain, root in roots.items():
        data = abi.fn("commitRoot").encode(
            vote_id, config.chain(chain).chain_id, bytes.fromhex(root[2:]), powers[chain]
        )
        sent.append(await wallet.send(manager, data, what=f"commit the vote root of {chain}"))
    await wallet.wait(sent)
    return record, path


def _option(record: VoteRecord, text: str) -> int:
    if text in record.options:
        return record.options.index(text)
    raise InputError(f"--option {text!r} is not one of {', '.join(record.options)}")


async def cast(
    session: Session, holder: PrivateKey, vote_id: int, chain: str, option: str,
    submitter: PrivateKey | None = None,
) -> str:  # fmt: skip
    """``holder`` votes on ``chain``; with ``submitter``, the holder signs (EIP-712) and the
    submitter sends it. Returns the transaction hash."""
    record = load_vote(session.config, vote_id)
    choice = _option(record, option)
    me = next((v for v in record.on(chain) if v.wallet.lower() == holder.address.lower()), None)
    if me is None:
        raise InputError(
            f"{holder.address} held no {record.token} on chain {chain} at the record date: "
            "vote on the chain where you held, with that wallet's key"
        )
    await session.reachable(chain)
    ballot = _contract(session, chain, BALLOT)
    if await session.call(chain, ballot, BALLOT, "voted", vote_id, holder.address):
        raise InputError(f"{holder.address} has voted already on chain {chain}")
    now = (await session.rpc(chain).block("latest")).timestamp
    if now >= record.closes:
        raise InputError(f"vote {vote_id} closed at {format_time(record.closes)}")
    abi = contracts.load(BALLOT)
    proof = [bytes.fromhex(p[2:]) for p in me.proof]
    if submitter is None:
        receipt = await session.wallet(chain, holder).transact(
            ballot, abi.fn("vote"), vote_id, choice, me.power, proof, what="vote"
        )
    else:
        digest = await session.call(chain, ballot, BALLOT, "voteDigest", vote_id,
                                    holder.address, choice, me.power)  # fmt: skip
        signature = sign_hash(holder.secret(), bytes(digest))
        receipt = await session.wallet(chain, submitter).transact(
            ballot, abi.fn("voteBySig"), vote_id, holder.address, choice, me.power, proof,
            signature, what="vote by signature",
        )  # fmt: skip
    return str(receipt.get("transactionHash", ""))


async def send_tallies(session: Session, key: PrivateKey, vote_id: int) -> list[str]:
    """After the deadline, each chain's tally goes home (anyone may send it)."""
    record = load_vote(session.config, vote_id)
    done = []
    for chain in record.roots:
        await session.reachable(chain)
        ballot = _contract(session, chain, BALLOT)
        poll = await session.call(chain, ballot, BALLOT, "poll", vote_id)
        if poll[3]:  # tallied
            continue
        now = (await session.rpc(chain).block("latest")).timestamp
        if now < record.closes:
            raise InputError(
                f"vote {vote_id} is open until {format_time(record.closes)} (chain {chain} is at "
                f"{format_time(now)}): send the tallies after it closes"
            )
        await session.wallet(chain, key).transact(
            ballot, contracts.load(BALLOT).fn("sendTally"), vote_id, what="send the tally"
        )
        done.append(chain)
    return done


@dataclass
class ChainVotes:
    chain: str
    opened: bool
    power: int
    voters: int
    voted: int
    tally: list[int]
    sent: bool
    counted_home: bool


@dataclass
class Tally:
    record: VoteRecord
    chains: list[ChainVotes]
    totals: list[int]

    @property
    def final(self) -> bool:
        return all(c.counted_home for c in self.chains)

    def as_json(self) -> dict[str, Any]:
        r = self.record
        return {
            "id": r.id,
            "token": r.token,
            "question": r.question,
            "record_date": r.record_date,
            "closes": r.closes,
            "final": self.final,
            "total_power": str(sum(r.powers.values())),
            "totals": {o: str(t) for o, t in zip(r.options, self.totals, strict=True)},
            "chains": [
                {
                    "chain": c.chain, "opened": c.opened, "power": str(c.power),
                    "voters": c.voters, "voted": c.voted,
                    "tally": {o: str(t) for o, t in zip(r.options, c.tally, strict=True)},
                    "sent": c.sent, "counted_home": c.counted_home,
                }
                for c in self.chains
            ],
        }  # fmt: skip


async def tally(session: Session, vote_id: int) -> Tally:
    """Each chain's votes so far, and the home chain's sum of the tallies it received."""
    record = load_vote(session.config, vote_id)
    home = session.config.home
    manager = _contract(session, home, MANAGER)
    chains = []
    for chain in record.roots:
        await session.reachable(chain)
        ballot = _contract(session, chain, BALLOT)
        poll = await session.call(chain, ballot, BALLOT, "poll", vote_id)
        fn = contracts.load(BALLOT).fn("voted")
        flags = await calls(
            session.rpc(chain), [(ballot, fn, [vote_id, v.wallet]) for v in record.on(chain)]
        )
        counted = await session.call(home, manager, MANAGER, "tallied", vote_id,
                                     session.config.chain(chain).chain_id)  # fmt: skip
        tally_now = [int(x) for x in poll[5]] or [0] * len(record.options)
        chains.append(
            ChainVotes(chain, poll[0] != b"\x00" * 32, record.powers[chain], len(flags),
                       sum(1 for f in flags if f), tally_now, bool(poll[3]), bool(counted))
        )  # fmt: skip
    totals = [int(x) for x in await session.call(home, manager, MANAGER, "totals", vote_id)]
    return Tally(record, chains, totals)
