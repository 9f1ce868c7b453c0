"""The issuer's distribution commands against the chains (docs/distributions.md).

``declare`` reads the record-date snapshot over every chain, allocates the amount, declares
the distribution on the home DistributionManager and commits one root per chain (the
remote ones travel through the mailbox; the relayer carries them). The entitlements and
their proofs are kept in ``$STBRIDGE_HOME/distributions/<network>/<id>.json``, which
``pay``, ``claim``, ``status`` and ``report`` read. Every input is checked before the first
transaction: a refused command changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from relayer.chain import contracts
from relayer.chain.wallet import Sent
from relayer.config import Config, PrivateKey
from relayer.deployment import distribution_wiring as wiring
from relayer.deployment.chainread import calls, logs, require_agent, topic
from relayer.deployment.session import Session
from relayer.distribution.entitlements import Allocation, Entitlement, allocate
from relayer.distribution.merkle import Tree, leaf_hash
from relayer.distribution.snapshot import snapshot
from relayer.errors import DeploymentError, InputError
from relayer.inputs import format_time, format_tokens, parse_amount
from relayer.paths import state_dir

MANAGER = "DistributionManager"
DISTRIBUTOR = "Distributor"
ERC20 = "PaymentToken"
STATES = {0: "unpaid", 1: "paid", 2: "reserved", 3: "reclaimed"}
PAY_BATCH = 100
PAY_WAVE = 4  # pay transactions in the pool at once


# ---------------------------------------------------------------------- the kept record


@dataclass
class Leaf:
    chain: str
    wallet: str
    balance: int
    gross: int
    withheld: int
    country: int
    investor_id: str
    dust: bool
    proof: list[str] = field(default_factory=list)

    @property
    def net(self) -> int:
        return self.gross - self.withheld


@dataclass
class Record:
    """What ``declare`` keeps about one distribution."""

    network: str
    id: int
    token: str
    record_date: int
    amount: int
    claim_until: int
    payment_decimals: int
    payment_symbol: str
    dust_account: str
    roots: dict[str, str]  # chain -> 0x root
    totals: dict[str, int]
    leaves: list[Leaf]
    commits: dict[str, str] = field(default_factory=dict)  # chain -> commit tx
    dust: int = 0  # rounding dust, on the dust account's home leaf

    def on(self, chain: str) -> list[Leaf]:
        return [leaf for leaf in self.leaves if leaf.chain == chain]

    def to_json(self) -> str:
        doc = {**self.__dict__, "leaves": [dict(leaf.__dict__) for leaf in self.leaves]}
        doc["amount"] = str(self.amount)
        doc["totals"] = {c: str(v) for c, v in self.totals.items()}
        for leaf in doc["leaves"]:
            leaf["balance"], leaf["gross"], leaf["withheld"] = (
                str(leaf["balance"]), str(leaf["gross"]), str(leaf["withheld"]),
            )  # fmt: skip
        return json.dumps(doc, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Record:
        doc = json.loads(text)
        leaves = [
            Leaf(**{**x, "balance": int(x["balance"]), "gross": int(x["gross"]),
                    "withheld": int(x["withheld"])})
            for x in doc.pop("leaves")
        ]  # fmt: skip
        doc["amount"] = int(doc["amount"])
        doc["totals"] = {c: int(v) for c, v in doc["totals"].items()}
        return cls(**doc, leaves=leaves)


def records_dir(network: str, directory: Path | None = None) -> Path:
    return (directory or state_dir()) / "distributions" / network


def save_record(record: Record) -> Path:
    path = records_dir(record.network) / f"{record.id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(record.to_json())
    tmp.replace(path)
    return path


def load_record(config: Config, distribution_id: int) -> Record:
    path = records_dir(config.network) / f"{distribution_id}.json"
    try:
        return Record.from_json(path.read_text())
    except FileNotFoundError:
        raise InputError(
            f"distribution {distribution_id} was not declared from this machine ({path} is "
            "missing): give the id `distribution declare` printed"
        ) from None


# ---------------------------------------------------------------------- inputs


def withholding_rates(config: Config) -> dict[int, Fraction]:
    """The config's withholding table as exact fractions (percent -> fraction)."""
    rates: dict[int, Fraction] = {}
    for country, percent in config.distribution.withholding.items():
        try:
            rate = Fraction(Decimal(percent)) / 100
            code = int(country)
        except (InvalidOperation, ValueError):
            raise InputError(
                f"distribution.withholding: {country} = {percent!r} is not a country code "
                'and a percentage (write "276" = "26.375")'
            ) from None
        if not 0 <= rate <= 1:
            raise InputError(f"distribution.withholding: {percent}% is not between 0 and 100")
        rates[code] = rate
    return rates


