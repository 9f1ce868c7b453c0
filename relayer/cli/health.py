"""`stbridge health-check`: can the relayer work right now? Exit 1 and say why if not."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from relayer.chain.rpc import ChainRpc, RetryPolicy
from relayer.cli.common import ConfigOption, console, err_console, get_config
from relayer.cli.output import JsonOption, emit, emit_failed_check
from relayer.config import ChainConfig, Config, public_url
from relayer.errors import ChainError


@dataclass
class Health:
    """What the check found: each chain's state, and the problems (none: healthy)."""

    chains: dict[str, dict[str, Any]] = field(default_factory=dict)
    relayer: str | None = None  # the running relayer's /readyz answer, when asked
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the relayer works, with less margin


async def check(config: Config) -> Health:
    """Unreachable chains or endpoints, a wrong chain id, an underfunded key.

    Every endpoint of a chain (``rpc_url`` and each of ``rpc_urls``) is asked for its chain
    id: one serving another chain is a problem (failing over to it would be wrong), a
    backup endpoint that does not answer is a warning while another one does (the relayer
    works, without its failover), and a chain none of whose endpoints answer is a problem.
    """
    found = Health()
    minimum = config.relayer.min_relayer_balance_wei
    relayer = config.accounts.relayer.address

    async def endpoint(chain: ChainConfig, url: str) -> dict[str, Any]:
        alone = chain.model_copy(update={"rpc_url": url, "rpc_urls": []})
        rpc = ChainRpc(alone, retry=RetryPolicy(attempts=2, base_delay=0.2), timeout=5)
        state: dict[str, Any] = {"url": public_url(url), "up": False, "chain_id": None}
        try:
            state.update(up=True, chain_id=await rpc.chain_id())
        except ChainError as exc:
            state["error"] = str(exc)
        finally:
            await rpc.close()
        return state

    async def one(chain_name: str) -> None:
        chain = config.chain(chain_name)
        state: dict[str, Any] = {"up": False, "chain_id": None, "relayer_balance_wei": None}
        found.chains[chain.name] = state
        several = len(chain.endpoints) > 1
        answers = await asyncio.gather(*(endpoint(chain, url) for url in chain.endpoints))
        if several:
            state["endpoints"] = answers
        right = [
            url for url, a in zip(chain.endpoints, answers, strict=True)
            if a["chain_id"] == chain.chain_id
        ]  # fmt: skip
        for number, answer in enumerate(answers, 1):
            which = f"endpoint {number} of {len(answers)}, " if several else ""
            where = f"chain {chain.name} ({which}{answer['url']})"
            if answer["up"] and answer["chain_id"] != chain.chain_id:
                found.problems.append(
                    f"{where} answers chain id {answer['chain_id']}, the config says "
                    f"{chain.chain_id}"
                )
            elif not answer["up"] and right:
                found.warnings.append(
                    f"{where} cannot be reached, the chain's other endpoints answer (no "
                    f"failover to it): {answer['error']}"
                )
        if not any(a["up"] for a in answers):
            found.problems.append(f"chain {chain.name} cannot be reached: {answers[0]['error']}")
            return
        if not right:
            return  # every answering endpoint serves another chain: said above
        state.update(up=True, chain_id=chain.chain_id)
        first = chain.model_copy(update={"rpc_url": right[0], "rpc_urls": []})
        rpc = ChainRpc(first, retry=RetryPolicy(attempts=2, base_delay=0.2), timeout=5)
        try:
            balance = await rpc.balance(relayer)
        except ChainError as exc:
            found.problems.append(f"chain {chain.name} cannot be reached: {exc}")
            return
        finally:
            await rpc.close()
        state["relayer_balance_wei"] = str(balance)
        if balance < minimum:
            found.problems.append(
                f"relayer key {relayer} on chain {chain.name} holds {balance / 1e18:.4f} ETH, "
                f"under the {minimum / 1e18:g} ETH minimum: fund it"
            )

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
               "relayer": found.relayer, "problems": found.problems,
               "warnings": found.warnings}  # fmt: skip
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
    for warning in found.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
    for problem in found.problems:
        err_console.print(f"[red]unhealthy:[/red] {problem}", soft_wrap=True)
    if found.problems:
        raise typer.Exit(1)
    console.print("healthy")
