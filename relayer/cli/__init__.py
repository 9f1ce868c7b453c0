"""The `stbridge` command line."""

from __future__ import annotations

import faulthandler
import signal
import sys
from typing import Annotated

import typer

from relayer import __version__
from relayer.cli import bridge, captable, devnet, dvp, health, investor, relay, system, token
from relayer.cli import distribution as distribution_cli
from relayer.cli import fund as devnet_fund
from relayer.cli import vote as vote_cli
from relayer.cli.common import ConfigOption, err_console
from relayer.cli.examples import add_examples
from relayer.cli.output import JsonOption, command_name, emit, wants_json, write_error
from relayer.errors import StbridgeError

app = typer.Typer(
    name="stbridge",
    help="Cross-chain settlement relayer and bridge for regulated security tokens.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(devnet.app, name="devnet")
app.command("run")(relay.run)
app.command("validator")(relay.validator)
app.add_typer(relay.messages_app, name="messages")
app.command("health-check")(health.health_check)
app.command("deploy")(system.deploy)
app.command("up")(system.up)
app.command("onboard")(system.onboard)
devnet.app.command("fund")(devnet_fund.fund)
app.add_typer(bridge.app, name="bridge")
app.command("balances")(bridge.show_balances)
app.add_typer(investor.app, name="investor")
app.add_typer(token.app, name="token")
app.command("captable")(captable.captable)
app.command("audit")(captable.audit_command)
app.add_typer(dvp.app, name="dvp")
app.add_typer(distribution_cli.app, name="distribution")
app.add_typer(vote_cli.app, name="vote")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    pass


@app.command()
def version(as_json: JsonOption = False, config_path: ConfigOption = None) -> None:
    """Print stbridge's version."""
    if as_json:
        emit({"version": __version__})
    else:
        typer.echo(__version__)


add_examples(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a command; a StbridgeError becomes one line on stderr.

    With ``--json`` a failure is also printed on stdout as the JSON envelope
    (relayer/cli/output.py). Exit codes: README, "Exit codes".
    """
    # `kill -USR1 <pid>` prints every thread's stack: how to see where a process hangs
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = wants_json(args)

    def failed(kind: str, message: str, code: int) -> int:
        if as_json:
            write_error(command_name(typer.main.get_command(app), args), kind, message, code)
        return code

    try:
        with devnet.map_chain_errors():  # the devnet's errors, as one line each too
            result = app(args=args, standalone_mode=False)
    except StbridgeError as exc:
        err_console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        return failed(type(exc).__name__, str(exc), exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return failed("Interrupted", "interrupted", 130)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        return failed("Aborted", "aborted", 1)
    except Exception as exc:  # click's usage errors and the like
        try:  # typer vendors click from 0.2x on (no `click` package); older typers use click
            from typer._click.exceptions import ClickException
        except ImportError:  # pragma: no cover - depends on the installed typer
            from click.exceptions import ClickException  # type: ignore[no-redef]

        if isinstance(exc, ClickException):
            exc.show()
            return failed(type(exc).__name__, exc.format_message(), exc.exit_code)
        raise
    # click returns the code of a typer.Exit instead of raising it outside standalone mode
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
