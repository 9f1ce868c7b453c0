"""`stbridge dvp offer|accept|lock|claim|refund|status|list`: cross-chain delivery versus payment.

Offers are JSON documents the traders pass to each other (a file, a message); the
commands print them on stdout, so ``stbridge dvp offer … > offer.json`` works, and
everything meant for people goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from relayer.cli.common import (
    ConfigOption,
    console,
    err_console,
    format_amount,
    get_config,
    parse_address,
    parse_amount,
    resolve_key,
)
from relayer.cli.output import JsonOption, emit, emit_failed_check
from relayer.deployment.session import Session
from relayer.dvp.actions import (
    LegLock,
    accept_offer,
    claim_asset,
    lock_asset,
    make_offer,
    refund_legs,
)
from relayer.dvp.files import all_records, resolve, secret_path
from relayer.dvp.protocol import Leg, Offer
from relayer.dvp.status import (
    LegState,
    TradeStatus,
    show_units,
    trade_status,
    trade_status_json,
)
from relayer.errors import InputError

app = typer.Typer(
    help="Trade security tokens on one chain against payment on another, atomically.",
    no_args_is_help=True,
)

KeyEnv = Annotated[
    str | None,
    typer.Option("--key-env", help="Environment variable holding your key (devnet: a trader)."),
]
Out = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write the offer here instead of stdout.")
]
TradeArg = Annotated[str, typer.Argument(help="Trade id (16 hex digits) or offer file.")]
SELLER, BUYER = "trader[0]", "trader[1]"


@app.command()
def offer(
    buyer: Annotated[str, typer.Option(help="The buyer's address.")],
    sell: Annotated[str, typer.Option(help="Amount of the security token, e.g. 10.")],
    price: Annotated[str, typer.Option(help="Amount of the payment token, e.g. 2500.")],
    token: Annotated[
        str | None, typer.Option(help="Security token symbol or address (default: the first).")
    ] = None,
    on: Annotated[str | None, typer.Option("--on", help="Chain of the token (home).")] = None,
    pay_on: Annotated[str | None, typer.Option(help="Chain of the payment (another).")] = None,
    out: Out = None,
    key_env: KeyEnv = None,
    config_path: ConfigOption = None,
) -> None:
    """Seller: offer tokens for payment on another chain; prints the offer to send the buyer."""
    config = get_config(config_path)
    key = resolve_key(config, key_env, SELLER)
    to = parse_address(buyer, "buyer")
    symbol = token or config.tokens[0].symbol
    asset_chain = on or config.home
    payment_chain = pay_on or next(c.name for c in config.chains if c.name != asset_chain)

    async def go() -> Offer:
        async with Session(config) as session:
            deployed = session.token(symbol)
            if config.payment_token is None:
                raise InputError("the config has no [payment_token]")
            return await make_offer(
                session, seller=key, buyer=to, token=symbol,
                amount=parse_amount(sell, deployed.decimals, "--sell"),
                asset_chain=asset_chain,
                price=parse_amount(price, config.payment_token.decimals, "--price"),
                payment_chain=payment_chain,
            )  # fmt: skip

    made = asyncio.run(go())
    _emit(made, out)
    _note(f"offer {made.trade}: {_leg(made.asset)} for {_leg(made.payment)} to {made.buyer}; "
          "send it to the buyer, who runs `stbridge dvp accept`")  # fmt: skip


@app.command()
def accept(
    offer_file: Annotated[Path, typer.Argument(help="The seller's offer (JSON).")],
    expires_in: Annotated[
        int, typer.Option(min=1, help="Seconds the asset leg stays claimable (T_A - now).")
    ] = 600,
    out: Out = None,
    key_env: KeyEnv = None,
    config_path: ConfigOption = None,
) -> None:
    """Buyer: make the secret, lock the payment for the seller; prints the accepted offer."""
    config = get_config(config_path)
    key = resolve_key(config, key_env, BUYER)
    record = resolve(str(offer_file), parse_address)

    async def go() -> Offer:
        async with Session(config) as session:
            accepted, _leg_lock = await accept_offer(
                session, buyer=key, offer=record.offer, expires_in=expires_in
            )
            return accepted

    accepted = asyncio.run(go())
    _emit(accepted, out)
    _note(f"locked {_leg(accepted.payment)} for the seller until {_when(accepted.payment_expiry)}; "
          f"secret in {secret_path(accepted.trade)} (keep it); send the accepted offer to the "
          "seller, who runs `stbridge dvp lock`")  # fmt: skip


@app.command()
def lock(
    trade: TradeArg,
    key_env: KeyEnv = None,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Seller: check the buyer's payment leg on chain, then lock the tokens for the buyer."""
    config = get_config(config_path)
    key = resolve_key(config, key_env, SELLER)
    record = resolve(trade, parse_address)

    async def go() -> None:
        async with Session(config) as session:
            done = await lock_asset(session, seller=key, record=record)
        if as_json:
            emit(_leg_lock_json(done))
        else:
            console.print(f"0x{done.lock_id.hex()}")
        _note(f"locked {_leg(record.offer.asset)} for {record.offer.buyer} until "
              f"{_when(done.expiry)} (tx {done.tx_hash}); you need not stay online: the relayer "
              "claims your payment when the buyer claims")  # fmt: skip

    asyncio.run(go())


