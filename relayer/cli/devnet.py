"""`stbridge devnet up|status|restart|down`: the two local chains.

Also the edge between the relayer and ``chains`` (which imports nothing of the relayer):
:func:`chain_specs` and :func:`start_devnet` hand it the config's chains, accounts and
the state directory; :func:`map_chain_errors` turns its errors into the relayer's
one-line errors.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from chains import devnet
from chains import errors as chain_errors
from chains.anvil import find_anvil
from chains.processes import process_alive, rpc_call
from chains.spec import ChainSpec
from relayer import errors
from relayer.cli.common import ConfigOption, console, get_config, warn
from relayer.cli.output import JsonOption, emit, emit_failed_check
from relayer.config import Config
from relayer.errors import DevnetError
from relayer.paths import state_dir

app = typer.Typer(help="Run the two local EVM chains.", no_args_is_help=True)


def chain_specs(config: Config) -> list[ChainSpec]:
    """The config's chains as the devnet manager takes them."""
    return [
        ChainSpec(c.name, c.chain_id, c.rpc_url, block_time=c.block_time, gas_limit=c.gas_limit)
        for c in config.chains
    ]


def start_devnet(
    config: Config,
    *,
    directory: Path | None = None,
    backend: devnet.Backend | None = None,
    block_time: float | None = None,
    timeout: float = 60.0,
) -> devnet.DevnetState:
    """Start the config's chains and fund its accounts (``devnet up``); the state lives
    in ``directory`` (default: the state directory, $STBRIDGE_HOME)."""
    return devnet.up(
        chain_specs(config),
        [(role, key.address) for role, key in config.accounts.roles()],
        directory=state_dir() if directory is None else directory,
        backend=backend,
        block_time=block_time,
        timeout=timeout,
    )


# chains' errors and the relayer's, most specific first
_MAPPED: tuple[tuple[type[Exception], type[errors.StbridgeError]], ...] = (
    (chain_errors.PortInUse, errors.PortInUse),
    (chain_errors.BackendMissing, errors.BackendMissing),
    (chain_errors.ChainStartTimeout, errors.ChainStartTimeout),
    (chain_errors.UnknownChain, errors.InputError),
    (chain_errors.DevnetError, errors.DevnetError),
    (chain_errors.NodeUnavailable, errors.ChainUnavailable),
    (chain_errors.RpcFailed, errors.ChainError),
)


@contextmanager
def map_chain_errors() -> Iterator[None]:
    """Raise the relayer's error for an error of ``chains``, with the same one line."""
    try:
        yield
    except (chain_errors.DevnetError, chain_errors.RpcFailed) as exc:
        for theirs, ours in _MAPPED:
            if isinstance(exc, theirs):
                raise ours(str(exc)) from exc
        raise  # pragma: no cover - every class of chains.errors is mapped above


@app.command()
def up(
    config_path: ConfigOption = None,
    backend: Annotated[
        str | None,
        typer.Option(help="anvil or pyevm (default: anvil when installed, else pyevm)."),
    ] = None,
    block_time: Annotated[
        float | None,
        typer.Option(min=0, help="Seconds per block; 0 mines a block per transaction."),
    ] = None,
    detach: Annotated[bool, typer.Option(help="Leave the chains running and return.")] = False,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for each chain to answer.")
    ] = 60.0,
) -> None:
    """Start chain a and chain b, fund the devnet accounts, and wait until both answer."""
    config = get_config(config_path)
    chosen = _backend(backend)
    if backend is None:
        reason = "anvil is installed" if chosen == "anvil" else "anvil is not installed"
        console.print(f"backend: [bold]{chosen}[/bold] ({reason}; choose with --backend)")
    state = start_devnet(config, backend=chosen, block_time=block_time, timeout=timeout)
    print_state(state)
    if detach:
        console.print("chains run in the background: `stbridge devnet down` stops them")
        return
    console.print("chains run until Ctrl-C")
    wait_until_interrupted(state)


def _backend(value: str | None) -> devnet.Backend:
    if value is None:
        return devnet.default_backend()
    if value not in devnet.BACKENDS:
        raise DevnetError(f"unknown backend {value!r}: use anvil or pyevm")
    if value == "anvil" and find_anvil() is None:
        raise DevnetError(
            "anvil is not installed: run `npm ci` in the project root, or use --backend pyevm"
        )
    return value


