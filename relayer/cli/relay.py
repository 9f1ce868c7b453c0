"""`stbridge run`, `stbridge messages ...`: the operator's commands."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from relayer.cli.common import ConfigOption, LogFormatOption, console, get_config, warn
from relayer.cli.output import JsonOption, emit
from relayer.config import Config
from relayer.console.objects import lane_name, message_json
from relayer.console.server import console_routes
from relayer.daemon.relayer import Relayer
from relayer.daemon.waiting import explain
from relayer.deployment.record import Deployment, load_deployment
from relayer.errors import InputError
from relayer.store import MessageRow, Status, Store, open_store, relayer_owner
from relayer.store.lookup import resolve_message
from relayer.store.models import NEVER
from relayer.telemetry.logging import configure_logging, register_secrets

messages_app = typer.Typer(help="Inspect and retry relayed messages.", no_args_is_help=True)


def run(
    config_path: ConfigOption = None,
    log_format: LogFormatOption = "auto",
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the relayer: index, sign, prove, deliver and confirm on every lane."""
    config = get_config(config_path)
    configure_logging(log_format, log_level)
    register_secrets(k.secret() for _, k in config.accounts.roles())
    warning = config.weak_threshold_warning()
    if warning:
        warn(warning)
    deployment = load_deployment(config)
    asyncio.run(_run(config, deployment))


async def _run(config: Config, deployment: Deployment) -> None:
    store = await open_store(
        config.relayer.store, owner=relayer_owner(config.accounts.relayer.address)
    )
    relayer = Relayer(config, deployment, store, console=console_routes)
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await relayer.run()
    except asyncio.CancelledError:
        console.print("relayer stopped")
    finally:
        await store.close()


async def _with_store(
    config_path: Path | None, fn: Callable[[Config, Store], Awaitable[None]]
) -> None:
    config = get_config(config_path)
    store = await open_store(config.relayer.store)
    try:
        return await fn(config, store)
    finally:
        await store.close()


async def _why(config: Config, store: Store, m: MessageRow) -> str:
    """What the message waits for (relayer.daemon.waiting.explain)."""
    return await explain(
        store,
        m,
        validators=[k.address for k in config.accounts.validators],
        threshold=config.validators.threshold,
        chain_names={c.chain_id: c.name for c in config.chains},
    )


def _when(epoch: float | None) -> str:
    if not epoch:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


