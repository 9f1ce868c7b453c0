"""The `stbridge` command line."""

from __future__ import annotations

import faulthandler
import signal
import sys

import typer

from relayer import __version__
from relayer.cli import bridge, captable, devnet, dvp, health, investor, relay, system, token
from relayer.cli.common import err_console
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
app.add_typer(bridge.app, name="bridge")
app.command("balances")(bridge.show_balances)
app.add_typer(investor.app, name="investor")
app.add_typer(token.app, name="token")
app.command("captable")(captable.captable)
app.command("audit")(captable.audit_command)
app.add_typer(dvp.app, name="dvp")


@app.command()
def version() -> None:
    """Print stbridge's version."""
    typer.echo(__version__)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a command; a StbridgeError becomes one line on stderr."""
    # `kill -USR1 <pid>` prints every thread's stack: how to see where a process hangs
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        result = app(args=argv, standalone_mode=False)
    except StbridgeError as exc:
        err_console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        return 1
    except Exception as exc:  # click's usage errors and the like
        try:  # typer vendors click from 0.2x on (no `click` package); older typers use click
            from typer._click.exceptions import ClickException
        except ImportError:  # pragma: no cover - depends on the installed typer
            from click.exceptions import ClickException  # type: ignore[no-redef]

        if isinstance(exc, ClickException):
            exc.show()
            return exc.exit_code
        raise
    # click returns the code of a typer.Exit instead of raising it outside standalone mode
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
