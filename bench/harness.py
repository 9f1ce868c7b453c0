"""Shared pieces of the benchmarks: a devnet of their own, many funded senders, fast
dispatch of pre-signed transfers, and a relayer process whose CPU and memory are read.

Benchmarks print their figures and write a report under bench/reports/; nothing here
asserts a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from eth_account import Account

from chains import devnet
from chains.processes import free_port
from relayer.chain import contracts
from relayer.chain.wallet import Wallet
from relayer.cli.devnet import start_devnet
from relayer.config import Config, PrivateKey, parse_config
from relayer.core.checkpoint import Checkpoint, pack_signatures, sign_checkpoint
from relayer.core.hashing import keccak256
from relayer.core.message import address_to_bytes32
from relayer.deployment.deployer import deploy
from relayer.deployment.record import Deployment
from relayer.deployment.session import Session
from relayer.issuer.onboard import onboard_devnet

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "bench" / "reports"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def bench_key(i: int) -> PrivateKey:
    """A deterministic throwaway key for bench senders (devnet only)."""
    return PrivateKey.from_hex(
        keccak256(f"stbridge bench sender {i}".encode()).hex(), source="bench"
    )


@dataclass
class Lab:
    """A devnet with stbridge deployed, onboarded, and extra funded senders."""

    config: Config
    raw: dict[str, Any]
    home: Path
    deployment: Deployment
    senders: list[PrivateKey] = field(default_factory=list)

    def relayer_config_file(self, path: Path, store: Path, **relayer: Any) -> Path:
        from tests.helpers import write_config

        raw = {
            **self.raw,
            "relayer": {**self.raw["relayer"], "store": f"sqlite:///{store}", **relayer},
        }
        return write_config(path, raw)


def build_lab(
    directory: Path,
    *,
    backend: str = "anvil",
    block_time: float = 1.0,
    gas_limit: int = 30_000_000,
    senders: int = 0,
    confirmations: int = 1,
) -> Lab:
    """Start a devnet on free ports and prepare it (blocking)."""
    raw = tomllib.loads((ROOT / "configs" / "devnet.toml").read_text())
    for chain in raw["chains"]:
        chain["rpc_url"] = f"http://127.0.0.1:{free_port()}"
        chain["block_time"] = block_time
        chain["gas_limit"] = gas_limit
        chain["confirmations"] = confirmations
    raw["relayer"].update(metrics_port=0, store=f"sqlite:///{directory}/unused.db")
    for token in raw.get("tokens", []):
        token["rate_limit"] = 0  # the benchmark measures speed, not the buckets
        token["refill_per_second"] = 0
    config = parse_config(raw)
    home = directory / "home"
    os.environ["STBRIDGE_HOME"] = str(home)
    start_devnet(config, directory=home, backend=backend)  # type: ignore[arg-type]
    try:
        report = asyncio.run(deploy(config))
        lab = Lab(config, raw, home, report.deployment, [bench_key(i) for i in range(senders)])
        asyncio.run(_prepare(lab))
    except BaseException:
        devnet.down(home)
        raise
    return lab


async def _prepare(lab: Lab) -> None:
    async with Session(lab.config, lab.deployment) as session:
        await onboard_devnet(session)
        if not lab.senders:
            return
        home = lab.config.home
        agent = session.wallet(home, lab.config.accounts.issuer_agent)
        registry = session.address(home, "IdentityRegistry")
        registry_abi = contracts.load("IdentityRegistry")
        token_abi = contracts.load("SecurityToken")
        token = lab.deployment.tokens[0]
        for chain in lab.config.chains:
            rpc = session.rpc(chain.name)
            await rpc.batch(
                [("anvil_setBalance", [k.address, hex(10_000 * 10**18)]) for k in lab.senders]
            )
        expires = int(time.time()) + 365 * 24 * 3600
        sent = [
            await agent.send(
                registry,
                registry_abi.fn("setRecord").encode(
                    k.address, keccak256(k.address.encode()), 276, expires, 0
                ),
                what="bench record",
            )
            for k in lab.senders
        ]
        await agent.wait(sent)
        sent = [
            await agent.send(
                token.addresses[home],
                token_abi.fn("mint").encode(k.address, 10**9 * 10**token.decimals),
                what="bench mint",
            )
            for k in lab.senders
        ]
        await agent.wait(sent)
        bridge = lab.deployment.chain(home).address("TokenBridge")
        approvals = []
        for k in lab.senders:
            wallet = session.wallet(home, k)
            approvals.append(
                (
                    wallet,
                    await wallet.send(
                        token.addresses[home],
                        token_abi.fn("approve").encode(bridge, 2**255),
                        what="approve",
                    ),
                )
            )
        for wallet, s in approvals:
            await wallet.wait([s])


def presign_transfers(
    lab: Lab,
    count: int,
    *,
    origin: str,
    destination: str,
    nonces: dict[str, int],
    amount: int = 10**18,
) -> list[bytes]:
    """``count`` signed bridge sends, round robin over the senders, each to itself."""
    token = lab.deployment.tokens[0].addresses[origin]
    bridge = lab.deployment.chain(origin).address("TokenBridge")
    dest_id = lab.config.chain(destination).chain_id
    chain_id = lab.config.chain(origin).chain_id
    send = contracts.load("TokenBridge").fn("send")
    raws = []
    for i in range(count):
        key = lab.senders[i % len(lab.senders)]
        nonce = nonces[key.address]
        nonces[key.address] = nonce + 1
        tx = {
            "type": 2,
            "chainId": chain_id,
            "nonce": nonce,
            "gas": 250_000,
            "maxFeePerGas": 50 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "to": bridge,
            "value": 0,
            "data": send.encode(token, dest_id, key.address, amount + i),
        }
        raws.append(bytes(Account.sign_transaction(tx, key.secret()).raw_transaction))
    return raws


async def current_nonces(lab: Lab, chain: str) -> dict[str, int]:
    async with Session(lab.config, lab.deployment) as session:
        rpc = session.rpc(chain)
        answers = await rpc.batch(
            [("eth_getTransactionCount", [k.address, "pending"]) for k in lab.senders]
        )
    return {k.address: int(a, 16) for k, a in zip(lab.senders, answers, strict=True)}


async def push(
    url: str, raws: Sequence[bytes], *, rate: float | None = None, batch: int = 200
) -> float:
    """Send raw transactions in JSON-RPC batches, at ``rate`` per second or flat out.

    Returns the seconds it took. A refused transaction raises (a benchmark with
    silently missing transfers would lie).
    """
    start = time.monotonic()
    async with aiohttp.ClientSession() as http:
        for first in range(0, len(raws), batch):
            chunk = raws[first : first + batch]
            body = [
                {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "eth_sendRawTransaction",
                    "params": ["0x" + r.hex()],
                }
                for i, r in enumerate(chunk)
            ]
            async with http.post(url, json=body) as response:
                answers = await response.json(content_type=None)
            if not isinstance(answers, list):  # one error object for the whole batch
                raise RuntimeError(f"the node refused the batch: {str(answers)[:300]}")
            errors = [a["error"] for a in answers if "error" in a]
            if errors:
                raise RuntimeError(f"{len(errors)} transaction(s) refused, e.g. {errors[0]}")
            if rate:
                due = start + (first + len(chunk)) / rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
    return time.monotonic() - start


@dataclass
class ProcessUsage:
    """CPU seconds and peak resident memory of a process, from /proc; ``loop_cpu_seconds``
    is its main thread's share (the relayer's event loop: the rest is its other threads,
    the SQLite store's among them)."""

    cpu_seconds: float
    peak_rss_mb: float
    loop_cpu_seconds: float = 0.0


