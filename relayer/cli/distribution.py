"""`stbridge distribution declare|commit|fund|pay|claim|status|report|release|reclaim|close`
(docs/distributions.md)."""

from __future__ import annotations

import csv
import sys
from typing import Annotated, Any

import typer

from relayer.cli.common import ConfigOption, get_config, parse_address, resolve_key, run_in_session
from relayer.cli.lines import say
from relayer.cli.output import JsonOption, emit
from relayer.deployment.session import Session
from relayer.distribution import actions
from relayer.errors import InputError
from relayer.inputs import format_amount, format_time, parse_future_time, parse_instant

app = typer.Typer(
    help="Dividends and coupons paid on every chain from one record date.", no_args_is_help=True
)


IdOption = Annotated[int, typer.Option("--id", help="The distribution id `declare` printed.")]
ChainOption = Annotated[str | None, typer.Option("--chain", help="One chain only (default: all).")]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key-env",
        help="Environment variable holding the signing key (default on a devnet: see the command).",
    ),
]


def _text(value: Any) -> Any:
    """Amounts as decimal strings (README: Scripting); counts are amounts too, harmlessly."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _money(record: actions.Record, units: int) -> str:
    return f"{format_amount(units, record.payment_decimals)} {record.payment_symbol}"


@app.command()
def declare(
    token: Annotated[str, typer.Option("--token", help="Token symbol or address.")],
    record_date: Annotated[
        str, typer.Option("--record-date", help="Holders at the end of this day (or a time).")
    ],
    amount: Annotated[
        str | None, typer.Option("--amount", help="Total in payment-token units (250000).")
    ] = None,
    per_unit: Annotated[
        str | None, typer.Option("--per-unit", help="Payment-token units per whole token.")
    ] = None,
    claim_until: Annotated[
        str, typer.Option("--claim-until", help="Claim deadline: a date or a duration.")
    ] = "365d",
    key_env: KeyOption = None,
    as_json: JsonOption = False,
    config_path: ConfigOption = None,
) -> None:
    """Declare a distribution on the home chain and commit each chain's root."""
    config = get_config(config_path)
    record_time, _ = parse_instant(record_date, "--record-date")
    key = resolve_key(config, key_env, "issuer_agent")

    async def work(session: Session) -> actions.Declared:
        now = (await session.rpc(config.home).block("latest")).timestamp
        until = parse_future_time(claim_until, now, "--claim-until")
        return await actions.declare(session, key, token, record_time, amount, per_unit, until)

    done = run_in_session(config, work)
    r = done.record
    if as_json:
        emit(
            {
                "id": r.id,
                "token": r.token,
                "record_date": r.record_date,
                "amount": str(r.amount),
                "claim_until": r.claim_until,
                "roots": r.roots,
                "totals": {c: str(v) for c, v in r.totals.items()},
                "holders": len(r.leaves),
                "dust": str(r.dust),
                "file": str(done.path),
                "tx_hashes": done.tx_hashes,
                "gas": done.gas,
            }
        )
        return
    say(
        f"distribution {r.id}: {_money(r, r.amount)} to {r.token} holders at "
        f"{format_time(r.record_date)}, claimable until {format_time(r.claim_until)}"
    )
    for chain, root in r.roots.items():
        say(f"  {chain}: {len(r.on(chain))} leaves, {_money(r, r.totals[chain])}, root {root}")
    say(f"entitlements and proofs: {done.path}")


@app.command()
def commit(
    distribution_id: IdOption,
    key_env: KeyOption = None,
    as_json: JsonOption = False,
    config_path: ConfigOption = None,
) -> None:
    """Commit the roots an interrupted `declare` left out (a second run sends nothing)."""
    config = get_config(config_path)
    key = resolve_key(config, key_env, "issuer_agent")
    done = run_in_session(config, lambda s: actions.commit_missing(s, key, distribution_id))
    if as_json:
        emit({"committed": done})
        return
    say(f"committed the roots of {', '.join(done)}" if done else "every root is committed")


@app.command()
def fund(
    distribution_id: IdOption,
    chain: ChainOption = None,
    key_env: KeyOption = None,
    as_json: JsonOption = False,
    config_path: ConfigOption = None,
) -> None:
    """Fund each chain's distributor with what it still needs (the agent's payment tokens)."""
    config = get_config(config_path)
    key = resolve_key(config, key_env, "issuer_agent")
    done = run_in_session(config, lambda s: actions.fund(s, key, distribution_id, chain))
    if as_json:
        emit([{"chain": d.chain, "what": d.what, "tx_hashes": d.tx_hashes} for d in done])
        return
    for d in done:
        say(f"{d.chain}: {d.what} (tx {', '.join(d.tx_hashes)})")
    if not done:
        say("every chain is funded already")


@app.command()
def pay(
    distribution_id: IdOption,
    chain: ChainOption = None,
    batch: Annotated[int, typer.Option("--batch", min=1, max=500, help="Holders per tx.")] = 100,
    key_env: KeyOption = None,
    as_json: JsonOption = False,
    config_path: ConfigOption = None,
) -> None:
    """Push payments to every unpaid holder, in batches (resumable; anyone may push)."""
    config = get_config(config_path)
    key = resolve_key(config, key_env, "issuer_agent")
    done = run_in_session(config, lambda s: actions.pay(s, key, distribution_id, chain, batch))
    if as_json:
        emit([{**d.__dict__} for d in done])
        return
    for d in done:
        say(
            f"{d.chain}: paid {d.paid}, reserved {d.reserved} (revoked or frozen), "
            f"{d.skipped} settled before; {d.batches} tx, gas {d.gas}"
        )


