"""The CLI's contract with scripts: --config and $STBRIDGE_CONFIG on every command,
--version, one JSON envelope, examples in every --help, and `messages list|show`.

Commands run through ``main`` (what the ``stbridge`` script calls), in this process;
nothing here needs a chain.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from relayer import __version__
from relayer.cli import app, main
from relayer.cli.examples import EXAMPLES
from relayer.errors import ConfigError, InputError, StbridgeError
from relayer.store import NewMessage, Status, open_store
from tests.helpers import ROOT, devnet_raw, write_config


def _tree() -> Any:
    return typer.main.get_command(app)


def leaves(node: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every runnable command as ("messages list", click command)."""
    node = node if node is not None else _tree()
    commands = getattr(node, "commands", None)
    if commands is None:
        yield " ".join(path), node
        return
    for name, child in commands.items():
        yield from leaves(child, (*path, name))


LEAVES = dict(leaves())


def run(argv: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capfd.readouterr()
    return code, out, err


def envelope(out: str, code: int) -> dict[str, Any]:
    """stdout is exactly one JSON envelope whose ``ok`` agrees with the exit code."""
    doc = json.loads(out)
    assert set(doc) <= {"ok", "command", "data", "error"}, doc
    assert doc["ok"] is (code == 0), doc
    assert isinstance(doc["command"], str)
    if code:
        assert doc["error"]["exit_code"] == code and doc["error"]["message"], doc
    else:
        assert "data" in doc and "error" not in doc, doc
    return doc


def test_the_tree_has_the_commands_scripts_use() -> None:
    for name in ("devnet status", "devnet down", "devnet fund", "onboard", "messages list"):
        assert name in LEAVES
    assert len(LEAVES) >= 40


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_every_command_takes_config_and_its_environment_variable(name: str) -> None:
    options = {opt: p for p in LEAVES[name].params for opt in p.opts}
    assert "--config" in options and "-c" in options, f"{name} has no --config"
    assert options["--config"].envvar == "STBRIDGE_CONFIG", name


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_every_help_shows_examples_that_parse(name: str, capfd: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([*name.split(), "--help"], capfd)
    assert code == 0
    assert "Examples:" in out and "stbridge " in out.split("Examples:")[1], name
    examples = EXAMPLES[name]
    for example in examples:
        words = shlex.split(example)
        start = next(i for i, w in enumerate(words) if w.endswith("stbridge"))
        args = words[start + 1 :]
        args[-1] = args[-1].removesuffix(")")  # ID=$(stbridge …)
        if args[0].startswith("--"):  # stbridge --version
            continue
        node, path = _tree(), []
        while getattr(node, "commands", None) and args and args[0] in node.commands:
            path.append(args[0])
            node = node.commands[args.pop(0)]
        assert " ".join(path) == name, example
        node.make_context(name, args)  # raises on a wrong flag or a missing option


def test_version_flag_and_command(capfd: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"], capfd) == (0, f"{__version__}\n", "")
    assert run(["version"], capfd) == (0, f"{__version__}\n", "")
    code, out, _ = run(["version", "--json"], capfd)
    assert envelope(out, code) == {
        "ok": True,
        "command": "version",
        "data": {"version": __version__},
    }


def test_devnet_status_and_down_take_config(
    stbridge_home: Path, devnet_config_file: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["devnet", "status", "-c", str(devnet_config_file)], capfd)
    assert code == 1 and "devnet is not running" in out
    code, out, _ = run(["devnet", "status", "--json", "-c", str(devnet_config_file)], capfd)
    doc = envelope(out, code)
    assert code == 1 and doc["data"]["running"] is False
    assert doc["error"]["type"] == "CheckFailed"
    code, out, _ = run(["devnet", "down", "--config", str(devnet_config_file)], capfd)
    assert code == 0 and "not running" in out


def test_stbridge_config_names_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.toml"
    monkeypatch.setenv("STBRIDGE_CONFIG", str(missing))
    code, out, err = run(["messages", "list"], capfd)
    assert code == 2 and str(missing) in err and out == ""
    code, out, err = run(["bridge", "status", "0x00", "--json"], capfd)
    doc = envelope(out, code)
    assert code == 2 and doc["command"] == "bridge status"
    assert doc["error"]["type"] == "ConfigError" and str(missing) in doc["error"]["message"]
    assert len(err.strip().splitlines()) == 1  # people still get their one line on stderr


def test_a_usage_error_with_json_is_an_envelope(capfd: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["bridge", "send", "--json", "--form", "a"], capfd)
    doc = envelope(out, code)
    assert code == 2 and doc["command"] == "bridge send"
    assert doc["error"]["type"] == "NoSuchOption" and "--form" in doc["error"]["message"]


def test_status_choices_come_from_the_store(capfd: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["messages", "list", "--help"], capfd)
    assert code == 0
    for status in Status:
        assert status.value in out
    code, out, _ = run(["messages", "list", "--status", "lost", "--json"], capfd)
    assert code == 2 and "lost" in envelope(out, code)["error"]["message"]


def _message(nonce: int, origin: int, destination: int) -> NewMessage:
    return NewMessage(
        id=bytes([nonce]) * 32, origin=origin, nonce=nonce, destination=destination,
        sender=b"\x01" * 32, recipient=b"\x02" * 32, raw=b"raw", kind=0, ref=None,
        dispatch_tx="0x" + "ab" * 32, dispatch_block=7 + nonce, dispatched_at=1_700_000_000 + nonce,
    )  # fmt: skip


@pytest.fixture
def store_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """A config whose store holds three messages: a->b pending and failed, b->a pending."""
    raw = devnet_raw()
    raw["relayer"]["store"] = f"sqlite:///{tmp_path / 'store.db'}"
    ids = {c["name"]: int(c["chain_id"]) for c in raw["chains"]}
    monkeypatch.setenv("STBRIDGE_CONFIG", str(write_config(tmp_path / "c.toml", raw)))

    async def fill() -> None:
        store = await open_store(raw["relayer"]["store"])
        try:
            await store.add_messages(
                [
                    _message(1, ids["a"], ids["b"]),
                    _message(2, ids["a"], ids["b"]),
                    _message(3, ids["b"], ids["a"]),
                ]
            )
            await store.mark_failed([bytes([2]) * 32], "reverted: Paused()", 1_800_000_000)
        finally:
            await store.close()

    asyncio.run(fill())
    return ids


def test_messages_list_filters_and_prints_full_ids(
    store_config: dict[str, int], capfd: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["messages", "list", "--json"], capfd)
    listed = envelope(out, code)["data"]
    assert listed["count"] == 3
    assert {m["id"] for m in listed["messages"]} == {
        "0x" + bytes([n]).hex() * 32 for n in (1, 2, 3)
    }
    code, out, _ = run(["messages", "list", "--lane", "a->b", "--json"], capfd)
    assert [m["nonce"] for m in envelope(out, code)["data"]["messages"]] == [2, 1]
    code, out, _ = run(["messages", "list", "--from", "b", "--json"], capfd)
    assert [m["lane"] for m in envelope(out, code)["data"]["messages"]] == ["b->a"]
    code, out, _ = run(
        ["messages", "list", "--status", "failed", "--lane", "a->b", "--json"], capfd
    )
    assert [m["nonce"] for m in envelope(out, code)["data"]["messages"]] == [2]
    code, out, _ = run(["messages", "list"], capfd)  # the table: ids whole, not cut
    assert code == 0 and "0x" + "01" * 32 in out and "…" not in out
    code, out, err = run(["messages", "list", "--lane", "a-b"], capfd)
    assert code == 2 and "ORIGIN->DESTINATION" in err
    code, out, err = run(["messages", "list", "--lane", "a->z", "--json"], capfd)
    assert code == 2 and "no chain named 'z'" in envelope(out, code)["error"]["message"]


def test_messages_show_json_has_the_delivery_state(
    store_config: dict[str, int], capfd: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["messages", "show", "0x" + "02" * 4, "--json"], capfd)
    shown = envelope(out, code)["data"]
    assert shown["id"] == "0x" + "02" * 32 and shown["lane"] == "a->b"
    assert shown["status"] == "failed" and shown["attempts"] == 1
    assert shown["last_error"] == "reverted: Paused()"
    assert shown["next_attempt_at"] == 1_800_000_000
    assert shown["transactions"]["dispatch"] == "0x" + "ab" * 32
    assert shown["transactions"]["submitted"] is None
    code, out, _ = run(["messages", "show", "0x" + "99" * 4, "--json"], capfd)
    assert code == 1 and envelope(out, code)["error"]["type"] == "NotFound"


def _error_classes(cls: type[StbridgeError]) -> Iterator[type[StbridgeError]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _error_classes(sub)


def test_the_readme_exit_code_table_covers_every_error() -> None:
    readme = (ROOT / "README.md").read_text()
    table = dict(re.findall(r"^\| (\d+) \| (.+) \|$", readme, re.MULTILINE))
    assert set(table) == {"0", "1", "2", "130"}, table
    for cls in _error_classes(StbridgeError):
        assert str(cls.exit_code) in table, cls
    assert InputError.exit_code == ConfigError.exit_code == 2
    assert "bad input" in table["2"] and "config" in table["2"]