def process_usage(pid: int) -> ProcessUsage:
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu(stat: Path) -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return ProcessUsage(
        cpu(Path(f"/proc/{pid}/stat")), peak, cpu(Path(f"/proc/{pid}/task/{pid}/stat"))
    )


def require_py_spy() -> None:
    """Stop before anything starts when ``--profile`` is asked and py-spy is missing."""
    if not (Path(sys.executable).parent / "py-spy").exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install -e '.[bench]'")


class RelayerProcess:
    """``stbridge run`` in the background; usage sampled before it stops."""

    def __init__(
        self, lab: Lab, config_file: Path, log: Path, *, profile: Path | None = None
    ) -> None:
        self.lab = lab
        env = {**os.environ, "STBRIDGE_HOME": str(lab.home)}
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "relayer", "run",
                "-c", str(config_file), "--log-format", "json",
            ],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        self.usage = ProcessUsage(0.0, 0.0)
        self.profiler: subprocess.Popen[bytes] | None = None
        if profile is not None:  # py-spy samples the relayer until it stops (collapsed stacks)
            spy = Path(sys.executable).parent / "py-spy"
            self.profiler = subprocess.Popen(
                [str(spy), "record", "--pid", str(self.proc.pid), "--rate", "200", "--format",
                 "raw", "--output", str(profile), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip

    def sample(self) -> ProcessUsage:
        if self.proc.poll() is None:
            self.usage = process_usage(self.proc.pid)
        return self.usage

    def stop(self) -> ProcessUsage:
        self.sample()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        if self.profiler is not None:
            self.profiler.wait(30)
            self.profiler = None
        return self.usage


class Busy:
    """``N`` cores of CPU load beside a benchmark (``stress-ng --cpu N``), as a shared CI host
    or an operator's box has: started on entry, stopped on exit. ``N = 0`` is no load.

    stress-ng is a Debian package (``apt-get install stress-ng``); asking for load without
    it stops the benchmark before anything starts, in one line.
    """

    def __init__(self, cores: int) -> None:
        if cores < 0:
            raise SystemExit(f"--busy {cores}: give a number of cores, 0 or more")
        self.cores = cores
        self.proc: subprocess.Popen[bytes] | None = None
        if cores and shutil.which("stress-ng") is None:
            raise SystemExit(
                f"--busy {cores} needs stress-ng: apt-get install stress-ng (or run with --busy 0)"
            )

    def describe(self) -> str:
        if not self.cores:
            return "none (nothing else of ours running)"
        return f"stress-ng --cpu {self.cores} (a CPU-bound process per core, all the run long)"

    def __enter__(self) -> Busy:
        if self.cores:
            self.proc = subprocess.Popen(
                ["stress-ng", "--cpu", str(self.cores), "--quiet"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None


def add_run_options(parser: argparse.ArgumentParser, *, runs: int = 3) -> None:
    """``--runs K`` (figures are the median of K runs, with the spread) and ``--busy N``."""
    parser.add_argument(
        "--runs", type=int, default=runs,
        help=f"repeat the measurement K times; the report gives the median and spread ({runs})",
    )  # fmt: skip
    parser.add_argument(
        "--busy", type=int, default=0,
        help="run N cores of CPU load (stress-ng) beside the benchmark (0: none)",
    )  # fmt: skip


def commit() -> str:
    """The commit the benchmark ran on, ``+dirty`` when the tree had uncommitted changes
    (other than reports: a benchmark run after another rewrites bench/reports)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
            text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
             ":(exclude)bench/reports"], cwd=ROOT,
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("+dirty" if dirty else "")


def provenance(args: argparse.Namespace, *, busy: Busy | None = None) -> list[str]:
    """The lines every report starts with: commit, machine, load beside it, every setting."""
    settings = ", ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in sorted(vars(args).items()) if v is not None
    )
    load = os.getloadavg()
    lines = [
        f"- commit: {commit()}",
        f"- machine: {describe_machine()}",
        f"- load beside it: {busy.describe() if busy else 'none'}; load average at the start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        f"- settings: {settings or 'defaults'}",
        f"- command: .venv/bin/python -m bench.{Path(sys.argv[0]).stem} " + " ".join(sys.argv[1:]),
        "",
    ]
    return lines


def median_spread(values: Sequence[float], fmt: str = "{:,.0f}") -> str:
    """``median (min-max, n runs)``: how a figure from several runs is reported (a run
    that could not tell the figure, nan, is left out)."""
    values = [v for v in values if v == v]
    if not values:
        return "n/a"
    mid = statistics.median(values)
    if len(values) == 1:
        return fmt.format(mid) + " (1 run)"
    return (
        f"{fmt.format(mid)} ({fmt.format(min(values))}-{fmt.format(max(values))}, "
        f"{len(values)} runs)"
    )


DRIFT = 15.0  # a figure this many percent worse than the previous report's is flagged

# how a figure's name says that less of it is better (seconds, CPU, memory, gas, blocks);
# throughputs, rates and ratios (``per_s``, ``rate``, ``ratio``, ``pct``) are better higher
_LOWER_WORDS = ("latency", "cpu", "rss", "memory", "seconds", "gas", "blocks", "lag", "_ms", "_mb")
_HIGHER_WORDS = ("per_s", "per_second", "rate", "ratio", "pct", "throughput", "full")


def lower_is_better(name: str) -> bool:
    """Whether a smaller value of figure ``name`` is the better one (see ``_LOWER_WORDS``)."""
    n = name.lower()
    if any(w in n for w in _HIGHER_WORDS):
        return False
    return any(w in n for w in _LOWER_WORDS) or n.endswith("_s")


def _provenance_field(lines: Sequence[str], key: str) -> str | None:
    prefix = f"- {key}: "
    return next((line[len(prefix) :] for line in lines if line.startswith(prefix)), None)


def report_record(
    name: str, lines: Sequence[str], figures: dict[str, float], date: str
) -> dict[str, Any]:
    """The JSON sidecar of a report: its figures and the provenance they were measured
    under (read from the report's provenance lines; measured here when it has none)."""
    load = _provenance_field(lines, "load beside it") or "unknown"
    return {
        "name": name,
        "date": date,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": _provenance_field(lines, "commit") or commit(),
        "machine": _provenance_field(lines, "machine") or describe_machine(),
        "load": load.split("; load average")[0],  # what ran beside it, not the load average
        "settings": _provenance_field(lines, "settings") or "",
        "figures": {k: float(v) for k, v in figures.items()},
    }


def previous_record(
    directory: Path,
    name: str,
    load: str,
    before: str | None = None,
    settings: str | None = None,
) -> dict[str, Any] | None:
    """The newest ``<name>-<date>.json`` in ``directory`` measured under ``load`` (dated on
    or before ``before`` when given), one measured with the same ``settings`` first when
    given (a short development run is not compared with the full one while a full one
    exists); None when there is none."""
    pattern = re.compile(re.escape(name) + r"-(\d{4}-\d{2}-\d{2})\.json")
    found: list[tuple[str, str, dict[str, Any]]] = []
    for path in directory.glob(f"{name}-*.json"):
        match = pattern.fullmatch(path.name)
        if match is None or (before is not None and match.group(1) > before):
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("load") == load:
            found.append((match.group(1), str(record.get("time", "")), record))
    same = [f for f in found if settings is not None and f[2].get("settings") == settings]
    found = same or found
    return max(found, key=lambda f: (f[0], f[1]))[2] if found else None


def compare_figures(
    current: dict[str, float],
    previous: dict[str, Any],
    *,
    drift: float = DRIFT,
    settings: str | None = None,
) -> list[str]:
    """The section comparing ``current`` figures with a ``previous`` record: each figure,
    its previous value and the change in %, flagged when it is worse by more than ``drift``%.
    When the current ``settings`` are not the previous report's, the section says so."""
    lines = [
        f"## Against the previous report ({previous.get('date', '?')}, "
        f"{previous.get('commit', '?')})",
        "",
        f"Same load beside it ({previous.get('load', '?')}); flagged: worse by more than "
        f"{drift:g}%.",
        "",
    ]
    if settings is not None and previous.get("settings", "") != settings:
        lines += [
            f"Settings differ, so the figures may not be comparable: previous "
            f"`{previous.get('settings') or 'not recorded'}`, now `{settings or 'none'}`.",
            "",
        ]
    lines += [
        "| figure | now | previous | change | |",
        "| --- | --- | --- | --- | --- |",
    ]
    before: dict[str, float] = previous.get("figures", {})
    flagged = 0
    for key, value in current.items():
        old = before.get(key)
        if old is None:
            lines.append(f"| {key} | {value:,.4g} | - | new | |")
            continue
        change = (value - old) / abs(old) * 100 if old else (0.0 if value == old else math.inf)
        worse = change > drift if lower_is_better(key) else change < -drift
        flagged += worse
        mark = "**worse**" if worse else ""
        lines.append(f"| {key} | {value:,.4g} | {old:,.4g} | {change:+.1f}% | {mark} |")
    for key in before.keys() - current.keys():
        lines.append(f"| {key} | - | {before[key]:,.4g} | gone | |")
    lines += ["", f"{flagged} figure(s) worse by more than {drift:g}%." if flagged else
              f"No figure worse by more than {drift:g}%."]  # fmt: skip
    return lines


def signed_checkpoint(
    lab: Lab, origin: int, mailbox: str, root: bytes, index: int
) -> tuple[Checkpoint, bytes]:
    """A checkpoint of ``origin``'s mailbox at ``index``, signed by the lab's validators (a
    threshold of them, as they would publish it), with the packed signatures."""
    checkpoint = Checkpoint(origin, address_to_bytes32(mailbox), root, index)
    keys = sorted(lab.config.accounts.validators, key=lambda k: k.address.lower())[
        : lab.config.validators.threshold
    ]
    signatures = pack_signatures(
        (bytes.fromhex(k.address[2:]), sign_checkpoint(k.secret(), checkpoint)) for k in keys
    )
    return checkpoint, signatures


def print_rows(rows: Sequence[tuple[str, str]]) -> None:
    """A benchmark's figures on the console, one ``name  value`` line each, aligned."""
    width = max((len(k) for k, _ in rows), default=0)
    print()
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


def write_report(
    name: str,
    title: str,
    lines: Sequence[str],
    *,
    figures: dict[str, float] | None = None,
    directory: Path | None = None,
) -> Path:
    """Write ``<name>-<date>.md``; with ``figures``, also ``<name>-<date>.json`` (the
    figures, commit, machine, load, settings, date) and a section comparing them with the
    newest earlier JSON of the same name measured under the same load, printed too."""
    directory = REPORTS if directory is None else directory
    directory.mkdir(parents=True, exist_ok=True)
    date = time.strftime("%Y-%m-%d")
    path = directory / f"{name}-{date}.md"
    body = list(lines)
    if figures is not None:
        record = report_record(name, lines, figures, date)
        previous = previous_record(
            directory, name, record["load"], before=date, settings=record["settings"]
        )
        if previous is None:
            section = [
                "## Against the previous report",
                "",
                f"None: no earlier {name}-<date>.json measured under the same load "
                f"({record['load']}).",
            ]
        else:
            section = compare_figures(record["figures"], previous, settings=record["settings"])
        body += ["", *section]
        print("\n" + "\n".join(section))
        (directory / f"{name}-{date}.json").write_text(dumps(record) + "\n")
    path.write_text(f"# {title}\n\n" + "\n".join(body) + "\n")
    return path


def describe_machine() -> str:
    cpus = os.cpu_count()
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f", {int(line.split()[1]) // 1024 // 1024} GiB"
    except OSError:
        pass
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip() + ", "
                break
    except OSError:
        pass
    return f"{cpus} cores ({model}{os.uname().machine}){mem}, Python {sys.version.split()[0]}"


def summary(values: Sequence[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {percentile(values, 50):.2f}, p99 {percentile(values, 99):.2f}, "
        f"max {max(values):.2f}, mean {statistics.fmean(values):.2f}"
    )


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)


__all__ = [
    "Busy",
    "Lab",
    "RelayerProcess",
    "Wallet",
    "add_run_options",
    "build_lab",
    "commit",
    "compare_figures",
    "current_nonces",
    "describe_machine",
    "lower_is_better",
    "median_spread",
    "percentile",
    "presign_transfers",
    "previous_record",
    "print_rows",
    "provenance",
    "push",
    "signed_checkpoint",
    "summary",
    "write_report",
]
