"""`stbridge captable` and `stbridge audit`: the issuer's books over every chain."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from relayer.cli.common import ConfigOption, console, err_console, format_amount, get_config
from relayer.cli.lines import say
from relayer.cli.output import JsonOption, emit, emit_failed_check
from relayer.console.objects import audit_json, captable_json
from relayer.deployment.session import Session
from relayer.inputs import format_time, parse_cut
from relayer.issuer.audit import AuditReport, audit
from relayer.issuer.captable import CapTable, cap_table
from relayer.issuer.holdings_review import Holding

AtBlockOption = Annotated[
    list[str] | None,
    typer.Option(
        "--at-block",
        help="CHAIN:BLOCK (repeatable), or a time (2027-12-31, 2027-12-31T12:00:00Z, @unix) at "
        "which every chain is read. Default: the latest moment final on every chain.",
        show_default=False,
    ),
]


def captable(
    token: Annotated[str, typer.Option("--token", help="Token symbol or address.")],
    as_json: JsonOption = False,
    at_block: AtBlockOption = None,
    config_path: ConfigOption = None,
) -> None:
    """One cap table over every chain, reconciled with the issued supply (exit 1 if not)."""
    config = get_config(config_path)
    spec = parse_cut(at_block or [], [c.name for c in config.chains])

    async def go() -> CapTable:
        async with Session(config) as session:
            return await cap_table(session, token, spec)

    table = asyncio.run(go())
    if as_json:
        for problem in table.problems:
            err_console.print(f"[red]mismatch:[/red] {problem}", soft_wrap=True)
        if not table.ok:
            raise emit_failed_check(captable_json(table), "the cap table does not reconcile")
        emit(captable_json(table))
        return
    else:
        _print_captable(table)
    for problem in table.problems:
        err_console.print(f"[red]mismatch:[/red] {problem}", soft_wrap=True)
    if not table.ok:
        raise typer.Exit(1)


def _cut_line(blocks: dict[str, int], times: dict[str, int], label: str) -> str:
    parts = ", ".join(f"{c} block {b} ({format_time(times[c])})" for c, b in blocks.items())
    return f"read {label}: {parts}"


def _print_captable(t: CapTable) -> None:
    def amount(units: int) -> str:
        return format_amount(units, t.decimals)

    say(f"{t.symbol} cap table, {_cut_line(t.cut.blocks, t.cut.times, t.cut.label)}")
    grid = Table(show_edge=False)
    grid.add_column("holder")
    grid.add_column("status")
    for chain in t.chains:
        grid.add_column(chain, justify="right")
    grid.add_column("total", justify="right")
    for h in t.holders:
        cells = [amount(h.balances.get(c, 0)) for c in t.chains]
        status = h.status if h.status == "verified" else f"[yellow]{h.status}[/yellow]"
        grid.add_row(h.wallet, status, *cells, amount(h.total))
    console.print(grid)
    say(f"holders: {t.holder_count}")
    say("custodians (not holders):")
    for c in t.custodians:
        say(f"  {c.chain:<6} {c.role:<14} {c.address}  {amount(c.balance)}")
    for lane in t.escrow.lanes:
        mark = "ok" if lane.ok else "[red]MISMATCH[/red]"
        say(
            f"lane {t.escrow_chain}<->{lane.remote}: escrow for it {amount(lane.locked)} = supply "
            f"on {lane.remote} {amount(lane.remote_supply)} + in flight {amount(lane.in_flight)} "
            f"({lane.in_flight_messages} message(s)): {mark}"
        )
    say(
        f"issued {amount(t.issued)} = held {amount(t.held)} + in custody "
        f"{amount(t.in_custody)} + in flight {amount(t.in_flight)}"
        + (f" + escrow surplus {amount(t.escrow.surplus)}" if t.escrow.surplus else "")
        + (": [green]reconciled[/green]" if t.ok else ": [red]does not reconcile[/red]")
    )
    for note in t.notes:
        say(f"note: {note}", style="dim")


def audit_command(
    as_json: JsonOption = False,
    at_block: AtBlockOption = None,
    config_path: ConfigOption = None,
) -> None:
    """Check the escrow invariant of every token and lane, and every mirror against home."""
    config = get_config(config_path)
    spec = parse_cut(at_block or [], [c.name for c in config.chains])

    async def go() -> AuditReport:
        async with Session(config) as session:
            return await audit(session, spec)

    report = asyncio.run(go())
    if as_json:
        for problem in report.problems:
            err_console.print(f"[red]violation:[/red] {problem}", soft_wrap=True)
        if not report.ok:
            raise emit_failed_check(audit_json(report), "the audit found violations")
        emit(audit_json(report))
        return
    else:
        _print_audit(report)
    for problem in report.problems:
        err_console.print(f"[red]violation:[/red] {problem}", soft_wrap=True)
    for h in report.exceptions:
        err_console.print(
            f"[red]exception:[/red] {h.token} on {h.chain}: {h.wallet} holds "
            f"{format_amount(h.balance, h.decimals)} {h.token}, {', '.join(h.reasons)}: "
            f"{h.command(report.home)}",
            soft_wrap=True,
        )
    if not report.ok:
        raise typer.Exit(1)


def _print_audit(r: AuditReport) -> None:
    say(f"audit, {_cut_line(r.cut.blocks, r.cut.times, r.cut.label)}")
    for check in r.escrow:

        def amount(units: int, decimals: int = check.decimals) -> str:
            return format_amount(units, decimals)

        for lane in check.lanes:
            mark = "ok" if lane.ok else "[red]VIOLATED[/red]"
            say(
                f"  {check.symbol} lane {r.home}<->{lane.remote}: escrow for it "
                f"{amount(lane.locked)} = supply on {lane.remote} {amount(lane.remote_supply)} "
                f"+ in flight {amount(lane.in_flight)} ({lane.in_flight_messages} message(s)): "
                f"{mark}"
            )
        say(
            f"  {check.symbol} escrow {check.escrow}: holds {amount(check.balance)}, its lanes "
            f"account for {amount(check.locked)}"
        )
    for m in r.mirrors:
        state = "ok" if not m.violations else "[red]VIOLATED[/red]"
        say(
            f"  mirror on {m.chain}: {m.wallets} wallet(s), {m.in_sync} in sync, "
            f"{m.catching_up} catching up, {len(m.violations)} wrong: {state}"
        )
        for line in m.behind:
            say(f"    catching up: {line}", style="dim")
    by_chain: dict[str, list[Holding]] = {}
    for h in r.exceptions:
        by_chain.setdefault(h.chain, []).append(h)
    for chain in sorted(by_chain):
        say(
            f"  holders on {chain} who may not hold (exceptions: move them with a forced transfer):"
        )
        for h in by_chain[chain]:
            say(f"    {h.wallet}  {format_amount(h.balance, h.decimals)} {h.token}  "
                f"{', '.join(h.reasons)}")  # fmt: skip
            say(f"      {escape(h.command(r.home))}", style="dim")
    if not r.exceptions:
        say("  holders who may not hold: none")
    for h in r.frozen:
        held = f"{format_amount(h.balance, h.decimals)} {h.token}"
        say(f"  frozen, may hold (not an exception): on {h.chain} {h.wallet}  {held}  "
            f"{', '.join(h.reasons)}")  # fmt: skip
    for note in r.notes:
        say(f"note: {note}", style="dim")
    say("[green]audit passed[/green]" if r.ok else "[red]audit failed[/red]")
