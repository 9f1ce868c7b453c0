"""docker-compose.yml without a Docker engine: what compose needs, and the flow it runs.

The first tests read the file (and the Dockerfile) and check what compose relies on:
every stbridge command parses with the CLI's own parser, every ``depends_on`` names a
service and waits for a condition it can meet, images are pinned, the stbridge image
is built once. The last runs the whole flow: anvil with the chain services' own
command lines, then the stbridge services' commands exactly as compose gives them, in
dependency order, against a copy of configs/docker.toml that points at those chains;
the relayer's healthcheck passes, a transfer is delivered, and after both chains and
the relayer restart, the chains come back as they were and a second transfer is
delivered too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from chains.anvil import find_anvil
from chains.errors import RpcFailed
from chains.processes import free_port, rpc_call
from relayer.cli import app
from relayer.config import parse_config
from tests.helpers import ROOT, write_config

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
IMAGE = "stbridge:local"
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict)
    return doc


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def stbridge_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items() if s.get("image") == IMAGE}


def dockerfile_json(instruction: str) -> list[str]:
    """The exec-form argument list of the Dockerfile's last ``instruction`` (CMD...)."""
    lines = [ln for ln in DOCKERFILE.read_text().splitlines() if ln.startswith(f"{instruction} ")]
    assert lines, f"the Dockerfile has no {instruction}"
    value = json.loads(lines[-1].removeprefix(f"{instruction} "))
    assert isinstance(value, list)
    return [str(v) for v in value]


def parse(argv: list[str]) -> str:
    """Parse ``argv`` (after ``stbridge``) with the CLI's own parser, without running it;
    raises on an unknown command, a wrong flag or a missing option. Returns its name."""
    node: Any = typer.main.get_command(app)
    args, path = list(argv), []
    while getattr(node, "commands", None) is not None:
        assert args and args[0] in node.commands, f"no stbridge command {' '.join(argv)!r}"
        path.append(args[0])
        node = node.commands[args.pop(0)]
    node.make_context(" ".join(path), args)
    return " ".join(path)


def one_shots(all_services: dict[str, dict[str, Any]]) -> set[str]:
    """Services some other service waits on to finish."""
    return {
        target
        for s in all_services.values()
        for target, dep in (s.get("depends_on") or {}).items()
        if dep.get("condition") == "service_completed_successfully"
    }


def in_dependency_order(all_services: dict[str, dict[str, Any]], names: set[str]) -> list[str]:
    ordered: list[str] = []

    def visit(name: str, seen: tuple[str, ...]) -> None:
        assert name not in seen, f"dependency cycle: {' -> '.join((*seen, name))}"
        for target in all_services[name].get("depends_on") or {}:
            visit(target, (*seen, name))
        if name not in ordered:
            ordered.append(name)

    for name in sorted(names):
        visit(name, ())
    return [n for n in ordered if n in names]


# --- what compose needs ----------------------------------------------------------


def test_the_entrypoint_is_stbridge_and_its_default_command_parses() -> None:
    assert dockerfile_json("ENTRYPOINT") == ["stbridge"]
    assert parse(dockerfile_json("CMD")) == "run"


def test_every_stbridge_command_parses_with_the_cli() -> None:
    found = stbridge_services()
    assert {"deploy", "relayer"} <= set(found), sorted(found)
    names = {name: parse([str(a) for a in s["command"]]) for name, s in found.items()}
    assert names["relayer"] == "run"
    # every step of the flow is a command of its own: fund, deploy, onboard, run
    assert {"devnet fund", "deploy", "onboard", "run"} <= set(names.values()), names
    for name, s in found.items():
        test = s.get("healthcheck", {}).get("test")
        if test:
            assert test[:2] == ["CMD", "stbridge"], (name, test)
            assert parse(test[2:]) == "health-check"


def test_a_wrong_flag_fails_the_parse() -> None:
    with pytest.raises(Exception, match="--fund"):
        parse(["deploy", "--config", "configs/docker.toml", "--fund", "--onboard"])


def test_every_dependency_names_a_service_and_a_condition_it_can_meet() -> None:
    all_services = services()
    assert all_services
    for name, s in all_services.items():
        depends = s.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on must say each condition"
        for target, dep in depends.items():
            assert target in all_services, f"{name} depends on {target}, no such service"
            condition = (dep or {}).get("condition")
            assert condition in CONDITIONS, f"{name} -> {target}: condition {condition!r}"
            waited = all_services[target]
            if condition == "service_healthy":
                assert waited.get("healthcheck", {}).get("test"), f"{target} has no healthcheck"
            if condition == "service_completed_successfully":
                assert waited.get("restart", "no") in ("no", "on-failure"), (
                    f"{target} is waited on to finish but restarts"
                )
    in_dependency_order(all_services, set(all_services))  # no cycle
    relayer = all_services["relayer"]
    assert relayer.get("healthcheck", {}).get("test"), "the relayer needs a healthcheck"


