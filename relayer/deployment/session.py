"""A session with the chains of a config: connections, the deployment, wallets."""

from __future__ import annotations

import contextlib
from typing import Any

from relayer.chain import contracts
from relayer.chain.rpc import ChainRpc
from relayer.chain.wallet import Wallet
from relayer.config import ChainConfig, Config, PrivateKey, public_url
from relayer.deployment.record import Deployment, TokenDeployment, load_deployment
from relayer.errors import ChainError, InputError


class Session:
    """Opened with ``async with``; closes every connection on the way out."""

    def __init__(self, config: Config, deployment: Deployment | None = None) -> None:
        self.config = config
        self._deployment = deployment
        self._rpcs: dict[str, ChainRpc] = {}

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for rpc in self._rpcs.values():
            with contextlib.suppress(Exception):
                await rpc.close()
        self._rpcs.clear()

    @property
    def deployment(self) -> Deployment:
        if self._deployment is None:
            self._deployment = load_deployment(self.config)
        return self._deployment

    def chain(self, name: str) -> ChainConfig:
        try:
            return self.config.chain(name)
        except Exception:
            known = ", ".join(c.name for c in self.config.chains)
            raise InputError(f"unknown chain {name!r} (chains: {known})") from None

    def rpc(self, name: str) -> ChainRpc:
        if name not in self._rpcs:
            self._rpcs[name] = ChainRpc(self.chain(name))
        return self._rpcs[name]

    def wallet(self, chain: str, key: PrivateKey) -> Wallet:
        return Wallet(self.rpc(chain), key)

    def address(self, chain: str, contract: str) -> str:
        return self.deployment.chain(chain).address(contract)

    def token(self, name_or_address: str) -> TokenDeployment:
        return self.deployment.token(name_or_address)

    async def call(self, chain: str, to: str, contract: str, fn: str, *args: Any) -> Any:
        """A read of ``contract.fn(*args)`` at ``to`` on ``chain``."""
        reader = Wallet(self.rpc(chain), self.config.accounts.deployer)
        return await reader.call(to, contracts.load(contract).fn(fn), *args)

    async def reachable(self, chain: str) -> None:
        """ChainError with the fix when the chain does not answer."""
        try:
            await self.rpc(chain).chain_id()
        except ChainError as exc:
            raise ChainError(
                f"chain {chain} cannot be reached ({public_url(self.chain(chain).rpc_url)}): "
                f"start the devnet or fix the config [{str(exc).rsplit(': ', 1)[-1]}]"
            ) from None
