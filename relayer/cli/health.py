"""`stbridge health-check`: can the relayer work right now? Exit 1 and say why if not."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from relayer.chain.rpc import ChainRpc, RetryPolicy
from relayer.cli.common import ConfigOption, console, err_console, get_config
from relayer.cli.output import JsonOption, emit, emit_failed_check
from relayer.config import Config, public_url
from relayer.errors import ChainError


@dataclass
class Health:
    """What the check found: each chain's state, and the problems (none: healthy)."""

    chains: dict[str, dict[str, Any]] = field(default_factory=dict)
    relayer: str | None = None  # the running relayer's /readyz answer, when asked
    problems: list[str] = field(default_factory=list)


async def check(config: Config) -> Health:
    """Unreachable chains, a wrong chain id, an underfunded key."""
    found = Health()
    minimum = config.relayer.min_relayer_balance_wei
    relayer = config.accounts.relayer.address

    async def one(chain_name: str) -> None:
        chain = config.chain(chain_name)
        rpc = ChainRpc(chain, retry=RetryPolicy(attempts=2, base_delay=0.2), timeout=5)
        state: dict[str, Any] = {"up": False, "chain_id": None, "relayer_balance_wei": None}
        found.chains[chain.name] = state
        try:
            answered = await rpc.chain_id()
            state.update(up=True, chain_id=answered)
            if answered != chain.chain_id:
                found.problems.append(
                    f"chain {chain.name} ({public_url(chain.rpc_url)}) answers chain id "
                    f"{answered}, the config says {chain.chain_id}"
                )
                return
            balance = await rpc.balance(relayer)
            state["relayer_balance_wei"] = str(balance)
            if balance < minimum:
                found.problems.append(
                    f"relayer key {relayer} on chain {chain.name} holds {balance / 1e18:.4f} ETH, "
                    f"under the {minimum / 1e18:g} ETH minimum: fund it"
                )
        except ChainError as exc:
            found.problems.append(f"chain {chain.name} cannot be reached: {exc}")
        finally:
            await rpc.close()

    await asyncio.gather(*(one(c.name) for c in config.chains))
    return found


def relayer_ready(config: Config, timeout: float = 5.0) -> str | None:
    """None when the running relayer's /readyz answers ready, else why not."""
    import urllib.error
    import urllib.request

    host = config.relayer.metrics_host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - listens on all
    url = f"http://{host}:{config.relayer.metrics_port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        reason = exc.read().decode(errors="replace").strip().replace("\n", "; ")
        return f"the relayer at {url} is not ready: {reason or exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"no relayer answers at {url}: {getattr(exc, 'reason', exc)}"


def health_check(
    config_path: ConfigOption = None,
    relayer: Annotated[
        bool,
        typer.Option(
            "--relayer",
            help="Also ask the running relayer's /readyz (the config's metrics host and port).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check every chain answers and the relayer key can pay for gas (exit 1 if not)."""
    config = get_config(config_path)
    found = asyncio.run(check(config))
    if relayer:
        not_ready = relayer_ready(config)
        found.relayer = "ready" if not_ready is None else not_ready
        if not_ready is not None:
            found.problems.append(not_ready)
    if as_json:
        doc = {"healthy": not found.problems, "chains": found.chains,
               "relayer": found.relayer, "problems": found.problems}  # fmt: skip
        if found.problems:
            raise emit_failed_check(doc, found.problems[0])
        emit(doc)
        return
    for name, state in found.chains.items():
        if state["relayer_balance_wei"] is not None:
            console.print(
                f"chain {name}: up (chain id {state['chain_id']}), relayer key holds "
                f"{int(state['relayer_balance_wei']) / 1e18:.4f} ETH"
            )
    if found.relayer == "ready":
        console.print("relayer: ready")
    for problem in found.problems:
        err_console.print(f"[red]unhealthy:[/red] {problem}", soft_wrap=True)
    if found.problems:
        raise typer.Exit(1)
    console.print("healthy")
