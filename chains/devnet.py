"""The two-chain devnet: start, inspect and stop local chains for stbridge.

``up`` starts one node per chain it is given (anvil, or the embedded py-evm node),
funds the given accounts, waits until every chain answers with its chain id, and
records endpoints and process ids in ``<directory>/devnet.json``. ``down`` stops the
recorded processes (checking each pid still runs one of our nodes) and removes the
record. Nothing is left running after a failed ``up``.

``restart`` stops one chain and starts it again on the same port with its state
(anvil's ``--state`` file, written when it stops): blocks, balances and code are
there again, genesis hash included, so an outage can be played and the chain comes
back as it was. The embedded py-evm node keeps its chain in memory only: ``restart``
refuses it in one line.

This is the lower layer: it imports nothing of ``relayer``. Its caller (the relayer's
command line, the tests, the benchmarks) passes the chains as :class:`ChainSpec`, the
accounts to fund, and the state directory; errors are ``chains.errors`` classes, which
the command line maps to its own one-line errors.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from chains.anvil import anvil_args, find_anvil
from chains.errors import (
    BackendMissing,
    ChainStartTimeout,
    DevnetError,
    PortInUse,
    RpcFailed,
    UnknownChain,
)
from chains.processes import (
    log_tail,
    port_is_free,
    process_alive,
    process_cmdline,
    rpc_call,
    spawn,
    stop_process,
)
from chains.spec import ChainSpec

Backend = Literal["anvil", "pyevm"]
BACKENDS: tuple[Backend, ...] = ("anvil", "pyevm")
DEVNET_BALANCE_WEI = 10_000 * 10**18
_MARKERS = {"anvil": "anvil", "pyevm": "chains.pyevm"}


@dataclass
class ChainProcess:
    """A running chain node as recorded in devnet.json."""

    name: str
    chain_id: int
    rpc_url: str
    pid: int
    log: str
    command: list[str] = field(default_factory=list)  # what started it, for a restart
    state_file: str | None = None  # anvil: where it keeps its state across a restart


@dataclass
class DevnetState:
    """The record of a running devnet."""

    backend: Backend
    block_time: float
    started_at: float
    chains: list[ChainProcess] = field(default_factory=list)
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (role, address)


@dataclass(frozen=True)
class ChainStatus:
    """What ``status`` found for one chain."""

    name: str
    chain_id: int
    rpc_url: str
    pid: int
    process_alive: bool
    head: int | None
    problem: str | None


def state_path(directory: Path) -> Path:
    return directory / "devnet.json"


def default_backend() -> Backend:
    """anvil when it is installed, else the embedded node."""
    return "anvil" if find_anvil() is not None else "pyevm"


def read_state(directory: Path) -> DevnetState | None:
    """The recorded devnet, or None when none is recorded."""
    path = state_path(directory)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise DevnetError(f"{path} is unreadable ({exc}); remove it and run devnet up") from None
    chains = [ChainProcess(**c) for c in raw.pop("chains", [])]
    accounts = [tuple(a) for a in raw.pop("accounts", [])]
    return DevnetState(chains=chains, accounts=accounts, **raw)


def _write_state(state: DevnetState, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = state_path(directory)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n")
    tmp.replace(path)


def _state_file(backend: Backend, chain: ChainSpec, directory: Path) -> Path | None:
    """Where a chain keeps its state across a restart (anvil only)."""
    return directory / "state" / f"chain-{chain.name}.json" if backend == "anvil" else None


def _node_command(
    backend: Backend, chain: ChainSpec, block_time: float, state_file: Path | None = None
) -> list[str]:
    if backend == "anvil":
        binary = find_anvil()
        if binary is None:
            raise BackendMissing(
                "anvil is not installed: run `npm ci` in the project root, or use --backend pyevm"
            )
        return anvil_args(binary, chain, block_time, state_file)
    return [
        sys.executable, "-m", "chains.pyevm",
        "--chain-id", str(chain.chain_id),
        "--host", chain.host,
        "--port", str(chain.port),
        "--block-time", f"{block_time:g}",
        "--gas-limit", str(chain.gas_limit),
    ]  # fmt: skip


def up(
    chains: Sequence[ChainSpec],
    accounts: Sequence[tuple[str, str]],
    *,
    directory: Path,
    backend: Backend | None = None,
    block_time: float | None = None,
    timeout: float = 60.0,
) -> DevnetState:
    """Start ``chains``, fund ``accounts`` (role, address) on each, and record the devnet
    in ``directory``. ``block_time`` overrides each chain's own.

    Raises DevnetError (one line: cause and fix) and leaves no process behind when
    a port is taken, the backend is missing, or a chain does not come up in time.
    """
    if not chains:
        raise DevnetError("no chains to start: the devnet needs at least one")
    backend = backend or default_backend()
    existing = read_state(directory)
    if existing is not None and any(process_alive(c.pid) for c in existing.chains):
        raise DevnetError(
            f"a devnet is already running (see {state_path(directory)}): "
            "run `stbridge devnet down` first"
        )
    for chain in chains:
        if not port_is_free(chain.host, chain.port):
            raise PortInUse(
                f"port {chain.port} for chain {chain.name} is in use by another process: "
                f"stop it, or give chain {chain.name} another rpc_url in the config"
            )
    state_files = {c.name: _state_file(backend, c, directory) for c in chains}
    for path in state_files.values():  # a new devnet starts fresh, not from an old one
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
    commands = {
        c.name: _node_command(backend, c, _block_time(c, block_time), state_files[c.name])
        for c in chains
    }
    state = DevnetState(
        backend=backend,
        block_time=block_time if block_time is not None else chains[0].block_time,
        started_at=time.time(),
    )
    logs = directory / "logs"
    try:
        for chain in chains:
            log = logs / f"chain-{chain.name}.log"
            pid = spawn(commands[chain.name], log)
            state_file = state_files[chain.name]
            proc = ChainProcess(
                chain.name, chain.chain_id, chain.rpc_url, pid, str(log),
                command=commands[chain.name],
                state_file=None if state_file is None else str(state_file),
            )  # fmt: skip
            state.chains.append(proc)
        for chain, proc in zip(chains, state.chains, strict=True):
            _wait_ready(chain, proc, timeout)
        state.accounts = [(role, address) for role, address in accounts]
        for chain in chains:
            for _role, address in state.accounts:
                rpc_call(chain.rpc_url, "anvil_setBalance", [address, hex(DEVNET_BALANCE_WEI)])
        _write_state(state, directory)
    except BaseException:
        for proc in state.chains:
            stop_process(proc.pid)
        raise
    return state


def _block_time(chain: ChainSpec, override: float | None) -> float:
    return chain.block_time if override is None else override


def _wait_ready(chain: ChainSpec | ChainProcess, proc: ChainProcess, timeout: float) -> None:
    """Poll eth_chainId until the node answers with the configured id."""
    deadline = time.monotonic() + timeout
    while True:
        if not process_alive(proc.pid):
            last = log_tail(Path(proc.log)) or "no output"
            raise DevnetError(f"chain {chain.name} exited at start: {last} (log: {proc.log})")
        try:
            answered = int(rpc_call(chain.rpc_url, "eth_chainId", timeout=1.0), 16)
        except RpcFailed:
            answered = None
        if answered is not None:
            if answered != chain.chain_id:
                raise DevnetError(
                    f"chain {chain.name} at {chain.rpc_url} answers chain id {answered}, "
                    f"expected {chain.chain_id}: is another node on that port?"
                )
            return
        if time.monotonic() > deadline:
            raise ChainStartTimeout(
                f"chain {chain.name} did not answer on {chain.rpc_url} within {timeout:g}s "
                f"(log: {proc.log}); the machine may be overloaded: try again"
            )
        time.sleep(0.1)


def status(directory: Path) -> tuple[DevnetState | None, list[ChainStatus]]:
    """Which recorded chains run, and their head blocks."""
    state = read_state(directory)
    if state is None:
        return None, []
    found: list[ChainStatus] = []
    for proc in state.chains:
        alive = _is_our_node(proc.pid, state.backend)
        head: int | None = None
        problem: str | None = None if alive else "process not running"
        if alive:
            try:
                head = int(rpc_call(proc.rpc_url, "eth_blockNumber", timeout=2.0), 16)
            except RpcFailed as exc:
                problem = str(exc)
        found.append(
            ChainStatus(proc.name, proc.chain_id, proc.rpc_url, proc.pid, alive, head, problem)
        )
    return state, found


def down(directory: Path) -> list[ChainProcess]:
    """Stop every recorded chain process and remove the record; returns what was stopped."""
    state = read_state(directory)
    if state is None:
        return []
    stopped = []
    for proc in state.chains:
        if _is_our_node(proc.pid, state.backend):
            stop_process(proc.pid)
            stopped.append(proc)
    state_path(directory).unlink(missing_ok=True)
    return stopped


def restart(
    name: str,
    directory: Path,
    *,
    down_for: float = 0.0,
    timeout: float = 60.0,
) -> ChainProcess:
    """Stop chain ``name`` (its node writes its state), wait ``down_for`` seconds, and
    start it again on the same port from that state; returns its new record.

    DevnetError (one line) when no devnet runs, for the pyevm backend (its chain lives
    in memory only), or when the chain does not come back; UnknownChain for a name the
    devnet does not run.
    """
    state = read_state(directory)
    if state is None:
        raise DevnetError("the devnet is not running: `stbridge devnet up` starts it")
    found = [c for c in state.chains if c.name == name]
    if not found:
        names = ", ".join(c.name for c in state.chains)
        raise UnknownChain(f"no chain {name!r} in the devnet (its chains: {names})")
    proc = found[0]
    if state.backend != "anvil":
        raise DevnetError(
            f"the {state.backend} backend cannot keep chain {name}'s state across a restart "
            "(its chain lives in memory only): use --backend anvil, or `devnet down` and "
            "`devnet up` for fresh chains"
        )
    if not proc.command or proc.state_file is None:
        raise DevnetError(
            f"chain {name} was started without a state file (an older stbridge): "
            "`stbridge devnet down` and `devnet up` once"
        )
    if _is_our_node(proc.pid, state.backend):
        stop_process(proc.pid, grace=60.0)  # SIGTERM: anvil writes its state, then exits
    if not Path(proc.state_file).is_file():
        raise DevnetError(
            f"chain {name} left no state in {proc.state_file} (it was killed, not stopped): "
            "`stbridge devnet down` and `devnet up` for fresh chains"
        )
    time.sleep(down_for)
    url = urlparse(proc.rpc_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    deadline = time.monotonic() + 10
    while not port_is_free(host, port):  # the old listener's socket may linger a moment
        if time.monotonic() > deadline:
            raise PortInUse(
                f"port {port} of chain {name} is still taken after it stopped: "
                "stop what listens there and run `stbridge devnet restart` again"
            )
        time.sleep(0.1)
    proc.pid = spawn(proc.command, Path(proc.log), append=True)
    _write_state(state, directory)  # the new pid, also if it does not come up
    _wait_ready(proc, proc, timeout)
    return proc


def _is_our_node(pid: int, backend: Backend) -> bool:
    """The pid runs and is still one of our chain nodes (pids get reused)."""
    return process_alive(pid) and _MARKERS[backend] in process_cmdline(pid)