@app.command()
def claim(
    distribution_id: IdOption,
    chain: Annotated[str, typer.Option("--chain", help="The chain where you held.")],
    key_env: KeyOption = None,
    as_json: JsonOption = False,
    config_path: ConfigOption = None,
) -> None:
    """The holder claims its payment on one chain with its Merkle proof."""
    config = get_config(config_path)
    key = resolve_key(config, key_env, "investor[0]")
    leaf, tx = run_in_session(config, lambda s: actions.claim(s, key, distribution_id, chain))
    if as_json:
        emit(
            {
                "chain": chain,
                "wallet": leaf.wallet,
                "gross": str(leaf.gross),
                "withheld": str(leaf.withheld),
                "net": str(leaf.net),
                "tx_hashes": tx.tx_hashes,
            }
        )
        return
    say(f"{chain}: {leaf.wallet} claimed (tx {tx.tx_hashes[0]})")


@app.command()
def status(
    distribution_id: IdOption, as_json: JsonOption = False, config_path: ConfigOption = None
) -> None:
    """Per chain: entitled, funded, paid, reserved, unclaimed, and what is still to fund."""
    config = get_config(config_path)
    record, rows = run_in_session(config, lambda s: actions.status(s, distribution_id))
    if as_json:
        emit(
            {
                "id": record.id,
                "claim_until": record.claim_until,
                "chains": [
                    {
                        **{k: _text(v) for k, v in row.__dict__.items()},
                        "unclaimed": str(row.unclaimed),
                        "to_fund": str(row.to_fund),
                    }
                    for row in rows
                ],
            }
        )
        return
    until = format_time(record.claim_until)
    say(f"distribution {record.id} ({record.token}), claimable until {until}")
    for row in rows:
        arrived = "" if row.opened else " (root not arrived yet)"
        say(
            f"  {row.chain}{arrived}: entitled {_money(record, row.entitled)}, funded "
            f"{_money(record, row.funded)}, paid {_money(record, row.paid)} "
            f"({row.paid_holders}/{row.holders}), reserved {_money(record, row.reserved)} "
            f"({row.reserved_holders}), unclaimed {_money(record, row.unclaimed)}, to fund "
            f"{_money(record, row.to_fund)}" + (", closed" if row.closed else "")
        )


@app.command()
def report(
    distribution_id: IdOption,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
    as_json: JsonOption = False,
    config_path: ConfigOption = None,
) -> None:
    """One row per holder and chain: balance at the record date, gross, withheld, net, tx."""
    config = get_config(config_path)
    _record, rows = run_in_session(config, lambda s: actions.report(s, distribution_id))
    fields = ["chain", "wallet", "investor_id", "country", "balance", "gross", "withheld",
              "net", "state", "tx"]  # fmt: skip
    table: list[dict[str, Any]] = [
        {k: (str(v) if isinstance(v, int) else v) for k, v in r.__dict__.items()} for r in rows
    ]
    if as_json:
        emit(table)
        return
    if not as_csv:
        raise InputError("say how: --csv (one row per holder and chain) or --json")
    out = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
    out.writeheader()
    out.writerows(table)


@app.command()
def close(
    distribution_id: IdOption,
    to: Annotated[
        str | None, typer.Option("--to", help="Where unclaimed funds go (default: the agent).")
    ] = None,
    chain: ChainOption = None,
    key_env: KeyOption = None,
    as_json: JsonOption = False,
    config_path: ConfigOption = None,
) -> None:
    """After the claim deadline: return what is unclaimed, per chain (reserved stays)."""
    config = get_config(config_path)
    key = resolve_key(config, key_env, "issuer_agent")
    target = parse_address(to, "--to") if to else key.address
    done = run_in_session(config, lambda s: actions.close(s, key, distribution_id, target, chain))
    if as_json:
        emit([{"chain": d.chain, "what": d.what, "tx_hashes": d.tx_hashes} for d in done])
        return
    for d in done:
        say(f"{d.chain}: {d.what}")


def _reserved_command(release: bool) -> None:
    def command(
        distribution_id: IdOption,
        chain: Annotated[str, typer.Option("--chain", help="The chain where it is reserved.")],
        holder: Annotated[str, typer.Option("--holder", help="The reserved holder.")],
        to: Annotated[
            str | None,
            typer.Option("--to", help="reclaim: where the amount goes (default: the agent)."),
        ] = None,
        key_env: KeyOption = None,
        as_json: JsonOption = False,
        config_path: ConfigOption = None,
    ) -> None:
        config = get_config(config_path)
        wallet = parse_address(holder, "--holder")
        key = resolve_key(config, key_env, "issuer_agent")
        target = parse_address(to, "--to") if to else key.address
        done = run_in_session(
            config,
            lambda s: actions.settle_reserved(
                s, key, distribution_id, chain, wallet, release=release, to=target
            ),
        )
        if as_json:
            emit({"chain": done.chain, "what": done.what, "tx_hashes": done.tx_hashes})
            return
        say(f"{done.chain}: {done.what} (tx {done.tx_hashes[0]})")

    command.__doc__ = (
        "Pay a reserved holder who is no longer revoked or frozen."
        if release
        else "Take a reserved holder's amount back (to the agent, or --to)."
    )
    app.command("release" if release else "reclaim")(command)


_reserved_command(True)
_reserved_command(False)
