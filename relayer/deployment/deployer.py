"""``stbridge deploy``: every contract on every chain, wired, recorded, and idempotent.

The home chain gets the mailbox, the identity registry, the security tokens, the
bridge (escrow), the timelock and the payment token; every remote chain gets a
mailbox, a mirror registry, mirror tokens, a bridge (mint and burn), a timelock and
a payment token; every chain a Distributor and a Ballot, the home chain a
DistributionManager and a VoteManager (relayer/deployment/distribution_wiring.py). Then the
wiring: validator sets per origin, enrollments, roles,
custodians, rate limits, the guardian, the timelock's security tokens, and on each bridge
the custodian contracts of every chain it serves (no transfer may name them as recipient).

Every wiring step reads the chain first and sends a transaction only when the state
differs, so a second run changes nothing and a run cut short carries on where it
stopped. Transactions go out back to back and are awaited per wave (a constructor
that reads another contract waits for it to be mined), so a devnet deployment takes
a few blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from relayer.chain import contracts
from relayer.chain.rpc import ChainRpc
from relayer.chain.wallet import Sent, Wallet
from relayer.config import ChainConfig, Config, public_url
from relayer.core.hashing import keccak256
from relayer.deployment import distribution_wiring
from relayer.deployment.record import (
    ChainDeployment,
    Deployment,
    TokenDeployment,
    deployment_path,
    load_deployment,
    save_deployment,
)
from relayer.errors import ChainError, DeploymentError, WrongChain
from relayer.telemetry.logging import get_logger

AGENT_ROLE = keccak256(b"AGENT_ROLE")
BRIDGE_ROLE = keccak256(b"BRIDGE_ROLE")
FORWARDER_ROLE = keccak256(b"FORWARDER_ROLE")
# Contracts no bridge transfer may name as recipient (TokenBridge.setCustodian), on every chain
CUSTODIAN_CONTRACTS = (
    "HashedTimelock",
    "TokenBridge",
    "Mailbox",
    "IdentityRegistry",
    "MirrorIdentityRegistry",
    # distributions and votes: a distributor holds the payment token for its holders
    "DistributionManager",
    "Distributor",
    "VoteManager",
    "Ballot",
)


def pad(address: str) -> bytes:
    """An address as bytes32, left-padded."""
    return b"\x00" * 12 + bytes.fromhex(address[2:])


@dataclass
class DeployReport:
    """What a deploy run did."""

    deployment: Deployment
    fresh: bool  # contracts were deployed (not found)
    changes: list[str] = field(default_factory=list)  # wiring transactions sent

    @property
    def changed(self) -> bool:
        return self.fresh or bool(self.changes)


class Deployer:
    """Deploys and wires stbridge on the chains of a config."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.rpcs: dict[str, ChainRpc] = {}
        self.deployer: dict[str, Wallet] = {}
        self.changes: list[str] = []
        self.log = get_logger("deploy")

    async def __aenter__(self) -> Deployer:
        for chain in self.config.chains:
            self.rpcs[chain.name] = rpc = ChainRpc(chain)
            self.deployer[chain.name] = Wallet(rpc, self.config.accounts.deployer)
        await asyncio.gather(*(self._check_chain(c) for c in self.config.chains))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for rpc in self.rpcs.values():
            with contextlib.suppress(Exception):
                await rpc.close()

    async def _check_chain(self, chain: ChainConfig) -> None:
        rpc = self.rpcs[chain.name]
        try:
            answered = await rpc.chain_id()
        except ChainError as exc:
            raise ChainError(
                f"chain {chain.name} ({public_url(chain.rpc_url)}) cannot be reached: start it "
                f"(`stbridge devnet up`) or fix chains.rpc_url ({_cause(exc)})"
            ) from None
        if answered != chain.chain_id:
            raise WrongChain(
                f"chain {chain.name} at {public_url(chain.rpc_url)} is chain {answered}, "
                f"the config says {chain.chain_id}"
            )

    # ---------------------------------------------------------------- the run

    async def run(self) -> DeployReport:
        existing = self._existing()
        fresh = existing is None or not await self._intact(existing)
        deployment = await self._deploy_contracts() if fresh else existing
        assert deployment is not None
        if not fresh:  # recorded before distributions and votes: add only their contracts
            await distribution_wiring.add_missing(self.config, deployment, self.deployer)
        save_deployment(deployment)
        await self._wire(deployment)
        return DeployReport(deployment=deployment, fresh=fresh, changes=list(self.changes))

    def _existing(self) -> Deployment | None:
        try:
            return load_deployment(self.config)
        except DeploymentError:
            return None

    async def _intact(self, deployment: Deployment) -> bool:
        """Every recorded contract still has code (a restarted devnet has none)."""
        for chain in self.config.chains:
            deployed = deployment.chains.get(chain.name)
            if deployed is None:
                return False
            wallet = self.deployer[chain.name]
            addresses = list(deployed.contracts.values())
            addresses += [
                t.addresses[chain.name] for t in deployment.tokens if chain.name in t.addresses
            ]
            for address in addresses:
                if not await wallet.code_at(address):
                    return False
        wanted = {t.symbol for t in self.config.tokens}
        return wanted == {t.symbol for t in deployment.tokens}

    async def _deploy_contracts(self) -> Deployment:
        config = self.config
        home = config.home_chain
        deployment = Deployment(network=config.network, home=home.name)
        starts = {c.name: await self.rpcs[c.name].block_number() for c in config.chains}
        home_addresses = await self._deploy_home(home)
        remote_addresses = await asyncio.gather(
            *(self._deploy_remote(c, home, home_addresses) for c in config.remote_chains)
        )
        all_addresses = {home.name: home_addresses}
        for chain, addresses in zip(config.remote_chains, remote_addresses, strict=True):
            all_addresses[chain.name] = addresses
        for chain in config.chains:
            contracts_here = {k: v for k, v in all_addresses[chain.name].items() if "." not in k}
            deployment.chains[chain.name] = ChainDeployment(
                name=chain.name,
                chain_id=chain.chain_id,
                start_block=starts[chain.name],
                contracts=contracts_here,
            )
            if config.payment_token is not None:
                deployment.payment_token[chain.name] = all_addresses[chain.name]["PaymentToken"]
        for token in config.tokens:
            deployment.tokens.append(
                TokenDeployment(
                    symbol=token.symbol,
                    name=token.name,
                    decimals=token.decimals,
                    home_chain=home.name,
                    addresses={
                        c.name: all_addresses[c.name][f"token.{token.symbol}"]
                        for c in config.chains
                    },
                )
            )
        return deployment

    async def _deploy_home(self, chain: ChainConfig) -> dict[str, str]:
        wallet = self.deployer[chain.name]
        owner = wallet.address
        first = await self._deploy_independent(wallet)
        mailbox = first["Mailbox"]
        second = {
            "IdentityRegistry": await wallet.deploy(
                contracts.load("IdentityRegistry"), mailbox, owner
            ),
            "TokenBridge": await wallet.deploy(
                contracts.load("TokenBridge"), mailbox, chain.chain_id, owner
            ),
        }
        await wallet.wait(list(second.values()))
        addresses = {**first, **{name: _addr(s) for name, s in second.items()}}
        addresses.update(await self._deploy_tokens(wallet, addresses["IdentityRegistry"]))
        addresses.update(
            await distribution_wiring.deploy(
                wallet, chain, chain, mailbox, addresses["IdentityRegistry"]
            )
        )
        return addresses

    async def _deploy_remote(
        self, chain: ChainConfig, home: ChainConfig, home_addresses: dict[str, str]
    ) -> dict[str, str]:
        wallet = self.deployer[chain.name]
        owner = wallet.address
        first = await self._deploy_independent(wallet)
        mailbox = first["Mailbox"]
        second = {
            "MirrorIdentityRegistry": await wallet.deploy(
                contracts.load("MirrorIdentityRegistry"),
                mailbox,
                home.chain_id,
                pad(home_addresses["IdentityRegistry"]),
                owner,
            ),
            "TokenBridge": await wallet.deploy(
                contracts.load("TokenBridge"), mailbox, home.chain_id, owner
            ),
        }
        await wallet.wait(list(second.values()))
        addresses = {**first, **{name: _addr(s) for name, s in second.items()}}
        addresses.update(await self._deploy_tokens(wallet, addresses["MirrorIdentityRegistry"]))
        addresses.update(
            await distribution_wiring.deploy(
                wallet, chain, home, mailbox, addresses["MirrorIdentityRegistry"]
            )
        )
        return addresses

    async def _deploy_independent(self, wallet: Wallet) -> dict[str, str]:
        """The contracts whose constructors read no other contract: one wave."""
        owner = wallet.address
        sent = {
            "Mailbox": await wallet.deploy(contracts.load("Mailbox"), owner),
            "HashedTimelock": await wallet.deploy(contracts.load("HashedTimelock"), owner),
        }
        if self.config.payment_token is not None:
            p = self.config.payment_token
            sent["PaymentToken"] = await wallet.deploy(
                contracts.load("PaymentToken"), p.name, p.symbol, p.decimals, owner
            )
        await wallet.wait(list(sent.values()))
        return {name: _addr(s) for name, s in sent.items()}

    async def _deploy_tokens(self, wallet: Wallet, registry: str) -> dict[str, str]:
        """The security tokens, reading their registry: the last wave."""
        sent = {
            f"token.{token.symbol}": await wallet.deploy(
                contracts.load("SecurityToken"),
                token.name,
                token.symbol,
                token.decimals,
                registry,
                wallet.address,
            )
            for token in self.config.tokens
        }
        await wallet.wait(list(sent.values()))
        return {name: _addr(s) for name, s in sent.items()}

    # ---------------------------------------------------------------- wiring

    async def _wire(self, deployment: Deployment) -> None:
        await asyncio.gather(*(self._wire_chain(c, deployment) for c in self.config.chains))

    async def _wire_chain(self, chain: ChainConfig, deployment: Deployment) -> None:
        """Apply every wiring step whose current state differs from the wanted one."""
        wallet = self.deployer[chain.name]
        sent: list[Sent] = []
        for step in self._steps(chain, deployment, wallet):
            if _normal(await step.current()) == _normal(step.wanted):
                continue
            sent.append(await wallet.send(step.to, step.data, what=f"{step.what} on {chain.name}"))
            self.changes.append(f"{chain.name}: {step.what}")
        if sent:
            await wallet.wait(sent)

    def _steps(self, chain: ChainConfig, deployment: Deployment, wallet: Wallet) -> list[Step]:
        config = self.config
        here = deployment.chain(chain.name)
        home = chain.name == config.home
        # lanes this chain's bridge serves: the home bridge all remotes, a remote the home
        peers = [
            c for c in config.chains if c.name != chain.name and (home or c.name == config.home)
        ]
        agent = config.accounts.issuer_agent.address
        bridge = here.address("TokenBridge")
        htlc = here.address("HashedTimelock")
        steps = self._mailbox_steps(chain, deployment, wallet)
        steps += self._bridge_steps(wallet, bridge, deployment, peers)
        steps += self._custodian_steps(wallet, bridge, deployment, [chain, *peers])
        for token_config, token in zip(config.tokens, deployment.tokens, strict=True):
            local = token.addresses[chain.name]
            steps += self._token_steps(wallet, token, local, bridge, htlc, agent, home)
            unit = 10**token_config.decimals
            limits = (token_config.rate_limit * unit, token_config.refill_per_second * unit)
            for peer in peers:
                for inbound in (False, True):
                    steps.append(_rate_limit_step(wallet, bridge, token, peer, inbound, limits))
        if home:
            steps += self._registry_steps(
                wallet, here.address("IdentityRegistry"), deployment, agent
            )
        else:
            mirror = here.address("MirrorIdentityRegistry")
            abi = contracts.load("MirrorIdentityRegistry")
            steps.append(
                _role_step(wallet, mirror, abi, FORWARDER_ROLE, bridge, "mirror forwarder")
            )
        steps += distribution_wiring.steps(config, chain, deployment, wallet)
        return steps

    def _mailbox_steps(
        self, chain: ChainConfig, deployment: Deployment, wallet: Wallet
    ) -> list[Step]:
        abi = contracts.load("Mailbox")
        mailbox = deployment.chain(chain.name).address("Mailbox")
        validators = sorted((k.address for k in self.config.accounts.validators), key=str.lower)
        threshold = self.config.validators.threshold
        steps = []
        for other in self.config.chains:
            if other.name == chain.name:
                continue
            origin_mailbox = pad(deployment.chain(other.name).address("Mailbox"))

            async def current(origin: int = other.chain_id) -> Any:
                got_mailbox = await wallet.call(mailbox, abi.fn("originMailbox"), origin)
                got = await wallet.call(mailbox, abi.fn("validators"), origin)
                got_threshold = await wallet.call(mailbox, abi.fn("threshold"), origin)
                return (got_mailbox, sorted(v.lower() for v in got), got_threshold)

            steps.append(
                Step(
                    f"validators for origin {other.name}",
                    current,
                    (origin_mailbox, [v.lower() for v in validators], threshold),
                    mailbox,
                    abi.fn("setOrigin").encode(
                        other.chain_id, origin_mailbox, validators, threshold
                    ),
                )
            )
        return steps

    def _bridge_steps(
        self, wallet: Wallet, bridge: str, deployment: Deployment, peers: Sequence[ChainConfig]
    ) -> list[Step]:
        abi = contracts.load("TokenBridge")
        steps = []
        for peer in peers:
            peer_bridge = deployment.chain(peer.name).address("TokenBridge")

            async def current(domain: int = peer.chain_id) -> Any:
                remote, _paused = await wallet.call(bridge, abi.fn("remote"), domain)
                return str(remote).lower()

            steps.append(
                Step(
                    f"enroll the bridge of {peer.name}",
                    current,
                    peer_bridge.lower(),
                    bridge,
                    abi.fn("enrollRemote").encode(peer.chain_id, peer_bridge),
                )
            )
        if self.config.accounts.guardian is not None:
            guardian = self.config.accounts.guardian.address
            steps.append(
                Step(
                    "bridge guardian",
                    lambda: wallet.call(bridge, abi.fn("guardian")),
                    guardian,
                    bridge,
                    abi.fn("setGuardian").encode(guardian),
                )
            )
        return steps

    def _custodian_steps(
        self, wallet: Wallet, bridge: str, deployment: Deployment, chains: Sequence[ChainConfig]
    ) -> list[Step]:
        """The bridge refuses, as recipients, the contracts that hold tokens only in their own
        books: each chain's timelock, bridge, mailbox and registry (TokenBridge.setCustodian)."""
        abi = contracts.load("TokenBridge")
        steps = []
        for other in chains:
            here = deployment.chain(other.name)
            for name in CUSTODIAN_CONTRACTS:
                if name not in here.contracts:
                    continue

                async def current(
                    domain: int = other.chain_id, account: str = here.contracts[name]
                ) -> Any:
                    return await wallet.call(bridge, abi.fn("isCustodian"), domain, account)

                steps.append(
                    Step(
                        f"custodian of {other.name}: {name}",
                        current,
                        True,
                        bridge,
                        abi.fn("setCustodian").encode(other.chain_id, here.contracts[name], True),
                    )
                )
        return steps

    def _token_steps(
        self, wallet: Wallet, token: TokenDeployment, local: str, bridge: str, htlc: str,
        agent: str, home: bool,
    ) -> list[Step]:  # fmt: skip
        token_abi = contracts.load("SecurityToken")
        bridge_abi = contracts.load("TokenBridge")
        htlc_abi = contracts.load("HashedTimelock")
        home_token = token.home_address
        steps = [
            Step(
                f"register {token.symbol} on the bridge",
                lambda: wallet.call(bridge, bridge_abi.fn("localTokenOf"), home_token),
                local,
                bridge,
                bridge_abi.fn("registerToken").encode(home_token, local),
            ),
            _role_step(wallet, local, token_abi, AGENT_ROLE, agent, f"{token.symbol} agent"),
            Step(
                f"timelock knows {token.symbol}",
                lambda: wallet.call(htlc, htlc_abi.fn("isSecurityToken"), local),
                True,
                htlc,
                htlc_abi.fn("setSecurityToken").encode(local, True),
            ),
        ]
        if not home:
            steps.append(
                _role_step(wallet, local, token_abi, BRIDGE_ROLE, bridge, f"{token.symbol} bridge")
            )
        for custodian, label in ((bridge, "bridge"), (htlc, "timelock")):

            async def current(account: str = custodian) -> Any:
                return await wallet.call(local, token_abi.fn("isCustodian"), account)

            steps.append(
                Step(
                    f"{token.symbol} custodian: {label}",
                    current,
                    True,
                    local,
                    token_abi.fn("setCustodian").encode(custodian, True),
                )
            )
        return steps

    def _registry_steps(
        self, wallet: Wallet, registry: str, deployment: Deployment, agent: str
    ) -> list[Step]:
        abi = contracts.load("IdentityRegistry")
        steps = [_role_step(wallet, registry, abi, AGENT_ROLE, agent, "registry agent")]
        for other in self.config.remote_chains:
            mirror = pad(deployment.chain(other.name).address("MirrorIdentityRegistry"))

            async def current(domain: int = other.chain_id) -> Any:
                return await wallet.call(registry, abi.fn("mirrorOf"), domain)

            steps.append(
                Step(
                    f"enroll the mirror of {other.name}",
                    current,
                    mirror,
                    registry,
                    abi.fn("enrollRemote").encode(other.chain_id, mirror),
                )
            )
        return steps


