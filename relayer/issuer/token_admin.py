"""The issuer agent's token commands: mint, burn, pause, forced transfer, and the rules.

Supply is issued on the home chain (``mint``, ``burn``); a remote token's supply only
moves through the bridge. Pause and the rules (country lists, maximum holders, maximum
balance, lock-up) live on each chain's token: they are set on every chain, with only the
calls whose state differs sent, so running a command twice sends nothing the second
time and a chain that drifted is brought back. A movement the token would refuse is
stopped before signing, with the ERC-1404 reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from relayer.bridge.precheck import refuse_own_contract
from relayer.chain import contracts
from relayer.chain.wallet import Sent
from relayer.config import PrivateKey
from relayer.deployment.chainread import logs, require_agent, topic
from relayer.deployment.record import TokenDeployment
from relayer.deployment.session import Session
from relayer.errors import InputError
from relayer.inputs import format_expiry, format_tokens

ARTIFACT = "SecurityToken"


@dataclass
class ChainTx:
    """What a command did on one chain."""

    chain: str
    what: list[str]
    tx_hashes: list[str] = field(default_factory=list)


@dataclass
class RulesView:
    """One chain's token rules."""

    chain: str
    paused: bool
    allow_list_enabled: bool
    allowed: list[int]
    denied: list[int]
    max_holders: int
    max_balance: int
    lockup_until: int
    holder_count: int

    def rules(self) -> tuple[Any, ...]:
        """What must agree between chains (not the pause, not the holder count)."""
        return (
            self.allow_list_enabled,
            tuple(self.allowed),
            tuple(self.denied),
            self.max_holders,
            self.max_balance,
            self.lockup_until,
        )


@dataclass
class RuleChanges:
    """What ``token rules set`` asks for; None or empty leaves a rule as it is."""

    allow: list[int] = field(default_factory=list)
    disallow: list[int] = field(default_factory=list)
    deny: list[int] = field(default_factory=list)
    undeny: list[int] = field(default_factory=list)
    allow_list: bool | None = None
    max_holders: int | None = None
    max_balance: int | None = None
    lockup_until: int | None = None

    def empty(self) -> bool:
        lists = self.allow or self.disallow or self.deny or self.undeny
        scalars = (self.allow_list, self.max_holders, self.max_balance, self.lockup_until)
        return not lists and all(v is None for v in scalars)


def _chains_of(token: TokenDeployment, only: str | None) -> list[str]:
    if only is None:
        return list(token.addresses)
    if only not in token.addresses:
        raise InputError(f"{token.symbol} is not deployed on chain {only}")
    return [only]


async def _restriction(session: Session, chain: str, address: str, code: int) -> str:
    text = await session.call(chain, address, ARTIFACT, "messageForTransferRestriction", code)
    return f"{text} (ERC-1404 code {code})"


async def _send(
    session: Session, key: PrivateKey, chain: str, to: str, calls: Sequence[tuple[bytes, str]]
) -> ChainTx:
    """Send ``(data, what)`` calls back to back on ``chain`` and wait for all of them."""
    wallet = session.wallet(chain, key)
    sent: list[Sent] = []
    for data, what in calls:
        sent.append(await wallet.send(to, data, what=f"{what} on {chain}"))
    await wallet.wait(sent)
    return ChainTx(chain, [w for _, w in calls], [s.hash for s in sent])


async def mint(session: Session, key: PrivateKey, token: str, to: str, amount: int) -> ChainTx:
    """Issue ``amount`` base units to ``to`` on the home chain."""
    deployed = session.token(token)
    home = deployed.home_chain
    refuse_own_contract(session, home, to)
    await session.reachable(home)
    address = deployed.home_address
    await require_agent(session, home, address, ARTIFACT, key)
    code = await session.call(
        home, address, ARTIFACT, "detectTransferRestriction", "0x" + "00" * 20, to, amount
    )
    if code:
        reason = await _restriction(session, home, address, code)
        raise InputError(f"{to} cannot receive {deployed.symbol}: {reason}")
    data = contracts.load(ARTIFACT).fn("mint").encode(to, amount)
    return await _send(session, key, home, address, [(data, f"mint {deployed.symbol}")])


async def _balance(session: Session, chain: str, address: str, holder: str) -> int:
    return int(await session.call(chain, address, ARTIFACT, "balanceOf", holder))


