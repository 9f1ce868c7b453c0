"""`stbridge deploy` and `stbridge up`: the system in one command."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.text import Text

from chains import devnet
from chains.errors import RpcFailed
from chains.processes import rpc_call
from relayer.cli.common import ConfigOption, console, get_config
from relayer.cli.devnet import _backend, print_state, start_devnet
from relayer.cli.output import JsonOption, emit
from relayer.config import Config
from relayer.console.server import console_routes
from relayer.daemon.relayer import Relayer
from relayer.deployment.deployer import deploy as run_deploy
from relayer.deployment.deployer import describe
from relayer.deployment.session import Session
from relayer.issuer.onboard import onboard_devnet
from relayer.paths import state_dir
from relayer.store import Status, Store, open_store, relayer_owner
from relayer.telemetry.logging import configure_logging, register_secrets


def deploy(config_path: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Deploy and wire every contract on every chain (a second run changes nothing)."""
    import json

    config = get_config(config_path)
    report = asyncio.run(run_deploy(config))
    if as_json:
        emit({"fresh": report.fresh, "changes": report.changes,
              "deployment": json.loads(report.deployment.to_json())})  # fmt: skip
        return
    for line in describe(report):
        console.print(line)


def onboard(config_path: ConfigOption = None) -> None:
    """Devnet: records for the config's investors and traders, and their holdings (idempotent).

    What `stbridge up` does after deploying, for a devnet started otherwise (docker
    compose): every investor and trader gets a home record, investors and the seller
    security tokens, traders payment tokens on every chain.
    """
    from relayer.errors import ConfigError

    config = get_config(config_path)
    if not config.accounts.devnet_only:
        raise ConfigError("onboard gives devnet accounts tokens: the config is not a devnet's")

    async def go() -> None:
        async with Session(config) as session:
            onboarded = await onboard_devnet(session)
        console.print(
            f"onboarded {len(onboarded.records)} account(s), "
            f"minted {len(onboarded.minted)} holding(s)"
        )

    asyncio.run(go())


def up(
    config_path: ConfigOption = None,
    backend: Annotated[
        str | None, typer.Option(help="anvil or pyevm (default: anvil when installed).")
    ] = None,
    block_time: Annotated[
        float | None, typer.Option(min=0, help="Seconds per block (default: the config's).")
    ] = None,
) -> None:
    """The whole system: devnet, contracts, devnet investors, and the relayer, until Ctrl-C."""
    config = get_config(config_path)
    home = state_dir()
    log_file = home / "logs" / "relayer.log"
    started_devnet = False
    if _devnet_answers(config):
        console.print("using the devnet that is already running")
    else:
        chosen = _backend(backend)
        console.print(f"starting the devnet ({chosen})…")
        state = start_devnet(config, directory=home, backend=chosen, block_time=block_time)
        started_devnet = True
        _reset_store(config)
        print_state(state)
    try:
        configure_logging("json", "info", file=log_file)
        register_secrets(k.secret() for _, k in config.accounts.roles())
        asyncio.run(_up(config, log_file))
    finally:
        if started_devnet:
            stopped = devnet.down(home)
            console.print(f"stopped {len(stopped)} chain(s)")


def _devnet_answers(config: Config) -> bool:
    for chain in config.chains:
        try:
            if int(rpc_call(chain.rpc_url, "eth_chainId", timeout=1.0), 16) != chain.chain_id:
                return False
        except RpcFailed:
            return False
    return True


def _reset_store(config: Config) -> None:
    """A fresh devnet makes the old devnet store meaningless: start it anew."""
    url = config.relayer.store
    if not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    if path.parts and path.parts[0] == ".stbridge":
        path = state_dir() / Path(*path.parts[1:])
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


async def _up(config: Config, log_file: Path) -> None:
    console.print("deploying contracts…")
    report = await run_deploy(config)
    for line in describe(report, verbose=False):
        console.print(line)
    async with Session(config, report.deployment) as session:
        onboarded = await onboard_devnet(session)
    console.print(
        f"onboarded {len(onboarded.records)} account(s), minted {len(onboarded.minted)} holding(s)"
    )
    store = await open_store(
        config.relayer.store, owner=relayer_owner(config.accounts.relayer.address)
    )
    relayer = Relayer(config, report.deployment, store, console=console_routes)
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    runner = asyncio.create_task(relayer.run())
    started = asyncio.create_task(relayer.started.wait())
    await asyncio.wait({runner, started}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    recipient = config.accounts.investors[-1].address if config.accounts.investors else "0x…"
    metrics_port = relayer.telemetry.port if relayer.telemetry else config.relayer.metrics_port
    console.print(
        "relayer running; in another terminal try:\n"
        f"  stbridge bridge send --from {config.home} --to {config.remote_chains[0].name} "
        f"--token {config.tokens[0].symbol} --amount 10 --recipient {recipient}\n"
        + (f"console: {relayer.console_url} (operator), {relayer.console_url}issuer\n"
           if relayer.console_url else "")
        + f"metrics: http://{config.relayer.metrics_host}:{metrics_port}/metrics, "
        f"logs: {log_file}; Ctrl-C stops everything"
    )  # fmt: skip
    try:
        with Live(Text("starting…"), console=console, refresh_per_second=2) as live:
            while not runner.done():
                live.update(await _status_line(config, relayer, store))
                await asyncio.sleep(1)
        runner.result()
    except asyncio.CancelledError:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(runner, 20)
        console.print("relayer stopped")
    finally:
        await store.close()


async def _status_line(config: Config, relayer: Relayer, store: Store) -> Text:
    counts = await store.status_counts()
    parts = []
    for (o, d), _lane in relayer.parts.lanes.items():
        oid, did = config.chain(o).chain_id, config.chain(d).chain_id
        done = counts.get((oid, did, Status.DELIVERED.value), 0)
        waiting = sum(
            counts.get((oid, did, s.value), 0) for s in (Status.PENDING, Status.SUBMITTED)
        )
        failed = counts.get((oid, did, Status.FAILED.value), 0)
        parts.append(f"{o}→{d}: {done} delivered, {waiting} in flight, {failed} failed")
    heads = " ".join(
        f"{name}@{indexer.state.head}" for name, indexer in relayer.parts.indexers.items()
    )
    reasons = relayer.not_ready()
    state = "ready" if not reasons else reasons[0]
    return Text(f"{time.strftime('%H:%M:%S')}  {' | '.join(parts)}  [{heads}]  {state}")
