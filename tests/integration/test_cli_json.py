"""Every data command's ``--json`` against real chains: one envelope on stdout, always.

The commands run through ``main`` in this process (tests/integration/compliance_world.py
``Cli``), on the session's system. ``bridge send`` prints the message id alone on
stdout; ``health-check --relayer`` asks a running relayer's /readyz.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from chains.processes import free_port
from tests.integration.compliance_world import Cli, Result, until
from tests.integration.system import System, running_relayer

pytestmark = pytest.mark.integration


def envelope(result: Result, command: str) -> dict[str, Any]:
    """stdout is one JSON document: the envelope of ``command``, ok exactly on exit 0."""
    doc = json.loads(result.out)
    assert doc["command"] == command, doc
    assert doc["ok"] is (result.code == 0), (doc, result.err)
    assert set(doc) <= {"ok", "command", "data", "error"}
    if result.code:
        assert doc["error"]["exit_code"] == result.code
    return doc


@pytest.fixture
def metrics_port() -> int:
    return free_port()


@pytest.fixture
def cli(system: System, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, metrics_port: int) -> Cli:
    monkeypatch.setenv("STBRIDGE_HOME", str(system.home))
    path = system.config_file(tmp_path / "c.toml", tmp_path / "r.db", metrics_port=metrics_port)
    return Cli(system, path)


async def test_data_commands_print_one_envelope(system: System, cli: Cli) -> None:
    investor = system.config.accounts.investors[2].address
    checks: list[tuple[list[str], str]] = [
        (["balances", "--wallet", investor], "balances"),
        (["devnet", "status"], "devnet status"),
        (["health-check"], "health-check"),
        (["captable", "--token", "ACME"], "captable"),
        (["audit"], "audit"),
        (["investor", "show", investor], "investor show"),
        (["token", "rules", "show", "--token", "ACME"], "token rules show"),
        (["dvp", "list"], "dvp list"),
        (["messages", "list"], "messages list"),
        (["deploy"], "deploy"),
        (["version"], "version"),
    ]
    for argv, command in checks:
        result = await cli(*argv, "--json")
        doc = envelope(result, command)
        assert result.code == 0, (argv, result.err, result.out)
        assert doc["data"] is not None, argv
    held = envelope(await cli("balances", "--wallet", investor, "--json"), "balances")["data"]
    acme = next(t for t in held["tokens"] if t["symbol"] == "ACME")
    assert set(acme["by_chain"]) == {"a", "b"} and int(acme["total"]) > 0
    state = envelope(await cli("devnet", "status", "--json"), "devnet status")["data"]
    assert state["running"] and all(c["up"] for c in state["chains"])
    deployed = envelope(await cli("deploy", "--json"), "deploy")["data"]
    assert deployed["fresh"] is False and deployed["changes"] == []


async def test_bridge_send_prints_the_id_alone_and_status_follows_it(
    system: System, cli: Cli, tmp_path: Path, metrics_port: int
) -> None:
    recipient = system.config.accounts.investors[1].address
    send = ["bridge", "send", "--from", "a", "--to", "b", "--token", "ACME", "--amount", "0.25",
            "--recipient", recipient]  # fmt: skip
    sent = await cli.ok(*send)
    assert re.fullmatch(r"0x[0-9a-f]{64}\n", sent.out), sent.out  # the id and nothing else
    assert "sent 0.25 ACME from a to b" in sent.err
    message_id = sent.out.strip()
    as_json = envelope(await cli.ok(*send, "--json"), "bridge send")["data"]
    assert as_json["amount"] == str(25 * 10**16) and as_json["recipient"] == recipient
    assert re.fullmatch(r"0x[0-9a-f]{64}", as_json["message_id"])

    status = envelope(await cli.ok("bridge", "status", message_id, "--json"), "bridge status")
    assert status["data"]["message_id"] == message_id
    assert status["data"]["stages"][0] == {
        "name": "dispatched",
        "done": True,
        "detail": status["data"]["stages"][0]["detail"],
    }

    alone = await cli("health-check", "--relayer", "--json")
    doc = envelope(alone, "health-check")
    assert alone.code == 1 and doc["error"]["type"] == "CheckFailed"
    assert "no relayer answers" in doc["error"]["message"]

    async with running_relayer(system, tmp_path / "r.db", metrics_port=metrics_port):

        async def ready() -> bool:
            return (await cli("health-check", "--relayer", "--json")).code == 0

        await until(ready, 120, "the relayer's /readyz")
        healthy = envelope(await cli.ok("health-check", "--relayer", "--json"), "health-check")
        assert healthy["data"]["relayer"] == "ready" and healthy["data"]["healthy"]

        async def shown_delivered() -> bool:
            shown = await cli("messages", "show", message_id, "--json")
            return shown.code == 0 and json.loads(shown.out)["data"]["status"] == "delivered"

        await until(shown_delivered, 120, f"message {message_id} delivered")
        shown = envelope(await cli.ok("messages", "show", message_id, "--json"), "messages show")
        assert shown["data"]["transactions"]["delivered"]
        listed = envelope(
            await cli.ok("messages", "list", "--lane", "a->b", "--json"), "messages list"
        )
        assert message_id in {m["id"] for m in listed["data"]["messages"]}


async def test_an_error_with_json_is_the_envelope(system: System, cli: Cli) -> None:
    result = await cli("bridge", "send", "--from", "a", "--to", "b", "--token", "ACME",
                       "--amount", "1", "--recipient", "0x1234", "--json")  # fmt: skip
    doc = envelope(result, "bridge send")
    assert result.code == 2 and doc["error"]["type"] == "InputError"
    assert "0x1234" in doc["error"]["message"]
    missing = await cli("bridge", "status", "0x" + "00" * 32, "--json")
    assert missing.code != 0
    assert envelope(missing, "bridge status")["error"]["message"]


async def test_dvp_offer_status_and_list_in_json(
    system: System, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "desk"  # the trade records of this test alone
    shutil.copytree(system.home / "deployments", home / "deployments")
    monkeypatch.setenv("STBRIDGE_HOME", str(home))
    buyer = system.config.accounts.traders[1].address
    offer = tmp_path / "offer.json"
    await cli.ok("dvp", "offer", "--buyer", buyer, "--sell", "2", "--price", "30", "-o", str(offer))
    trade = json.loads(offer.read_text())["trade"]  # the offer document itself, as before
    status = envelope(await cli.ok("dvp", "status", trade, "--json"), "dvp status")["data"]
    assert status["trade"] == trade and status["summary"].startswith("offered")
    assert status["asset"]["offer"]["amount"] == str(2 * 10**18)
    assert status["asset"]["locks"] == [] and status["payment"]["locks"] == []
    assert status["mismatches"] == []
    listed = envelope(await cli.ok("dvp", "list", "--json"), "dvp list")["data"]
    assert [t["trade"] for t in listed["trades"]] == [trade]
    unknown = await cli("dvp", "status", "0123456789abcdef", "--json")
    assert unknown.code == 1 and envelope(unknown, "dvp status")["error"]["type"] == "NotFound"