def test_images_are_pinned_and_stbridge_is_built_once() -> None:
    all_services = services()
    for name, s in all_services.items():
        image = s.get("image")
        assert image, f"{name} has no image"
        if image == IMAGE:
            continue
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image} is not pinned"
        assert re.search(r":v?\d+\.\d+\.\d+$", image), f"{name}: {image} has no version tag"
    builders = [name for name, s in all_services.items() if "build" in s]
    assert len(builders) == 1, f"the stbridge image is built by {builders}: build it once"
    assert all_services[builders[0]]["image"] == IMAGE
    shared = stbridge_services()
    assert len(shared) >= 4
    for name, s in shared.items():
        if name not in builders:
            assert s.get("pull_policy") == "never", f"{name} would try to pull {IMAGE}"
    bases = re.findall(r"^FROM (\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert bases and all(re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", b) for b in bases), bases
    assert len(set(bases)) == 1, bases


def test_chains_keep_their_state_on_named_volumes() -> None:
    doc = compose()
    declared = set(doc.get("volumes") or {})
    for name, s in services().items():
        if s.get("entrypoint") != ["anvil"]:
            continue
        command = [str(a) for a in s["command"]]
        state = command[command.index("--state") + 1]
        mounts = dict(v.split(":", 1)[::-1] for v in s.get("volumes", []))
        mount = next((m for m in mounts if state.startswith(m + "/")), None)
        assert mount is not None, f"{name} keeps its state at {state}, on no volume"
        assert mounts[mount] in declared, f"{name}: volume {mounts[mount]} is not declared"


def test_the_docker_config_points_at_the_chain_services() -> None:
    config = tomllib.loads((ROOT / "configs" / "docker.toml").read_text())
    all_services = services()
    for chain in config["chains"]:
        match = re.fullmatch(r"http://([\w-]+):(\d+)", chain["rpc_url"])
        assert match, chain["rpc_url"]
        host, port = match.groups()
        assert host in all_services, f"chain {chain['name']}: no service {host}"
        command = [str(a) for a in all_services[host]["command"]]
        assert command[command.index("--port") + 1] == port
        assert command[command.index("--chain-id") + 1] == str(chain["chain_id"])
    store = config["relayer"]["store"]
    volumes = stbridge_services()["relayer"]["volumes"]
    assert any(store.startswith(f"sqlite:///{v.split(':')[1]}/") for v in volumes), store


# --- the flow, as compose runs it ------------------------------------------------


