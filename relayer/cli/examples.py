"""Examples for every command's ``--help``, kept in one place.

Each command's help ends with its examples (the click ``epilog``). A test walks the
command tree: every command must have examples here, and every example must parse
with the command's own options.
"""

from __future__ import annotations

from typing import Any

import typer

INVESTOR = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"
BUYER = "0x71bE63f3384f5fb98995898A86B02Fb2426c5788"

EXAMPLES: dict[str, list[str]] = {
    "distribution declare": [
        "stbridge distribution declare --token ACME --record-date 2027-03-31 --amount 250000",
        "stbridge distribution declare --token ACME --record-date 2027-03-31 --per-unit 0.05 "
        "--claim-until 2027-12-31 --json",
    ],
    "distribution commit": ["stbridge distribution commit --id 1"],
    "distribution fund": [
        "stbridge distribution fund --id 1",
        "stbridge distribution fund --id 1 --chain b",
    ],
    "distribution pay": [
        "stbridge distribution pay --id 1",
        "stbridge distribution pay --id 1 --chain b --batch 200 --json",
    ],
    "distribution claim": ["stbridge distribution claim --id 1 --chain b --key-env HOLDER_KEY"],
    "distribution status": [
        "stbridge distribution status --id 1",
        "stbridge distribution status --id 1 --json",
    ],
    "distribution report": [
        "stbridge distribution report --id 1 --csv",
        "stbridge distribution report --id 1 --json",
    ],
    "vote open": [
        "stbridge vote open --token ACME --record-date 2027-03-31 --closes 14d "
        '--question "Approve the merger?" --options yes,no,abstain',
    ],
    "vote cast": [
        "stbridge vote cast --id 1 --chain b --option yes --key-env HOLDER_KEY",
        "stbridge vote cast --id 1 --chain c --option no --by-signature",
    ],
    "vote send-tallies": ["stbridge vote send-tallies --id 1"],
    "vote status": ["stbridge vote status --id 1", "stbridge vote status --id 1 --json"],
    "vote tally": ["stbridge vote tally --id 1", "stbridge vote tally --id 1 --json"],
    "distribution release": [f"stbridge distribution release --id 1 --chain b --holder {BUYER}"],
    "distribution reclaim": [
        f"stbridge distribution reclaim --id 1 --chain b --holder {BUYER} --to {INVESTOR}"
    ],
    "distribution close": [
        "stbridge distribution close --id 1",
        f"stbridge distribution close --id 1 --to {INVESTOR} --chain b",
    ],
    "version": ["stbridge version", "stbridge --version", "stbridge version --json"],
    "devnet up": [
        "stbridge devnet up --detach",
        "stbridge devnet up --backend pyevm --block-time 0 --detach",
    ],
    "devnet status": ["stbridge devnet status", "stbridge devnet status --json"],
    "devnet down": ["stbridge devnet down"],
    "devnet fund": ["stbridge devnet fund -c configs/docker.toml"],
    "devnet restart": ["stbridge devnet restart b"],
    "run": [
        "stbridge run",
        "STBRIDGE_CONFIG=configs/docker.toml stbridge run --log-format json",
    ],
    "validator": ["stbridge validator --key-index 0 --port 9470"],
    "messages list": [
        "stbridge messages list --status failed",
        "stbridge messages list --lane a->b --limit 10 --json",
    ],
    "messages show": ["stbridge messages show 0x5c1e", 'stbridge messages show "$ID" --json'],
    "messages retry": ['stbridge messages retry "$ID"'],
    "health-check": ["stbridge health-check", "stbridge health-check --relayer --json"],
    "deploy": ["stbridge deploy", "stbridge deploy -c configs/docker.toml --json"],
    "up": ["stbridge up", "stbridge up --backend pyevm --block-time 1"],
    "onboard": ["stbridge onboard", "stbridge onboard -c configs/docker.toml"],
    "bridge send": [
        f"stbridge bridge send --from a --to b --token ACME --amount 10 --recipient {INVESTOR}",
        f"ID=$(stbridge bridge send --from a --to b --token ACME --amount 2.5 "
        f"--recipient {INVESTOR})",
    ],
    "bridge status": ['stbridge bridge status "$ID"', 'stbridge bridge status "$ID" --json'],
    "balances": [
        f"stbridge balances --wallet {INVESTOR}",
        f"stbridge balances --wallet {INVESTOR} --json",
    ],
    "investor add": [
        f"stbridge investor add {BUYER} --id INV-0042 --country DE --expires 2027-12-31",
    ],
    "investor update": [f"stbridge investor update {BUYER} --expires 365d"],
    "investor revoke": [f"stbridge investor revoke {BUYER}"],
    "investor freeze": [f"stbridge investor freeze {BUYER}"],
    "investor unfreeze": [f"stbridge investor unfreeze {BUYER}"],
    "investor resync": [f"stbridge investor resync {BUYER} {INVESTOR}"],
    "investor show": [f"stbridge investor show {BUYER}", f"stbridge investor show {BUYER} --json"],
    "token mint": [f"stbridge token mint --token ACME --to {INVESTOR} --amount 100"],
    "token burn": [f"stbridge token burn --token ACME --from {INVESTOR} --amount all"],
    "token forced-transfer": [
        f"stbridge token forced-transfer --token ACME --from {INVESTOR} --to {BUYER} "
        "--amount 5 --chain b",
    ],
    "token pause": [
        "stbridge token pause --token ACME",
        "stbridge token pause --token ACME --chain b",
    ],
    "token unpause": ["stbridge token unpause --token ACME"],
    "token rules show": ["stbridge token rules show --token ACME --json"],
    "token rules set": [
        "stbridge token rules set --token ACME --allow DE,FR --allow-list on",
        "stbridge token rules set --token ACME --max-holders 500 --lockup 90d",
    ],
    "captable": [
        "stbridge captable --token ACME",
        "stbridge captable --token ACME --at-block 2027-12-31 --json",
    ],
    "audit": ["stbridge audit", "stbridge audit --at-block a:120 --at-block b:98 --json"],
    "dvp offer": [
        f"stbridge dvp offer --buyer {BUYER} --sell 10 --price 2500 --on a --pay-on b "
        "-o offer.json",
    ],
    "dvp accept": ["stbridge dvp accept offer.json -o accepted.json"],
    "dvp lock": ["stbridge dvp lock accepted.json"],
    "dvp claim": ["stbridge dvp claim 3f2a9c0d11e4b7a8"],
    "dvp refund": ["stbridge dvp refund 3f2a9c0d11e4b7a8 --leg payment"],
    "dvp status": ["stbridge dvp status 3f2a9c0d11e4b7a8", "stbridge dvp status offer.json --json"],
    "dvp list": ["stbridge dvp list", "stbridge dvp list --json"],
}


def epilog(lines: list[str]) -> str:
    """The help's closing section; paragraphs, since help rendering joins single lines."""
    return "\n\n".join(["Examples:", *(f"  {line}" for line in lines)])


def add_examples(app: typer.Typer, prefix: str = "") -> None:
    """Set each command's epilog from EXAMPLES (commands without an entry keep none)."""
    for info in app.registered_commands:
        name = info.name or typer.main.get_command_name(_callback_name(info))
        lines = EXAMPLES.get(f"{prefix}{name}")
        if lines and not info.epilog:
            info.epilog = epilog(lines)
    for group in app.registered_groups:
        if group.typer_instance is not None and isinstance(group.name, str):
            add_examples(group.typer_instance, f"{prefix}{group.name} ")


def _callback_name(info: Any) -> str:
    return str(getattr(info.callback, "__name__", ""))
