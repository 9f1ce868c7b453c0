"""Deploying and wiring the distribution and vote contracts (called by deployer.py).

Home: a DistributionManager, a Distributor, a VoteManager and a Ballot; every remote chain:
a Distributor reading its mirror registry and a Ballot. The vote contracts are wired like the
distribution ones (the manager enrolls each chain's ballot, each ballot the home manager).

Wiring, each step read first and sent only when it differs: the manager
enrolls each chain's distributor (the home one included), each distributor enrolls the home
manager (the only source of roots) and the tax account, the issuer agent gets AGENT_ROLE on
the manager and every distributor.
"""

from __future__ import annotations

from typing import Any

from relayer.chain import contracts
from relayer.chain.wallet import Wallet
from relayer.config import ChainConfig, Config
from relayer.deployment.record import Deployment

AGENT_ROLE_NAME = b"AGENT_ROLE"


def tax_account(config: Config) -> str:
    return config.distribution.tax_account or config.accounts.issuer_agent.address


def dust_account(config: Config) -> str:
    return config.distribution.dust_account or config.accounts.issuer_agent.address


async def deploy(
    wallet: Wallet, chain: ChainConfig, home: ChainConfig, mailbox: str, registry: str
) -> dict[str, str]:
    """The distribution contracts of ``chain``: one wave, after its mailbox and registry."""
    owner = wallet.address
    sent = {
        "Distributor": await wallet.deploy(
            contracts.load("Distributor"), mailbox, home.chain_id, registry, owner
        ),
        "Ballot": await wallet.deploy(contracts.load("Ballot"), mailbox, home.chain_id, owner),
    }
    if chain.name == home.name:
        sent["DistributionManager"] = await wallet.deploy(
            contracts.load("DistributionManager"), mailbox, owner
        )
        sent["VoteManager"] = await wallet.deploy(contracts.load("VoteManager"), mailbox, owner)
    await wallet.wait(list(sent.values()))
    out = {}
    for name, s in sent.items():
        assert s.contract_address is not None
        out[name] = s.contract_address
    return out


async def add_missing(config: Config, deployment: Deployment, deployers: Any) -> None:
    """Deploy the distribution and vote contracts on chains of a deployment recorded
    before them (nothing else is redeployed); ``deployers``: chain name -> Wallet."""
    home = config.home_chain
    for chain in config.chains:
        here = deployment.chain(chain.name)
        if "Ballot" in here.contracts and "Distributor" in here.contracts:
            continue
        registry = (
            here.contracts.get("IdentityRegistry") or here.contracts["MirrorIdentityRegistry"]
        )
        added = await deploy(deployers[chain.name], chain, home, here.address("Mailbox"), registry)
        here.contracts.update(added)


def steps(config: Config, chain: ChainConfig, deployment: Deployment, wallet: Wallet) -> list[Any]:
    """The wiring steps of ``chain`` (relayer.deployment.deployer.Step)."""
    from relayer.core.hashing import keccak256
    from relayer.deployment.deployer import Step, _role_step

    role = keccak256(AGENT_ROLE_NAME)
    agent = config.accounts.issuer_agent.address
    here = deployment.chain(chain.name)
    home = deployment.chain(config.home)
    distributor = here.contracts.get("Distributor")
    manager = home.contracts.get("DistributionManager")
    if distributor is None or manager is None:
        return []
    d_abi = contracts.load("Distributor")
    m_abi = contracts.load("DistributionManager")
    tax = tax_account(config)
    out = [
        _role_step(wallet, distributor, d_abi, role, agent, "distributor agent"),
        Step(
            "distributor enrolls the home manager",
            lambda: wallet.call(distributor, d_abi.fn("manager")),
            manager,
            distributor,
            d_abi.fn("enrollManager").encode(manager),
        ),
        Step(
            "distributor tax account",
            lambda: wallet.call(distributor, d_abi.fn("taxAccount")),
            tax,
            distributor,
            d_abi.fn("setTaxAccount").encode(tax),
        ),
    ]
    if chain.name == config.home:
        out.append(_role_step(wallet, manager, m_abi, role, agent, "distribution manager agent"))
        for other in config.chains:
            theirs = deployment.chain(other.name).contracts.get("Distributor")
            if theirs is None:
                continue

            async def current(domain: int = other.chain_id) -> Any:
                return await wallet.call(manager, m_abi.fn("distributorOf"), domain)

            out.append(
                Step(
                    f"manager enrolls the distributor of {other.name}",
                    current,
                    theirs,
                    manager,
                    m_abi.fn("enrollDistributor").encode(other.chain_id, theirs),
                )
            )
    return out + _vote_steps(config, chain, deployment, wallet)


def _vote_steps(
    config: Config, chain: ChainConfig, deployment: Deployment, wallet: Wallet
) -> list[Any]:
    from relayer.core.hashing import keccak256
    from relayer.deployment.deployer import Step, _role_step

    ballot = deployment.chain(chain.name).contracts.get("Ballot")
    manager = deployment.chain(config.home).contracts.get("VoteManager")
    if ballot is None or manager is None:
        return []
    b_abi, m_abi = contracts.load("Ballot"), contracts.load("VoteManager")
    out = [
        Step(
            "ballot enrolls the home vote manager",
            lambda: wallet.call(ballot, b_abi.fn("manager")),
            manager,
            ballot,
            b_abi.fn("enrollManager").encode(manager),
        )
    ]
    if chain.name == config.home:
        agent = config.accounts.issuer_agent.address
        role = keccak256(AGENT_ROLE_NAME)
        out.append(_role_step(wallet, manager, m_abi, role, agent, "vote manager agent"))
        for other in config.chains:
            theirs = deployment.chain(other.name).contracts.get("Ballot")
            if theirs is None:
                continue

            async def current(domain: int = other.chain_id) -> Any:
                return await wallet.call(manager, m_abi.fn("ballotOf"), domain)

            out.append(
                Step(
                    f"vote manager enrolls the ballot of {other.name}",
                    current,
                    theirs,
                    manager,
                    m_abi.fn("enrollBallot").encode(other.chain_id, theirs),
                )
            )
    return out
