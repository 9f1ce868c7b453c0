"""Where the contracts live: ``<state dir>/deployments/<network>.json``.

Written by ``stbridge deploy``, read by everything else. One entry per chain with
its contract addresses and the block the deployment started at (where indexing
begins), and one entry per token with its address on every chain.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.address import is_address, to_checksum_address

from relayer.config import Config
from relayer.errors import DeploymentError
from relayer.inputs import parse_address
from relayer.paths import state_dir


@dataclass
class ChainDeployment:
    """The contracts on one chain."""

    name: str
    chain_id: int
    start_block: int
    contracts: dict[str, str] = field(default_factory=dict)  # contract name -> address

    def address(self, contract: str) -> str:
        try:
            return self.contracts[contract]
        except KeyError:
            raise DeploymentError(
                f"{contract} is not deployed on chain {self.name}: run `stbridge deploy`"
            ) from None


@dataclass
class TokenDeployment:
    """A security token and its mirrors."""

    symbol: str
    name: str
    decimals: int
    home_chain: str
    addresses: dict[str, str] = field(default_factory=dict)  # chain name -> address

    @property
    def home_address(self) -> str:
        return self.addresses[self.home_chain]


@dataclass
class Deployment:
    """Everything ``stbridge deploy`` put on the chains."""

    network: str
    home: str
    chains: dict[str, ChainDeployment] = field(default_factory=dict)
    tokens: list[TokenDeployment] = field(default_factory=list)
    payment_token: dict[str, str] = field(default_factory=dict)  # chain -> address

    def chain(self, name: str) -> ChainDeployment:
        try:
            return self.chains[name]
        except KeyError:
            raise DeploymentError(
                f"nothing is deployed on chain {name}: run `stbridge deploy`"
            ) from None

    def token(self, name_or_address: str) -> TokenDeployment:
        """A token by symbol (any case) or by its address on any chain."""
        wanted = name_or_address.strip()
        symbols = [t.symbol.lower() for t in self.tokens]
        if wanted[:2].lower() == "0x" and wanted.lower() not in symbols:
            parse_address(wanted, "token")  # an address: a typo in it is refused, not guessed
        for token in self.tokens:
            if token.symbol.lower() == wanted.lower():
                return token
            if is_address(wanted) and any(
                a.lower() == wanted.lower() for a in token.addresses.values()
            ):
                return token
        known = ", ".join(t.symbol for t in self.tokens) or "none"
        raise DeploymentError(f"unknown token {wanted!r} (deployed: {known})")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Deployment:
        raw: dict[str, Any] = json.loads(text)
        chains = {k: ChainDeployment(**v) for k, v in raw.get("chains", {}).items()}
        tokens = [TokenDeployment(**t) for t in raw.get("tokens", [])]
        return cls(
            network=raw["network"],
            home=raw["home"],
            chains=chains,
            tokens=tokens,
            payment_token=raw.get("payment_token", {}),
        )


def deployment_path(network: str, directory: Path | None = None) -> Path:
    return (directory or state_dir()) / "deployments" / f"{network}.json"


def load_deployment(config: Config, directory: Path | None = None) -> Deployment:
    """The deployment of the config's network; DeploymentError when there is none."""
    path = deployment_path(config.network, directory)
    try:
        deployment = Deployment.from_json(path.read_text())
    except FileNotFoundError:
        raise DeploymentError(
            f"no deployment for network {config.network} ({path}): run `stbridge deploy`"
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DeploymentError(f"{path} is not a deployment record ({exc})") from None
    for chain in config.chains:
        deployed = deployment.chains.get(chain.name)
        if deployed is not None and deployed.chain_id != chain.chain_id:
            raise DeploymentError(
                f"{path}: chain {chain.name} was deployed with id {deployed.chain_id}, "
                f"the config says {chain.chain_id}: run `stbridge deploy` again"
            )
    return deployment


def save_deployment(deployment: Deployment, directory: Path | None = None) -> Path:
    path = deployment_path(deployment.network, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(deployment.to_json())
    tmp.replace(path)
    return path


def checksum(address: str) -> str:
    return str(to_checksum_address(address))