class Flow:
    """The compose services as local processes under ``root`` (cwd = the image's /app)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.services = services()
        self.ports = {name: free_port() for name in self.services if self.is_chain(name)}
        self.metrics_port = free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        (root / "logs").mkdir(parents=True)
        self.env = {**os.environ, "STBRIDGE_HOME": str(self.volume_dir("relayer-store"))}
        self.env.pop("STBRIDGE_CONFIG", None)
        self.write_config()

    def is_chain(self, name: str) -> bool:
        return self.services[name].get("entrypoint") == ["anvil"]

    def volume_dir(self, volume: str) -> Path:
        path = self.root / "volumes" / volume
        path.mkdir(parents=True, exist_ok=True)
        return path

    def local_path(self, service: str, path: str) -> str:
        """A path inside a service's container as the host directory of its volume."""
        for mount in self.services[service].get("volumes", []):
            volume, target = mount.split(":", 1)
            if path == target or path.startswith(target + "/"):
                return str(self.volume_dir(volume)) + path[len(target) :]
        raise AssertionError(f"{service}: {path} is on no volume")

    def write_config(self) -> None:
        """configs/docker.toml as the image has it, with the chains and store made local."""
        raw = tomllib.loads((ROOT / "configs" / "docker.toml").read_text())
        for chain in raw["chains"]:
            host = re.fullmatch(r"http://([\w-]+):\d+", chain["rpc_url"])
            assert host is not None
            chain["rpc_url"] = f"http://127.0.0.1:{self.ports[host.group(1)]}"
        store = raw["relayer"]["store"].removeprefix("sqlite:///")
        raw["relayer"]["store"] = "sqlite:///" + self.local_path("relayer", store)
        raw["relayer"].update(metrics_host="127.0.0.1", metrics_port=self.metrics_port)
        (self.root / "configs").mkdir()
        write_config(self.root / "configs" / "docker.toml", raw)

    def chain_command(self, name: str) -> list[str]:
        anvil = find_anvil()
        assert anvil is not None
        args = [str(a) for a in self.services[name]["command"]]
        args[args.index("--host") + 1] = "127.0.0.1"
        args[args.index("--port") + 1] = str(self.ports[name])
        if "--state" in args:  # (test_chains_keep_their_state_on_named_volumes wants it)
            at = args.index("--state") + 1
            args[at] = self.local_path(name, args[at])
        return [str(anvil), *args]

    def stbridge(self, args: list[str]) -> list[str]:
        return [sys.executable, "-m", "relayer", *args]

    def start(self, name: str, argv: list[str]) -> None:
        with (self.root / "logs" / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                argv, cwd=self.root, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def run(self, args: list[str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.stbridge(args), cwd=self.root, env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip

    def log(self, name: str) -> str:
        path = self.root / "logs" / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g}s for {what}")
        time.sleep(0.25)


def chain_answers(url: str, chain_id: int) -> bool:
    try:
        return int(rpc_call(url, "eth_chainId", timeout=1.0), 16) == chain_id
    except RpcFailed:
        return False


@pytest.fixture
def flow(tmp_path: Path) -> Iterator[Flow]:
    if find_anvil() is None:
        pytest.skip("anvil is not installed here (npm ci installs it)")
    built = Flow(tmp_path / "app")
    try:
        yield built
    finally:
        built.close()


def start_chains(flow: Flow) -> dict[str, str]:
    """The chain services with their own command lines; returns each one's genesis hash."""
    config = tomllib.loads((flow.root / "configs" / "docker.toml").read_text())
    ids = {c["rpc_url"]: int(c["chain_id"]) for c in config["chains"]}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in flow.ports.items()}
    for name in urls:
        flow.start(name, flow.chain_command(name))
    for name, url in urls.items():
        wait_for(lambda url=url: chain_answers(url, ids[url]), 60, f"{name} ({flow.log(name)})")
    return {
        name: rpc_call(url, "eth_getBlockByNumber", ["0x0", False])["hash"]
        for name, url in urls.items()
    }


def start_stbridge_services(flow: Flow) -> None:
    """Each stbridge service in dependency order: one-shots run to success, the relayer starts."""
    shared = stbridge_services()
    finishing = one_shots(flow.services)
    for name in in_dependency_order(flow.services, set(shared)):
        command = [str(a) for a in shared[name]["command"]]
        if name in finishing:
            done = flow.run(command)
            assert done.returncode == 0, (name, command, done.stdout[-2000:], done.stderr[-2000:])
        else:
            flow.start(name, flow.stbridge(command))


def wait_healthy(flow: Flow) -> None:
    test = stbridge_services()["relayer"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "stbridge"]
    last: list[subprocess.CompletedProcess[str]] = []

    def healthy() -> bool:
        assert flow.procs["relayer"].poll() is None, f"the relayer exited: {flow.log('relayer')}"
        last[:] = [flow.run(test[2:], timeout=60)]
        return last[0].returncode == 0

    try:
        wait_for(healthy, 180, "the relayer's healthcheck to pass")
    except AssertionError:
        raise AssertionError(
            f"unhealthy: {last[0].stderr if last else ''} relayer log: {flow.log('relayer')}"
        ) from None


def transfer_delivered(flow: Flow, recipient: str) -> None:
    before = flow.run(["balances", "--wallet", recipient, "--json", "-c", "configs/docker.toml"])
    assert before.returncode == 0, before.stderr
    sent = flow.run(
        ["bridge", "send", "--from", "a", "--to", "b", "--token", "ACME", "--amount", "1.5",
         "--recipient", recipient, "-c", "configs/docker.toml"]
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    message_id = sent.stdout.strip()
    assert re.fullmatch(r"0x[0-9a-f]{64}", message_id), sent.stdout  # the id, and only it

    def delivered() -> bool:
        shown = flow.run(["bridge", "status", message_id, "--json", "-c", "configs/docker.toml"])
        return shown.returncode == 0 and json.loads(shown.stdout)["data"]["state"] == "delivered"

    wait_for(delivered, 120, f"message {message_id} delivered ({flow.log('relayer')})")
    after = flow.run(["balances", "--wallet", recipient, "--json", "-c", "configs/docker.toml"])

    def on_b(result: subprocess.CompletedProcess[str]) -> int:
        tokens = json.loads(result.stdout)["data"]["tokens"]
        return int(next(t for t in tokens if t["symbol"] == "ACME")["by_chain"]["b"])

    assert on_b(after) - on_b(before) == 15 * 10**17


@pytest.mark.integration
@pytest.mark.anvil
@pytest.mark.timeout(900)
def test_the_compose_flow_runs_and_survives_a_restart(flow: Flow) -> None:
    genesis = start_chains(flow)
    start_stbridge_services(flow)
    config = parse_config(tomllib.loads((flow.root / "configs" / "docker.toml").read_text()))
    for chain in config.chains:  # anvil funds its first ten accounts; `fund` the traders too
        for _role, key in config.accounts.roles():
            held = int(rpc_call(chain.rpc_url, "eth_getBalance", [key.address, "latest"]), 16)
            assert held >= 1_000 * 10**18, (chain.name, _role, held)
    wait_healthy(flow)
    investor = config.accounts.investors[1].address  # onboarded by the onboard service
    transfer_delivered(flow, investor)

    # `docker compose restart`: every container stopped (SIGTERM) and started again
    flow.stop("relayer")
    for name in list(flow.ports):
        flow.stop(name)
    assert start_chains(flow) == genesis  # the chains came back as they were
    start_stbridge_services(flow)  # the one-shots again: they change nothing
    wait_healthy(flow)
    transfer_delivered(flow, investor)