def wait_until_interrupted(state: devnet.DevnetState) -> None:
    """Block until Ctrl-C, SIGTERM or a chain exits, then stop every chain."""
    stop = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop:
            dead = [c.name for c in state.chains if not process_alive(c.pid)]
            if dead:
                warn(f"chain {', '.join(dead)} exited; stopping the devnet")
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        stopped = devnet.down(state_dir())
        console.print(f"stopped {len(stopped)} chain(s)")


def print_state(state: devnet.DevnetState) -> None:
    chains = Table(title=f"devnet ({state.backend}, block time {state.block_time:g}s)")
    for column in ("chain", "chain id", "rpc url", "pid"):
        chains.add_column(column)
    for chain in state.chains:
        chains.add_row(chain.name, str(chain.chain_id), chain.rpc_url, str(chain.pid))
    console.print(chains)
    accounts = Table(title="funded accounts (devnet-only keys)")
    accounts.add_column("role")
    accounts.add_column("address")
    accounts.add_column("balance")
    for role, address in state.accounts:
        accounts.add_row(role, address, f"{devnet.DEVNET_BALANCE_WEI // 10**18:,} ETH")
    console.print(accounts)


@app.command()
def status(config_path: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show which chains are up and their head blocks (exit 1 when any is down)."""
    if config_path is not None:
        get_config(config_path)  # the devnet is the one in $STBRIDGE_HOME; a bad config is named
    state, chains = devnet.status(state_dir())
    if as_json:
        doc = {
            "running": state is not None,
            "backend": None if state is None else state.backend,
            "chains": [
                {"name": c.name, "chain_id": c.chain_id, "rpc_url": c.rpc_url, "pid": c.pid,
                 "up": c.problem is None, "problem": c.problem, "head": c.head}
                for c in chains
            ],
        }  # fmt: skip
        if state is None or any(c.problem for c in chains):
            raise emit_failed_check(doc, "devnet is not running" if state is None else
                                    "a chain is down")  # fmt: skip
        emit(doc)
        return
    if state is None:
        console.print("devnet is not running (`stbridge devnet up` starts it)")
        raise typer.Exit(1)
    table = Table(title=f"devnet ({state.backend})")
    for column in ("chain", "chain id", "rpc url", "pid", "state", "head block"):
        table.add_column(column)
    for chain in chains:
        state_text = "[green]up[/green]" if chain.problem is None else f"[red]{chain.problem}[/red]"
        head = "" if chain.head is None else str(chain.head)
        table.add_row(
            chain.name, str(chain.chain_id), chain.rpc_url, str(chain.pid), state_text, head
        )
    console.print(table)
    if any(c.problem for c in chains):
        raise typer.Exit(1)


@app.command()
def restart(
    chain: Annotated[str, typer.Argument(help="The chain to restart (a, b, ...).")],
    down_for: Annotated[
        float, typer.Option(min=0, help="Seconds to keep the chain stopped: an outage.")
    ] = 0.0,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the chain to answer again.")
    ] = 60.0,
    config_path: ConfigOption = None,
) -> None:
    """Stop one chain and start it again on the same port with its state (anvil)."""
    if config_path is not None:
        get_config(config_path)
    proc = devnet.restart(chain, state_dir(), down_for=down_for, timeout=timeout)
    try:
        head: str = str(int(rpc_call(proc.rpc_url, "eth_blockNumber", timeout=2.0), 16))
    except chain_errors.RpcFailed:
        head = "?"
    console.print(
        f"chain {proc.name} is back on {proc.rpc_url} (pid {proc.pid}) with its state: "
        f"head block {head}"
    )


@app.command()
def down(config_path: ConfigOption = None) -> None:
    """Stop the devnet's chains; nothing is left running."""
    if config_path is not None:
        get_config(config_path)
    stopped = devnet.down(state_dir())
    if not stopped:
        console.print("devnet is not running")
        return
    console.print(f"stopped {', '.join(c.name for c in stopped)}")
