"""`stbridge bridge send|status` and `stbridge balances`: what token holders run."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from relayer.bridge.actions import balances, send_transfer, transfer_status
from relayer.cli.common import (
    ConfigOption,
    console,
    err_console,
    format_amount,
    get_config,
    parse_address,
    parse_decimal,
    resolve_key,
)
from relayer.cli.output import JsonOption, emit
from relayer.deployment.session import Session
from relayer.inputs import scale_amount

app = typer.Typer(help="Move security tokens between chains.", no_args_is_help=True)

KeyEnvOption = Annotated[
    str | None,
    typer.Option(
        "--key-env",
        help="Environment variable holding the signing key (default on a devnet: investor[0]).",
    ),
]


@app.command()
def send(
    from_chain: Annotated[str, typer.Option("--from", help="Chain the tokens leave.")],
    to_chain: Annotated[str, typer.Option("--to", help="Chain the tokens arrive on.")],
    token: Annotated[str, typer.Option(help="Token symbol or address.")],
    amount: Annotated[str, typer.Option(help="Amount in token units, e.g. 10 or 2.5.")],
    recipient: Annotated[str, typer.Option(help="Recipient address on the destination.")],
    key_env: KeyEnvOption = None,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send tokens to another chain; prints the message id to follow with `bridge status`.

    Only the message id goes to stdout (or, with --json, the envelope); what happened,
    in words, goes to stderr.
    """
    config = get_config(config_path)
    to = parse_address(recipient, "recipient")
    written = parse_decimal(amount)  # the syntax, before the deployment or a chain is read
    key = resolve_key(config, key_env, "investor[0]")

    async def go() -> None:
        async with Session(config) as session:
            deployed = session.token(token)
            units = scale_amount(written, deployed.decimals)
            sent = await send_transfer(
                session, key=key, origin=from_chain, destination=to_chain, token=token,
                amount=units, recipient=to,
            )  # fmt: skip
        if as_json:
            emit({"message_id": sent.message_id, "tx_hash": sent.tx_hash, "origin": sent.origin,
                  "destination": sent.destination, "token": deployed.symbol,
                  "amount": str(sent.amount), "decimals": deployed.decimals,
                  "recipient": to})  # fmt: skip
        else:
            console.print(sent.message_id, soft_wrap=True)
        err_console.print(
            f"sent {amount} {deployed.symbol} from {from_chain} to {to_chain} for {to} "
            f"(tx {sent.tx_hash}); follow it with `stbridge bridge status {sent.message_id}`",
            style="dim",
            soft_wrap=True,
        )

    asyncio.run(go())


@app.command()
def status(message_id: str, config_path: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Where a transfer is: dispatched, checkpointed, delivered, bounced, returned."""
    config = get_config(config_path)

    async def go() -> None:
        async with Session(config) as session:
            found = await transfer_status(session, message_id)
        if as_json:
            emit({"message_id": found.message_id, "origin": found.origin,
                  "destination": found.destination, "nonce": found.nonce, "state": found.state,
                  "stages": [{"name": s.name, "done": s.done, "detail": s.detail}
                             for s in found.stages]})  # fmt: skip
            return
        console.print(f"message {found.message_id}  {found.origin} -> {found.destination}, "
                      f"nonce {found.nonce}: [bold]{found.state}[/bold]")  # fmt: skip
        for stage in found.stages:
            mark = "[green]✓[/green]" if stage.done else "[dim]·[/dim]"
            console.print(f"  {mark} {stage.name:<13} {stage.detail}")

    asyncio.run(go())


def show_balances(
    wallet: Annotated[str, typer.Option(help="The wallet to look up.")],
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """A wallet's balance of every token on every chain."""
    config = get_config(config_path)
    address = parse_address(wallet, "wallet")

    async def go() -> None:
        async with Session(config) as session:
            holdings = await balances(session, address)
            chains = [c.name for c in config.chains]
        if as_json:
            emit({"wallet": address, "tokens": [
                {"symbol": h.symbol, "decimals": h.decimals, "total": str(h.total),
                 "by_chain": {c: str(h.by_chain.get(c, 0)) for c in chains}}
                for h in holdings]})  # fmt: skip
            return
        table = Table(title=f"balances of {address}")
        table.add_column("token")
        for chain in chains:
            table.add_column(chain, justify="right")
        table.add_column("total", justify="right")
        for h in holdings:
            cells = [format_amount(h.by_chain.get(c, 0), h.decimals) for c in chains]
            table.add_row(h.symbol, *cells, format_amount(h.total, h.decimals))
        console.print(table)

    asyncio.run(go())