@app.command()
def claim(
    trade: TradeArg,
    key_env: KeyEnv = None,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Buyer: claim the tokens with the secret (this reveals it; the seller is then paid)."""
    config = get_config(config_path)
    key = resolve_key(config, key_env, BUYER)
    record = resolve(trade, parse_address)

    async def go() -> None:
        async with Session(config) as session:
            done = await claim_asset(session, key=key, record=record)
        if as_json:
            emit(_leg_lock_json(done))
        else:
            console.print(done.tx_hash)
        _note(f"claimed {_leg(record.offer.asset)} (lock 0x{done.lock_id.hex()[:12]}…)")

    asyncio.run(go())


@app.command()
def refund(
    trade: TradeArg,
    leg: Annotated[
        str | None, typer.Option(help="asset or payment (default: every expired leg).")
    ] = None,
    key_env: KeyEnv = None,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give expired legs back to their senders (anyone may; your key pays the gas)."""
    if leg not in (None, "asset", "payment"):
        raise InputError(f"--leg {leg!r}: use asset or payment")
    config = get_config(config_path)
    key = resolve_key(config, key_env, SELLER if leg == "asset" else BUYER)
    record = resolve(trade, parse_address)

    async def go() -> None:
        async with Session(config) as session:
            done = await refund_legs(session, key=key, record=record, leg=leg)
        if as_json:
            emit({"refunded": [_leg_lock_json(d) for d in done]})
            return
        for d in done:
            console.print(f"refunded the {d.leg} leg on {d.chain} (tx {d.tx_hash})")

    asyncio.run(go())


@app.command()
def status(trade: TradeArg, config_path: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Both legs of a trade as the chains hold them now."""
    config = get_config(config_path)
    record = resolve(trade, parse_address)

    async def go() -> TradeStatus:
        async with Session(config) as session:
            return await trade_status(session, record)

    found = asyncio.run(go())
    if as_json:
        if found.mismatches:
            raise emit_failed_check(trade_status_json(found), "; ".join(found.mismatches))
        emit(trade_status_json(found))
        return
    o = found.offer
    console.print(f"trade {o.trade}: [bold]{found.summary}[/bold]")
    console.print(f"  seller {o.seller}  buyer {o.buyer}  margin {o.margin_seconds} s")
    if o.hashlock is not None:
        console.print(f"  hashlock 0x{o.hashlock.hex()}")
    for state in (found.asset, found.payment):
        agreed = f", expiry {_when(state.agreed_expiry)}" if state.agreed_expiry else ""
        console.print(
            f"  {state.leg:<8} offer: {escape(_terms(state))} to {state.receiver}{agreed}",
            soft_wrap=True,
        )
        for lk in state.locks:
            held = state.token(lk.token)
            amount = escape(show_units(lk.amount, held.decimals if held else None,
                                       held.symbol if held else lk.token))  # fmt: skip
            mark = " [red]MISMATCH[/red]" if lk.lock_id in state.differences else ""
            console.print(
                f"    lock 0x{lk.lock_id.hex()[:16]}…  holds {amount} (token {lk.token}) for "
                f"{lk.receiver}, hashlock 0x{lk.hashlock.hex()[:16]}…, expiry {lk.expiry}: "
                f"{state.describe(lk)}{mark}",
                soft_wrap=True,
            )
        if o.accepted and not state.locks:
            console.print("    not locked")
    for mismatch in found.mismatches:
        err_console.print(f"[red]mismatch:[/red] {escape(mismatch)}", soft_wrap=True)
    if found.mismatches:
        raise typer.Exit(1)


@app.command("list")
def list_trades(config_path: ConfigOption = None, as_json: JsonOption = False) -> None:
    """The trades recorded here, with their state on chain."""
    config = get_config(config_path)
    records = all_records()
    if as_json and not records:
        emit({"trades": []})
        return
    if not records:
        console.print("no trades recorded here yet (`stbridge dvp offer` or `accept` make one)")
        return

    async def go() -> list[TradeStatus]:
        async with Session(config) as session:
            return [await trade_status(session, r) for r in records]

    trades = asyncio.run(go())
    if as_json:
        emit({"trades": [trade_status_json(found) for found in trades]})
        return
    table = Table()
    for column in ("trade", "asset", "payment", "seller", "buyer", "state"):
        table.add_column(column)
    for found in trades:
        o = found.offer
        state = found.summary + (" [red](mismatch: see status)[/red]" if found.mismatches else "")
        table.add_row(o.trade, _terms(found.asset), _terms(found.payment), o.seller[:10] + "…",
                      o.buyer[:10] + "…", state)  # fmt: skip
    console.print(table)


def _leg_lock_json(done: LegLock) -> dict[str, object]:
    return {"trade": done.trade, "leg": done.leg, "chain": done.chain,
            "lock_id": f"0x{done.lock_id.hex()}", "tx_hash": done.tx_hash,
            "expiry": done.expiry or None}  # fmt: skip


def _terms(state: LegState) -> str:
    """The offer's leg in token units as the token contract counts them (its decimals)."""
    facts = state.token(state.terms.token)
    decimals = facts.decimals if facts else None
    return f"{show_units(state.terms.amount, decimals, state.terms.symbol)} on {state.terms.chain}"


def _leg(leg: Leg) -> str:
    return f"{format_amount(leg.amount, leg.decimals)} {leg.symbol} on {leg.chain}"


def _when(epoch: int | None) -> str:
    if epoch is None:
        return "?"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") + f" ({epoch})"


def _emit(offer: Offer, out: Path | None) -> None:
    text = json.dumps(offer.to_json(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        _note(f"wrote {out}")


def _note(text: str) -> None:
    err_console.print(text, style="dim", soft_wrap=True)
