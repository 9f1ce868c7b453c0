"""`stbridge health-check`: can the relayer work right now? Exit 1 and say why if not."""

from __future__ import annotations

import asyncio

from relayer.chain.rpc import ChainRpc, RetryPolicy
from relayer.cli.common import ConfigOption, console, err_console, get_config
from relayer.config import Config, public_url
from relayer.errors import ChainError


async def check(config: Config) -> list[str]:
    """The problems found: unreachable chains, a wrong chain id, an underfunded key."""
    problems: list[str] = []
    minimum = config.relayer.min_relayer_balance_wei
    relayer = config.accounts.relayer.address

    async def one(chain_name: str) -> None:
        chain = config.chain(chain_name)
        rpc = ChainRpc(chain, retry=RetryPolicy(attempts=2, base_delay=0.2), timeout=5)
        try:
            answered = await rpc.chain_id()
            if answered != chain.chain_id:
                problems.append(
                    f"chain {chain.name} ({public_url(chain.rpc_url)}) answers chain id "
                    f"{answered}, the config says {chain.chain_id}"
                )
                return
            balance = await rpc.balance(relayer)
            if balance < minimum:
                problems.append(
                    f"relayer key {relayer} on chain {chain.name} holds {balance / 1e18:.4f} ETH, "
                    f"under the {minimum / 1e18:g} ETH minimum: fund it"
                )
            else:
                console.print(
                    f"chain {chain.name}: up (chain id {answered}), relayer key holds "
                    f"{balance / 1e18:.4f} ETH"
                )
        except ChainError as exc:
            problems.append(f"chain {chain.name} cannot be reached: {exc}")
        finally:
            await rpc.close()

    await asyncio.gather(*(one(c.name) for c in config.chains))
    return problems


def health_check(config_path: ConfigOption = None) -> None:
    """Check every chain answers and the relayer key can pay for gas (exit 1 if not)."""
    import typer

    config = get_config(config_path)
    problems = asyncio.run(check(config))
    for problem in problems:
        err_console.print(f"[red]unhealthy:[/red] {problem}", soft_wrap=True)
    if problems:
        raise typer.Exit(1)
    console.print("healthy")