async def _amount_held(
    session: Session, deployed: TokenDeployment, chain: str, holder: str, amount: int | None
) -> int:
    held = await _balance(session, chain, deployed.addresses[chain], holder)
    if amount is None:
        if held == 0:
            raise InputError(f"{holder} holds no {deployed.symbol} on chain {chain}")
        return held
    if amount > held:
        has, asked = (format_tokens(n, deployed.decimals, deployed.symbol) for n in (held, amount))
        raise InputError(f"{holder} holds {has} on chain {chain}, fewer than the {asked} asked")
    return amount


async def burn(
    session: Session, key: PrivateKey, token: str, holder: str, amount: int | None
) -> tuple[ChainTx, int]:
    """Destroy ``amount`` (None: all) of ``holder``'s tokens on the home chain."""
    deployed = session.token(token)
    home = deployed.home_chain
    await session.reachable(home)
    await require_agent(session, home, deployed.home_address, ARTIFACT, key)
    units = await _amount_held(session, deployed, home, holder, amount)
    data = contracts.load(ARTIFACT).fn("burn").encode(holder, units)
    done = await _send(
        session, key, home, deployed.home_address, [(data, f"burn {deployed.symbol}")]
    )
    return done, units


async def forced_transfer(
    session: Session,
    key: PrivateKey,
    token: str,
    *,
    chain: str | None,
    source: str,
    to: str,
    amount: int | None,
) -> tuple[ChainTx, int]:
    """Move ``amount`` (None: all) from ``source`` to ``to`` on one chain (default home),
    frozen tokens included; the recipient must be able to receive."""
    deployed = session.token(token)
    where = chain or deployed.home_chain
    [where] = _chains_of(deployed, where)
    refuse_own_contract(session, where, to)
    await session.reachable(where)
    address = deployed.addresses[where]
    await require_agent(session, where, address, ARTIFACT, key)
    if source.lower() == to.lower():
        raise InputError("--from and --to are the same wallet")
    units = await _amount_held(session, deployed, where, source, amount)
    if not await session.call(where, address, ARTIFACT, "canReceive", to):
        code = await session.call(
            where, address, ARTIFACT, "detectTransferRestriction", "0x" + "00" * 20, to, 0
        )
        reason = await _restriction(session, where, address, code) if code else "refused"
        raise InputError(f"{to} cannot receive {deployed.symbol} on chain {where}: {reason}")
    data = contracts.load(ARTIFACT).fn("forcedTransfer").encode(source, to, units)
    done = await _send(
        session, key, where, address, [(data, f"forced transfer of {deployed.symbol}")]
    )
    return done, units


async def set_paused(
    session: Session, key: PrivateKey, token: str, paused: bool, chain: str | None = None
) -> list[ChainTx]:
    """Pause or unpause the token on every chain (or one); chains already so are skipped."""
    deployed = session.token(token)
    word = "pause" if paused else "unpause"
    done = []
    for name in _chains_of(deployed, chain):
        await session.reachable(name)
        address = deployed.addresses[name]
        await require_agent(session, name, address, ARTIFACT, key)
        if await session.call(name, address, ARTIFACT, "paused") == paused:
            done.append(ChainTx(name, [f"already {word}d"]))
            continue
        data = contracts.load(ARTIFACT).fn(word).encode()
        done.append(await _send(session, key, name, address, [(data, f"{word} {deployed.symbol}")]))
    return done


async def read_rules(session: Session, token: str) -> list[RulesView]:
    """Every chain's rules of ``token``; country lists rebuilt from the token's events."""
    deployed = session.token(token)
    views = []
    for chain, address in deployed.addresses.items():
        await session.reachable(chain)

        async def read(fn: str, *args: Any, chain: str = chain, address: str = address) -> Any:
            return await session.call(chain, address, ARTIFACT, fn, *args)

        allowed, denied = await _country_lists(session, chain, address)
        views.append(
            RulesView(
                chain=chain,
                paused=bool(await read("paused")),
                allow_list_enabled=bool(await read("allowListEnabled")),
                allowed=allowed,
                denied=denied,
                max_holders=int(await read("maxHolders")),
                max_balance=int(await read("maxBalance")),
                lockup_until=int(await read("lockupUntil")),
                holder_count=int(await read("holderCount")),
            )
        )
    return views