@messages_app.command("list")
def list_messages(
    config_path: ConfigOption = None,
    status: Annotated[
        Status | None, typer.Option(help="Only messages in this state.", show_default=False)
    ] = None,
    lane: Annotated[
        str | None,
        typer.Option(help="Only one lane: ORIGIN->DESTINATION, e.g. a->b.", show_default=False),
    ] = None,
    from_chain: Annotated[
        str | None,
        typer.Option("--from", help="Only messages from this chain.", show_default=False),
    ] = None,
    to_chain: Annotated[
        str | None, typer.Option("--to", help="Only messages to this chain.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonOption = False,
) -> None:
    """List messages, newest first, with their full ids."""
    if lane is not None:
        origin_name, arrow, destination_name = (part.strip() for part in lane.partition("->"))
        if not arrow or not origin_name or not destination_name:
            raise InputError(f"--lane {lane!r}: write ORIGIN->DESTINATION, e.g. a->b")
        if from_chain not in (None, origin_name) or to_chain not in (None, destination_name):
            raise InputError(f"--lane {lane!r} contradicts --from/--to: give one or the other")
        from_chain, to_chain = origin_name, destination_name

    async def go(config: Config, store: Store) -> None:
        names = {c.chain_id: c.name for c in config.chains}
        origin = _chain_id(config, from_chain)
        destination = _chain_id(config, to_chain)
        rows = await store.messages(
            status=status, origin=origin, destination=destination, limit=limit
        )
        waits = [await _why(config, store, m) for m in rows]
        if as_json:
            emit({
                "messages": [
                    {**_message_json(m, names), "waiting_for": why or None}
                    for m, why in zip(rows, waits, strict=True)
                ],
                "count": len(rows),
            })  # fmt: skip
            return
        table = Table()
        for column in ("id", "lane", "nonce", "status", "attempts", "dispatched", "waiting for"):
            table.add_column(column, no_wrap=column == "id")
        for m, why in zip(rows, waits, strict=True):
            table.add_row(
                m.id_hex, _lane(m, names), str(m.nonce), m.status.value, str(m.attempts),
                _when(m.dispatched_at), why[:80],
            )  # fmt: skip
        console.print(table)
        console.print(f"{len(rows)} message(s)")

    asyncio.run(_with_store(config_path, go))


def _chain_id(config: Config, name: str | None) -> int | None:
    if name is None:
        return None
    for chain in config.chains:
        if chain.name == name:
            return chain.chain_id
    known = ", ".join(c.name for c in config.chains)
    raise InputError(f"no chain named {name!r} (the config's chains: {known})")


_lane = lane_name
_message_json = message_json  # the API's object (relayer/console/objects.py)


@messages_app.command("show")
def show_message(
    message_id: str, config_path: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Everything the store knows about one message."""

    async def go(config: Config, store: Store) -> None:
        m = await resolve_message(store, message_id)
        names = {c.chain_id: c.name for c in config.chains}
        if as_json:  # the message and its life, as GET /api/messages/{id} answers
            from relayer.console.api import message_life

            emit(await message_life(store, m, names, waiting_for=await _why(config, store, m)))
            return
        origin = names.get(m.origin, str(m.origin))
        destination = names.get(m.destination, str(m.destination))
        delivered = ""
        if m.status == Status.DELIVERED:
            delivered = f"{_when(m.delivered_at)} tx {m.deliver_tx or '(by another relayer)'}"
        lines = [
            ("id", m.id_hex),
            ("lane", f"{origin} -> {destination}"),
            ("nonce", str(m.nonce)),
            ("status", m.status.value),
            ("attempts", str(m.attempts)),
            ("dispatched", f"{_when(m.dispatched_at)} block {m.dispatch_block} tx {m.dispatch_tx}"),
            ("submitted in", m.tx_hash or ""),
            ("delivered", delivered),
            ("next attempt", _next_attempt(m.next_attempt_at) if m.status == Status.FAILED else ""),
            ("waiting for", await _why(config, store, m)),
            ("last error", m.last_error or ""),
        ]  # fmt: skip
        for key, value in lines:
            if value:
                console.print(f"[bold]{key:>13}[/bold]  {value}")

    asyncio.run(_with_store(config_path, go))


def _next_attempt(at: float) -> str:
    return "none: waits for `stbridge messages retry`" if at >= NEVER else _when(at)


@messages_app.command("retry")
def retry_message(message_id: str, config_path: ConfigOption = None) -> None:
    """Make a failed message due now (a running relayer picks it up at once); for any
    other message, say what the relayer does with it instead."""

    async def go(config: Config, store: Store) -> None:
        m = await resolve_message(store, message_id)
        if m.status == Status.IGNORED:
            raise InputError(
                f"message {m.id_hex} is outside the delivery policy ({m.last_error}): "
                "add its route to relayer.policy.allow and restart the relayer"
            )
        if m.status in (Status.FAILED, Status.REFUSED):
            await store.retry_now(m.id)
            console.print(f"message {m.id_hex} will be retried now")
            return
        console.print(await _not_retried(config, store, m))

    asyncio.run(_with_store(config_path, go))


async def _not_retried(config: Config, store: Store, m: MessageRow) -> str:
    """What ``messages retry`` says of a message that is not failed (nothing is changed)."""
    if m.status == Status.DELIVERED:
        where = m.deliver_tx or "a transaction of another relayer"
        return f"{m.id_hex} is already delivered in {where}; nothing to retry"
    if m.status == Status.SUBMITTED:
        return (
            f"{m.id_hex} is in transaction {m.tx_hash}, not yet final; the relayer settles "
            "it (and retries it if it fails) without a retry"
        )
    why = await _why(config, store, m)
    if m.status == Status.PENDING:
        return f"{m.id_hex} is pending: {why}; it will be sent without a retry"
    return f"{m.id_hex} is {m.status.value}: {why or 'not retried'}"


def validator(
    config_path: ConfigOption = None,
    key_env: Annotated[
        str | None, typer.Option(help="Environment variable holding this validator's key.")
    ] = None,
    key_index: Annotated[
        int | None, typer.Option(help="Devnet: use accounts.validators[N] from the config.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to serve checkpoints on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 9470,
    log_format: LogFormatOption = "auto",
) -> None:
    """Run one validator apart: index every origin, sign checkpoints, serve them over HTTP."""
    from relayer.cli.common import resolve_key
    from relayer.daemon.standalone_validator import ValidatorService

    config = get_config(config_path)
    configure_logging(log_format, "info")
    if key_env is None and key_index is not None:
        if not 0 <= key_index < len(config.accounts.validators):
            raise InputError(
                f"--key-index {key_index}: the config has {len(config.accounts.validators)} "
                "validator keys"
            )
        key = config.accounts.validators[key_index]
    else:
        key = resolve_key(config, key_env, "validator[0]")
    if key.address not in {k.address for k in config.accounts.validators}:
        warn(f"{key.address} is not one of the config's validators; relayers will ignore it")
    register_secrets([key.secret()])
    deployment = load_deployment(config)

    async def go() -> None:
        store = await open_store(f"sqlite:///.stbridge/validator-{key.address.lower()}.db")
        service = ValidatorService(config, deployment, store, key, host=host, port=port)
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await service.run()
        except asyncio.CancelledError:
            console.print("validator stopped")
        finally:
            await store.close()

    asyncio.run(go())
