"""`stbridge vote open|cast|send-tallies|status|tally` (docs/distributions.md, "Votes")."""

from __future__ import annotations

from typing import Annotated

import typer

from relayer.cli.common import ConfigOption, get_config, resolve_key, run_in_session
from relayer.cli.lines import say
from relayer.cli.output import JsonOption, emit
from relayer.deployment.session import Session
from relayer.inputs import format_time, parse_future_time, parse_instant
from relayer.vote import actions

app = typer.Typer(help="Holder votes on every chain from one record date.", no_args_is_help=True)


IdOption = Annotated[int, typer.Option("--id", help="The vote id `vote open` printed.")]
KeyOption = Annotated[
    str | None,
    typer.Option("--key-env", help="Environment variable holding the signing key."),
]


@app.command("open")
def open_vote(
    token: Annotated[str, typer.Option("--token", help="Token symbol or address.")],
    record_date: Annotated[str, typer.Option("--record-date", help="Holders at this date.")],
    closes: Annotated[str, typer.Option("--closes", help="Deadline: a date or a duration.")],
    question: Annotated[str, typer.Option("--question", help="What the holders vote on.")],
    options: Annotated[
        str, typer.Option("--options", help="Comma-separated options.")
    ] = "yes,no,abstain",
    key_env: KeyOption = None,
    as_json: JsonOption = False,
    config_path: ConfigOption = None,
) -> None:
    """Open a vote: power = each holder's balance at the record date, per chain."""
    config = get_config(config_path)
    record_time, _ = parse_instant(record_date, "--record-date")
    choices = actions.parse_options(options)
    key = resolve_key(config, key_env, "issuer_agent")

    async def work(session: Session) -> tuple[actions.VoteRecord, object]:
        now = (await session.rpc(config.home).block("latest")).timestamp
        until = parse_future_time(closes, now, "--closes")
        return await actions.open_vote(session, key, token, record_time, until, question, choices)

    record, path = run_in_session(config, work)
    if as_json:
        powers = {c: str(p) for c, p in record.powers.items()}
        emit(
            {
                "id": record.id,
                "roots": record.roots,
                "voters": len(record.voters),
                "powers": powers,
                "file": str(path),
            }
        )
        return
    chains = ", ".join(record.roots)
    say(
        f"vote {record.id}: {record.question!r} ({', '.join(record.options)}), closes "
        f"{format_time(record.closes)}; {len(record.voters)} voters on {chains}"
    )


@app.command()
def cast(
    vote_id: IdOption,
    chain: Annotated[str, typer.Option("--chain", help="The chain where you held.")],
    option: Annotated[str, typer.Option("--option", help="One of the vote's options.")],
    by_signature: Annotated[
        bool,
        typer.Option("--by-signature", help="Sign (EIP-712) and let the issuer agent submit it."),
    ] = False,
    key_env: KeyOption = None,
    as_json: JsonOption = False,
    config_path: ConfigOption = None,
) -> None:
    """Vote with the power you held on one chain (once per chain)."""
    config = get_config(config_path)
    holder = resolve_key(config, key_env, "investor[0]")
    submitter = resolve_key(config, None, "issuer_agent") if by_signature else None
    tx = run_in_session(
        config, lambda s: actions.cast(s, holder, vote_id, chain, option, submitter)
    )
    if as_json:
        emit({"chain": chain, "wallet": holder.address, "option": option, "tx": tx})
        return
    say(f"{chain}: {holder.address} voted {option} (tx {tx})")


@app.command("send-tallies")
def send_tallies(
    vote_id: IdOption,
    key_env: KeyOption = None,
    as_json: JsonOption = False,
    config_path: ConfigOption = None,
) -> None:
    """After the deadline: each chain's tally goes home as a proven message (anyone may)."""
    config = get_config(config_path)
    key = resolve_key(config, key_env, "issuer_agent")
    done = run_in_session(config, lambda s: actions.send_tallies(s, key, vote_id))
    if as_json:
        emit({"sent": done})
        return
    say(f"tallies sent from {', '.join(done)}" if done else "every tally was sent already")


@app.command()
def status(
    vote_id: IdOption, as_json: JsonOption = False, config_path: ConfigOption = None
) -> None:
    """Per chain: voters, votes cast, the tally so far, whether it reached home."""
    config = get_config(config_path)
    result = run_in_session(config, lambda s: actions.tally(s, vote_id))
    if as_json:
        emit(result.as_json())
        return
    r = result.record
    say(f"vote {r.id}: {r.question!r}, closes {format_time(r.closes)}")
    for c in result.chains:
        shown = ", ".join(f"{o} {t}" for o, t in zip(r.options, c.tally, strict=True))
        home = "counted at home" if c.counted_home else ("sent" if c.sent else "open")
        say(f"  {c.chain}: {c.voted}/{c.voters} voted ({shown}); {home}")


@app.command()
def tally(vote_id: IdOption, as_json: JsonOption = False, config_path: ConfigOption = None) -> None:
    """The home chain's tally: the sum of every chain's tally it received (final when all)."""
    config = get_config(config_path)
    result = run_in_session(config, lambda s: actions.tally(s, vote_id))
    if as_json:
        emit(result.as_json())
        return
    r = result.record
    state = "final" if result.final else "not final (chains still to report)"
    say(f"vote {r.id} {state}: " + ", ".join(
        f"{o} {t}" for o, t in zip(r.options, result.totals, strict=True)))  # fmt: skip