def _payment(session: Session, chain: str) -> str:
    address = session.deployment.payment_token.get(chain)
    if address is None:
        raise InputError(
            f"chain {chain} has no payment token in this deployment: add [payment_token] to "
            "the config and run `stbridge deploy`"
        )
    return address


def _distributor(session: Session, chain: str) -> str:
    address = session.deployment.chain(chain).contracts.get(DISTRIBUTOR)
    if address is None:
        raise InputError(
            f"chain {chain} has no Distributor in this deployment: run `stbridge deploy` again"
        )
    return address


async def _now(session: Session, chain: str) -> int:
    return (await session.rpc(chain).block("latest")).timestamp


# ---------------------------------------------------------------------- declare


@dataclass
class Declared:
    record: Record
    path: Path
    tx_hashes: list[str]
    gas: int


async def declare(
    session: Session,
    key: PrivateKey,
    token: str,
    record_date: int,
    amount_text: str | None,
    per_unit_text: str | None,
    claim_until: int,
) -> Declared:
    """Snapshot, allocate, declare, commit the roots; every check before the first send."""
    config = session.config
    try:
        deployed = session.token(token)
    except DeploymentError as exc:
        raise InputError(f"--token: {exc}") from None
    home = config.home
    await session.reachable(home)
    manager = session.deployment.chain(home).contracts.get(MANAGER)
    if manager is None:
        raise InputError("this deployment has no DistributionManager: run `stbridge deploy`")
    now = await _now(session, home)
    if record_date >= now:
        raise InputError(
            f"record date {format_time(record_date)} is in the future (the home chain is at "
            f"{format_time(now)}): give a date that has passed"
        )
    if claim_until <= now:
        raise InputError(f"claim deadline {format_time(claim_until)} has passed: give a later one")
    payments = {c: _payment(session, c) for c in deployed.addresses}
    for c in deployed.addresses:
        _distributor(session, c)
    decimals = int(await session.call(home, payments[home], ERC20, "decimals"))
    symbol = str(await session.call(home, payments[home], ERC20, "symbol"))
    amount = parse_amount(amount_text, decimals, "--amount") if amount_text else None
    per_unit = parse_amount(per_unit_text, decimals, "--per-unit") if per_unit_text else None
    if (amount is None) == (per_unit is None):
        raise InputError("give --amount (the total) or --per-unit (per whole token), not both")
    await require_agent(session, home, manager, MANAGER, key)
    rates = withholding_rates(config)
    positions = await snapshot(session, deployed.symbol, record_date)
    if per_unit is not None:
        amount = sum(p.balance * per_unit // 10**deployed.decimals for p in positions)
        if amount == 0:
            raise InputError("--per-unit gives nobody anything at the record date")
    assert amount is not None
    dust = wiring.dust_account(config)
    try:
        allocation = allocate(
            positions, amount, home=home, dust_account=dust, rates=rates,
            per_unit=per_unit, decimals=deployed.decimals,
        )  # fmt: skip
    except ValueError as exc:
        raise InputError(f"cannot allocate: {exc}") from None
    return await commit_allocation(
        session, key, deployed.symbol, record_date, claim_until, allocation, payments,
        decimals, symbol,
    )  # fmt: skip


async def commit_allocation(
    session: Session, key: PrivateKey, token: str, record_date: int, claim_until: int,
    allocation: Allocation, payments: dict[str, str], decimals: int, symbol: str,
) -> Declared:  # fmt: skip
    """Declare ``allocation`` on the home manager and commit its roots (``declare``'s sends;
    the benchmark calls it with a synthetic allocation)."""
    config = session.config
    deployed = session.token(token)
    manager = session.deployment.chain(config.home).contracts[MANAGER]
    amount = allocation.amount
    wallet = session.wallet(config.home, key)
    receipt = await wallet.transact(
        manager, contracts.load(MANAGER).fn("declare"),
        deployed.home_address, record_date, amount, claim_until, what="declare a distribution",
    )  # fmt: skip
    gas = int(str(receipt.get("gasUsed", "0x0")), 16)
    found = contracts.decode_logs(contracts.load(MANAGER), receipt.get("logs") or [])
    distribution_id = next(int(v["id"]) for e, v, _ in found if e.name == "Declared")
    record = _record(session, distribution_id, deployed.symbol, record_date, amount,
                     claim_until, decimals, symbol, allocation)  # fmt: skip
    path = save_record(record)
    sent: list[Sent] = []
    fn = contracts.load(MANAGER).fn("commitRoot")
    for chain, root in record.roots.items():
        domain = config.chain(chain).chain_id
        data = fn.encode(
            distribution_id, domain, payments[chain], bytes.fromhex(root[2:]), record.totals[chain]
        )
        sent.append(await wallet.send(manager, data, what=f"commit the root of {chain}"))
    receipts = await wallet.wait(sent)
    for (chain, _), s in zip(record.roots.items(), sent, strict=True):
        record.commits[chain] = s.hash
    gas += sum(int(str(r.get("gasUsed", "0x0")), 16) for r in receipts)
    save_record(record)
    return Declared(record, path, [receipt.get("transactionHash", "")] + [s.hash for s in sent],
                    gas)  # fmt: skip


def _record(
    session: Session, distribution_id: int, symbol: str, record_date: int, amount: int,
    claim_until: int, decimals: int, payment_symbol: str, allocation: Allocation,
) -> Record:  # fmt: skip
    roots: dict[str, str] = {}
    totals: dict[str, int] = {}
    leaves: list[Leaf] = []
    for chain, rows in allocation.per_chain().items():
        domain = session.config.chain(chain).chain_id
        hashes = [_leaf(domain, distribution_id, e) for e in rows]
        tree = Tree.build(hashes)
        roots[chain] = "0x" + tree.root.hex()
        totals[chain] = sum(e.gross for e in rows)
        for i, e in enumerate(rows):
            leaves.append(
                Leaf(e.chain, e.wallet, e.balance, e.gross, e.withheld, e.country,
                     e.investor_id, e.dust, ["0x" + p.hex() for p in tree.proof(i)])
            )  # fmt: skip
    return Record(
        session.config.network, distribution_id, symbol, record_date, amount, claim_until,
        decimals, payment_symbol, allocation.dust_account, roots, totals, leaves,
        dust=allocation.dust,
    )  # fmt: skip


def _leaf(domain: int, distribution_id: int, e: Entitlement) -> bytes:
    return leaf_hash(domain, distribution_id, e.wallet, e.gross, e.withheld)


# ---------------------------------------------------------------------- status


@dataclass
class ChainStatus:
    chain: str
    opened: bool  # the root arrived (remote chains: through the mailbox)
    entitled: int
    funded: int
    paid: int
    reserved: int
    reclaimed: int
    closed: bool
    holders: int
    paid_holders: int
    reserved_holders: int

    @property
    def unclaimed(self) -> int:
        return self.entitled - self.paid - self.reserved - self.reclaimed

    @property
    def to_fund(self) -> int:
        return max(0, self.entitled - self.funded)


async def _accounts(session: Session, chain: str, distribution_id: int) -> dict[str, Any]:
    raw = await session.call(chain, _distributor(session, chain), DISTRIBUTOR, "accounts",
                             distribution_id)  # fmt: skip
    keys = ("paymentToken", "claimUntil", "closed", "root", "total", "funded", "paid",
            "reserved", "reclaimed")  # fmt: skip
    return dict(zip(keys, raw, strict=True))


async def settlements(session: Session, record: Record, chain: str) -> list[int]:
    """The on-chain state (STATES) of each of ``chain``'s leaves, in order."""
    fn = contracts.load(DISTRIBUTOR).fn("settlement")
    target = _distributor(session, chain)
    requests = [(target, fn, [record.id, leaf.wallet]) for leaf in record.on(chain)]
    answers = await calls(session.rpc(chain), requests)
    return [int(a[0]) for a in answers]


async def status(session: Session, distribution_id: int) -> tuple[Record, list[ChainStatus]]:
    record = load_record(session.config, distribution_id)
    out = []
    for chain in record.roots:
        await session.reachable(chain)
        a = await _accounts(session, chain, distribution_id)
        states = await settlements(session, record, chain)
        out.append(
            ChainStatus(
                chain, a["root"] != b"\x00" * 32, record.totals[chain], int(a["funded"]),
                int(a["paid"]), int(a["reserved"]), int(a["reclaimed"]), bool(a["closed"]),
                len(states), states.count(1), states.count(2),
            )
        )  # fmt: skip
    return record, out


# ---------------------------------------------------------------------- fund


@dataclass
class ChainTx:
    chain: str
    what: str
    tx_hashes: list[str]
    gas: int = 0


async def fund(
    session: Session, key: PrivateKey, distribution_id: int, only: str | None = None
) -> list[ChainTx]:
    """Fund each chain's distributor with what it still needs, from ``key``'s payment tokens."""
    record = load_record(session.config, distribution_id)
    chains = _chains(record, only)
    plan: list[tuple[str, int]] = []
    for chain in chains:  # every check first
        await session.reachable(chain)
        a = await _accounts(session, chain, distribution_id)
        if a["root"] == b"\x00" * 32:
            raise InputError(
                f"chain {chain} has not received distribution {distribution_id}'s root yet "
                "(the relayer carries it; is `stbridge run` up?): fund it once it has arrived"
            )
        need = record.totals[chain] - int(a["funded"])
        if need <= 0:
            continue
        has = int(await session.call(chain, _payment(session, chain), ERC20, "balanceOf",
                                     key.address))  # fmt: skip
        if has < need:
            show = _money(record)
            raise InputError(
                f"payment token short on chain {chain}: {key.address} holds {show(has)}, the "
                f"distributor needs {show(need)}; nothing was sent"
            )
        plan.append((chain, need))
    done = []
    for chain, need in plan:
        wallet = session.wallet(chain, key)
        token, target = _payment(session, chain), _distributor(session, chain)
        erc20 = contracts.load(ERC20).fn
        s1 = await wallet.send(token, erc20("approve").encode(target, need), what="approve")
        s2 = await wallet.send(
            target, contracts.load(DISTRIBUTOR).fn("fund").encode(distribution_id, need),
            what=f"fund distribution {distribution_id} on {chain}",
        )  # fmt: skip
        receipts = await wallet.wait([s1, s2])
        done.append(ChainTx(chain, f"funded {_money(record)(need)}", [s1.hash, s2.hash],
                            sum(int(str(r["gasUsed"]), 16) for r in receipts)))  # fmt: skip
    return done


def _money(record: Record) -> Any:
    return lambda units: format_tokens(units, record.payment_decimals, record.payment_symbol)


def _chains(record: Record, only: str | None) -> list[str]:
    if only is None:
        return list(record.roots)
    if only not in record.roots:
        raise InputError(
            f"distribution {record.id} has no entitlements on chain {only} "
            f"(it has {', '.join(record.roots)})"
        )
    return [only]


# ---------------------------------------------------------------------- pay and claim


@dataclass
class PayResult:
    chain: str
    paid: int = 0
    reserved: int = 0
    skipped: int = 0  # settled before
    batches: int = 0
    gas: int = 0
    tx_hashes: list[str] = field(default_factory=list)


def _payment_tuple(leaf: Leaf) -> tuple[str, int, int, list[bytes]]:
    return (leaf.wallet, leaf.gross, leaf.withheld, [bytes.fromhex(p[2:]) for p in leaf.proof])


async def pay(
    session: Session, key: PrivateKey, distribution_id: int, only: str | None = None,
    batch: int = PAY_BATCH,
) -> list[PayResult]:  # fmt: skip
    """Push every unsettled leaf, in batches; resumable (settled leaves are left out)."""
    record = load_record(session.config, distribution_id)
    results = []
    for chain in _chains(record, only):
        await session.reachable(chain)
        a = await _accounts(session, chain, distribution_id)
        if a["root"] == b"\x00" * 32:
            raise InputError(f"chain {chain} has not received the root yet; try again shortly")
        if await _now(session, chain) >= int(a["claimUntil"]) or a["closed"]:
            raise InputError(
                f"distribution {distribution_id} closed for payment on chain {chain} at "
                f"{format_time(int(a['claimUntil']))}"
            )
        states = await settlements(session, record, chain)
        todo = [leaf for leaf, s in zip(record.on(chain), states, strict=True) if s == 0]
        need = sum(leaf.gross for leaf in todo)
        available = int(a["funded"]) - int(a["paid"]) - int(a["reserved"]) - int(a["reclaimed"])
        if need > available:
            show = _money(record)
            raise InputError(
                f"chain {chain}: the distributor holds {show(available)} for distribution "
                f"{distribution_id} but {len(todo)} unpaid holder(s) need {show(need)}: run "
                "`stbridge distribution fund` first"
            )
        result = PayResult(chain, skipped=len(states) - len(todo))
        wallet = session.wallet(chain, key)
        fn = contracts.load(DISTRIBUTOR).fn("pay")
        target = _distributor(session, chain)
        sent: list[Sent] = []
        receipts: list[dict[str, Any]] = []
        parts = [todo[i : i + batch] for i in range(0, len(todo), batch)]
        for wave in range(0, len(parts), PAY_WAVE):  # a few blocks' worth at a time
            now_sent = []
            for part in parts[wave : wave + PAY_WAVE]:
                data = fn.encode(distribution_id, [_payment_tuple(leaf) for leaf in part])
                now_sent.append(await wallet.send(target, data, what=f"pay {len(part)} holders"))
            receipts += await wallet.wait(now_sent, within=120.0 + 30.0 * len(now_sent))
            sent += now_sent
        abi = contracts.load(DISTRIBUTOR)
        for s, r in zip(sent, receipts, strict=True):
            result.tx_hashes.append(s.hash)
            result.gas += int(str(r["gasUsed"]), 16)
            for event, _values, _ in contracts.decode_logs(abi, r.get("logs") or []):
                if event.name == "Paid":
                    result.paid += 1
                elif event.name == "Reserved":
                    result.reserved += 1
        result.batches = len(sent)
        results.append(result)
    return results


async def claim(
    session: Session, key: PrivateKey, distribution_id: int, chain: str
) -> tuple[Leaf, ChainTx]:
    """The holder (``key``) claims its leaf on ``chain``."""
    record = load_record(session.config, distribution_id)
    _chains(record, chain)
    leaf = next((x for x in record.on(chain) if x.wallet.lower() == key.address.lower()), None)
    if leaf is None:
        raise InputError(
            f"{key.address} has no entitlement in distribution {distribution_id} on chain "
            f"{chain}: sign with the holder's key"
        )
    await session.reachable(chain)
    state = (await settlements(session, record, chain))[record.on(chain).index(leaf)]
    if state:
        raise InputError(f"{key.address} is already {STATES[state]} on chain {chain}")
    wallet = session.wallet(chain, key)
    receipt = await wallet.transact(
        _distributor(session, chain), contracts.load(DISTRIBUTOR).fn("claim"),
        distribution_id, leaf.gross, leaf.withheld, [bytes.fromhex(p[2:]) for p in leaf.proof],
        what="claim",
    )  # fmt: skip
    gas = int(str(receipt["gasUsed"]), 16)
    return leaf, ChainTx(chain, "claimed", [str(receipt.get("transactionHash", ""))], gas)


# ---------------------------------------------------------------------- close and report


async def close(
    session: Session, key: PrivateKey, distribution_id: int, to: str, only: str | None = None
) -> list[ChainTx]:
    """After the deadline: unclaimed amounts back to ``to`` (reserved ones stay reserved)."""
    record = load_record(session.config, distribution_id)
    chains = _chains(record, only)
    for chain in chains:
        await session.reachable(chain)
        now = await _now(session, chain)
        if now < record.claim_until:
            raise InputError(
                f"distribution {distribution_id} is open until {format_time(record.claim_until)}"
                f" (chain {chain} is at {format_time(now)}): close it after the deadline"
            )
        await require_agent(session, chain, _distributor(session, chain), DISTRIBUTOR, key)
    done = []
    for chain in chains:
        a = await _accounts(session, chain, distribution_id)
        if a["closed"]:
            continue
        wallet = session.wallet(chain, key)
        receipt = await wallet.transact(
            _distributor(session, chain), contracts.load(DISTRIBUTOR).fn("close"),
            distribution_id, to, what="close",
        )  # fmt: skip
        back = 0
        for event, values, _ in contracts.decode_logs(
            contracts.load(DISTRIBUTOR), receipt.get("logs") or []
        ):
            if event.name == "Closed":
                back = int(values["unclaimed"])
        done.append(ChainTx(chain, f"returned {_money(record)(back)} to {to}",
                            [str(receipt.get("transactionHash", ""))]))  # fmt: skip
    return done


@dataclass
class ReportRow:
    chain: str
    wallet: str
    investor_id: str
    country: int
    balance: int
    gross: int
    withheld: int
    net: int
    state: str
    tx: str


async def report(session: Session, distribution_id: int) -> tuple[Record, list[ReportRow]]:
    """One row per holder and chain, with the payment's transaction when there is one."""
    record = load_record(session.config, distribution_id)
    rows = []
    abi = contracts.load(DISTRIBUTOR)
    for chain in record.roots:
        await session.reachable(chain)
        states = await settlements(session, record, chain)
        target = _distributor(session, chain)
        rpc = session.rpc(chain)
        start = session.deployment.chain(chain).start_block
        head = await rpc.block_number()
        id_topic = "0x" + distribution_id.to_bytes(32, "big").hex()
        found = await logs(rpc, target, start, head, [topic(DISTRIBUTOR, "Paid"), id_topic])
        txs = {}
        for _event, values, log in contracts.decode_logs(abi, found):
            txs[str(values["holder"]).lower()] = str(log["transactionHash"])
        for leaf, state in zip(record.on(chain), states, strict=True):
            rows.append(
                ReportRow(chain, leaf.wallet, leaf.investor_id, leaf.country, leaf.balance,
                          leaf.gross, leaf.withheld, leaf.net, STATES[state],
                          txs.get(leaf.wallet.lower(), ""))
            )  # fmt: skip
    return record, rows


async def settle_reserved(
    session: Session, key: PrivateKey, distribution_id: int, chain: str, holder: str,
    *, release: bool, to: str | None = None,
) -> ChainTx:  # fmt: skip
    """Pay a reserved holder who is no longer blocked (``release``), or take its reserved
    amount back to ``to`` (reclaim)."""
    record = load_record(session.config, distribution_id)
    _chains(record, chain)
    await session.reachable(chain)
    target = _distributor(session, chain)
    state, gross, _withheld = await session.call(
        chain, target, DISTRIBUTOR, "settlement", distribution_id, holder
    )
    if int(state) != 2:
        raise InputError(
            f"{holder} is {STATES[int(state)]} on chain {chain}, not reserved: nothing to "
            f"{'release' if release else 'reclaim'}"
        )
    await require_agent(session, chain, target, DISTRIBUTOR, key)
    if release:
        flags = (await session.call(chain, _registry(session, chain), "IdentityRegistry",
                                    "statusOf", holder))[2]  # fmt: skip
        if int(flags) & 3:
            raise InputError(
                f"{holder} is still revoked or frozen on chain {chain}: unfreeze or restore the "
                "record first (and let the relayer carry it), or reclaim the amount"
            )
        fn, args, what = "release", [distribution_id, holder], "released"
    else:
        assert to is not None
        fn, args, what = "reclaim", [distribution_id, holder, to], f"reclaimed to {to}"
    receipt = await session.wallet(chain, key).transact(
        target, contracts.load(DISTRIBUTOR).fn(fn), *args, what=fn
    )
    return ChainTx(chain, f"{what} {_money(record)(int(gross))} of {holder}",
                   [str(receipt.get("transactionHash", ""))])  # fmt: skip


def _registry(session: Session, chain: str) -> str:
    contracts_here = session.deployment.chain(chain).contracts
    return contracts_here.get("IdentityRegistry") or contracts_here["MirrorIdentityRegistry"]


async def commit_missing(session: Session, key: PrivateKey, distribution_id: int) -> list[str]:
    """Commit the roots a cut ``declare`` left uncommitted (read from the manager first);
    returns the chains committed now."""
    record = load_record(session.config, distribution_id)
    home = session.config.home
    await session.reachable(home)
    manager = session.deployment.chain(home).contracts[MANAGER]
    await require_agent(session, home, manager, MANAGER, key)
    fn = contracts.load(MANAGER).fn("commitRoot")
    wallet = session.wallet(home, key)
    done, sent = [], []
    for chain, root in record.roots.items():
        domain = session.config.chain(chain).chain_id
        have = await session.call(home, manager, MANAGER, "rootOf", distribution_id, domain)
        if have != b"\x00" * 32:
            continue
        data = fn.encode(distribution_id, domain, _payment(session, chain),
                         bytes.fromhex(root[2:]), record.totals[chain])  # fmt: skip
        sent.append(await wallet.send(manager, data, what=f"commit the root of {chain}"))
        done.append(chain)
    if sent:
        await wallet.wait(sent)
        for chain, s in zip(done, sent, strict=True):
            record.commits[chain] = s.hash
        save_record(record)
    return done