@dataclass(frozen=True)
class Step:
    """One piece of wiring: how to read it, what it should be, and the call that sets it."""

    what: str
    current: Callable[[], Awaitable[Any]]
    wanted: Any
    to: str
    data: bytes


def _role_step(
    wallet: Wallet, target: str, abi: contracts.Artifact, role: bytes, account: str, what: str
) -> Step:
    return Step(
        what,
        lambda: wallet.call(target, abi.fn("hasRole"), role, account),
        True,
        target,
        abi.fn("grantRole").encode(role, account),
    )


def _rate_limit_step(
    wallet: Wallet,
    bridge: str,
    token: TokenDeployment,
    peer: ChainConfig,
    inbound: bool,
    limits: tuple[int, int],
) -> Step:
    abi = contracts.load("TokenBridge")
    home_token = token.home_address

    async def current() -> Any:
        _available, capacity, rate = await wallet.call(
            bridge, abi.fn("rateLimit"), home_token, peer.chain_id, inbound
        )
        return int(capacity), int(rate)

    direction = "inbound" if inbound else "outbound"
    return Step(
        f"{token.symbol} {direction} rate limit with {peer.name}",
        current,
        limits,
        bridge,
        abi.fn("setRateLimit").encode(home_token, peer.chain_id, inbound, *limits),
    )


def _normal(value: Any) -> Any:
    """Compare addresses without their checksum case, and tuples like lists."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    return value


def _addr(sent: Sent) -> str:
    assert sent.contract_address is not None
    return sent.contract_address


def _cause(exc: BaseException) -> str:
    text = str(exc)
    return text.rsplit(": ", 1)[-1] if ": " in text else text


async def deploy(config: Config) -> DeployReport:
    """Deploy (or find) and wire everything; see the module docstring."""
    async with Deployer(config) as deployer:
        return await deployer.run()


def describe(report: DeployReport, *, verbose: bool = True) -> Sequence[str]:
    """Lines for the CLI; ``verbose`` lists every wiring step sent."""
    path = deployment_path(report.deployment.network)
    if not report.changed:
        return [f"already deployed and wired; nothing changed ({path})"]
    chains = ", ".join(report.deployment.chains)
    head = f"deployed contracts on {chains}" if report.fresh else "found the deployment"
    lines = [f"{head}; {len(report.changes)} wiring step(s) sent; addresses in {path}"]
    if verbose:
        lines += [f"  {change}" for change in report.changes]
    return lines