async def _country_lists(session: Session, chain: str, address: str) -> tuple[list[int], list[int]]:
    token_abi = contracts.load(ARTIFACT)
    rpc = session.rpc(chain)
    start = session.deployment.chain(chain).start_block
    found = await logs(
        rpc,
        address,
        start,
        await rpc.block_number(),
        [[topic(ARTIFACT, "CountryAllowed"), topic(ARTIFACT, "CountryDenied")]],
    )
    allowed: dict[int, bool] = {}
    denied: dict[int, bool] = {}
    for event, values, _log in contracts.decode_logs(token_abi, found):
        if event.name == "CountryAllowed":
            allowed[values["country"]] = values["allowed"]
        elif event.name == "CountryDenied":
            denied[values["country"]] = values["denied"]
    return sorted(c for c, on in allowed.items() if on), sorted(c for c, on in denied.items() if on)


def _calls_for(
    view: RulesView, changes: RuleChanges, show: Callable[[int], str]
) -> list[tuple[bytes, str]]:
    """The calls that bring one chain's rules to what ``changes`` asks, allow-list entries
    before the allow list is turned on (so nobody is shut out in between)."""
    fn = contracts.load(ARTIFACT).fn
    calls: list[tuple[bytes, str]] = []
    allow = [c for c in changes.allow if c not in view.allowed]
    disallow = [c for c in changes.disallow if c in view.allowed]
    deny = [c for c in changes.deny if c not in view.denied]
    undeny = [c for c in changes.undeny if c in view.denied]
    if allow:
        calls.append((fn("setCountriesAllowed").encode(allow, True), f"allow {_names(allow)}"))
    if deny:
        calls.append((fn("setCountriesDenied").encode(deny, True), f"deny {_names(deny)}"))
    if undeny:
        calls.append((fn("setCountriesDenied").encode(undeny, False), f"undeny {_names(undeny)}"))
    if changes.allow_list is not None and changes.allow_list != view.allow_list_enabled:
        word = "allow list on" if changes.allow_list else "allow list off"
        calls.append((fn("setAllowListEnabled").encode(changes.allow_list), word))
    if disallow:
        calls.append(
            (fn("setCountriesAllowed").encode(disallow, False), f"disallow {_names(disallow)}")
        )
    if changes.max_holders is not None and changes.max_holders != view.max_holders:
        shown = str(changes.max_holders) if changes.max_holders else "none"
        calls.append((fn("setMaxHolders").encode(changes.max_holders), f"max holders {shown}"))
    if changes.max_balance is not None and changes.max_balance != view.max_balance:
        shown = show(changes.max_balance) if changes.max_balance else "none"
        calls.append((fn("setMaxBalance").encode(changes.max_balance), f"max balance {shown}"))
    if changes.lockup_until is not None and changes.lockup_until != view.lockup_until:
        lockup = format_expiry(changes.lockup_until) if changes.lockup_until else "lifted"
        calls.append((fn("setLockupUntil").encode(changes.lockup_until), f"lock-up {lockup}"))
    return calls


def _names(codes: Sequence[int]) -> str:
    from relayer.countries import by_numeric

    return ",".join((c.alpha2 if (c := by_numeric(code)) else str(code)) for code in codes)


async def set_rules(
    session: Session,
    key: PrivateKey,
    token: str,
    changes: RuleChanges,
    show_amount: Callable[[int], str] = str,
) -> list[ChainTx]:
    """Apply ``changes`` on every chain of the token; one ChainTx per chain.

    ``show_amount`` renders base units in the lines of the result (the CLI's token units).
    """
    if changes.empty():
        raise InputError("no rule to set: see `stbridge token rules set --help`")
    both = set(changes.allow) & set(changes.disallow) or set(changes.deny) & set(changes.undeny)
    if both:
        raise InputError(f"country {_names(sorted(both))} is both added to and removed from a list")
    if changes.max_holders is not None and not 0 <= changes.max_holders < 2**32:
        raise InputError(f"maximum holders {changes.max_holders} does not fit (0 to 4294967295)")
    if changes.max_balance is not None and not 0 <= changes.max_balance < 2**128:
        raise InputError("maximum balance is too large")
    deployed = session.token(token)
    for chain, address in deployed.addresses.items():
        await session.reachable(chain)
        await require_agent(session, chain, address, ARTIFACT, key)
    done = []
    for view in await read_rules(session, token):
        calls = _calls_for(view, changes, show_amount)
        if not calls:
            done.append(ChainTx(view.chain, ["already so, nothing sent"]))
            continue
        address = deployed.addresses[view.chain]
        done.append(await _send(session, key, view.chain, address, calls))
    return done
