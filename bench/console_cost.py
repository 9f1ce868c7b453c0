"""What the console costs the relayer: CPU and memory with the pages open and refreshing,
against the same relayer with no page open.

    .venv/bin/python -m bench.console_cost [--seconds 60] [--rate 2] [--refresh 5]

Two anvil chains (1 s blocks), stbridge deployed, ``stbridge run`` as a process, and a
steady ``--rate`` transfers a->b per second through both phases:

1. quiet: nobody looks at the console for ``--seconds``;
2. open: headless chromium shows the operator page refreshing every ``--refresh``
   seconds (lanes and charts, chains, keys, failures, messages, validators, DvP) and
   reloads the issuer page (cap table, investors: chain scans, cached 10 s) every 30 s.

For each phase: the relayer's CPU seconds and share of one core, its resident memory at
the end and its peak. Prints a table and writes bench/reports/console-cost-<date>.md.
Needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import (
    Lab,
    RelayerProcess,
    build_lab,
    current_nonces,
    describe_machine,
    presign_transfers,
    push,
    write_report,
)
from chains import devnet
from chains.processes import free_port

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1366,900",
]  # fmt: skip


@dataclass
class Phase:
    name: str
    seconds: float
    cpu_seconds: float
    rss_mb: float
    peak_rss_mb: float
    delivered: int
    page_loads: int = 0

    @property
    def cpu_share(self) -> float:
        return self.cpu_seconds / self.seconds


def _cpu_and_rss(pid: int) -> tuple[float, float, float]:
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cpu, rss, peak


def _delivered(store: Path) -> int:
    import sqlite3

    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        return int(
            db.execute("SELECT count(*) FROM messages WHERE status='delivered'").fetchone()[0]
        )


def _browse(base: str, profile: Path, refresh: float, stop: threading.Event) -> int:
    """The console open until ``stop``: returns how many page loads it made."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=Service(executable_path=shutil.which("chromedriver"))
    )
    loads = 0
    try:
        operator = driver.current_window_handle
        driver.get(f"{base}/console/?refresh={refresh:g}&window=15m")
        loads += 1
        driver.switch_to.new_window("tab")
        issuer = driver.current_window_handle
        next_issuer = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_issuer:
                driver.switch_to.window(issuer)
                driver.get(f"{base}/console/issuer")
                driver.switch_to.window(operator)
                loads += 1
                next_issuer = time.monotonic() + 30
            stop.wait(1)
        # the operator page refreshed itself every `refresh` seconds meanwhile
        loads += int(driver.execute_script("return Number(document.body.dataset.loaded || 0)"))
    finally:
        driver.quit()
    return loads


async def _traffic(url: str, raws: list[bytes], rate: float) -> None:
    await push(url, raws, rate=rate, batch=1)


async def _phase(name: str, pid: int, store: Path, seconds: float, browse: Any | None) -> Phase:
    cpu0, _rss, _peak = _cpu_and_rss(pid)
    done0 = _delivered(store)
    stop = threading.Event()
    loads: list[int] = []
    thread = None
    if browse is not None:
        thread = threading.Thread(target=lambda: loads.append(browse(stop)), daemon=True)
        thread.start()
    start = time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, rss, peak = _cpu_and_rss(pid)
    elapsed = time.monotonic() - start
    stop.set()
    if thread is not None:
        await asyncio.to_thread(thread.join, 60)
    return Phase(name, elapsed, cpu1 - cpu0, rss, peak, _delivered(store) - done0,
                 loads[0] if loads else 0)  # fmt: skip


async def run(args: argparse.Namespace, work: Path, lab: Lab) -> list[Phase]:
    store = work / "relayer.db"
    port = free_port()
    config_file = lab.relayer_config_file(
        work / "relayer.toml", store, metrics_port=port, poll_interval=0.5
    )
    total = int(args.rate * (2 * args.seconds + 30))
    raws = presign_transfers(
        lab, total, origin="a", destination="b", nonces=await current_nonces(lab, "a")
    )
    relayer = RelayerProcess(lab, config_file, work / "relayer.log")
    try:
        traffic = asyncio.create_task(_traffic(lab.config.chain("a").rpc_url, raws, args.rate))
        await asyncio.sleep(20)  # started, caught up, steady
        pid = relayer.proc.pid
        quiet = await _phase("quiet: no console open", pid, store, args.seconds, None)
        base = f"http://127.0.0.1:{port}"
        profile = work / "chromium-profile"

        def browse(stop: threading.Event) -> int:
            return _browse(base, profile, args.refresh, stop)

        shown = await _phase("open: operator page refreshing", pid, store, args.seconds, browse)
        traffic.cancel()
    finally:
        relayer.stop()
    return [quiet, shown]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    parser.add_argument("--rate", type=float, default=2.0, help="transfers a->b per second")
    parser.add_argument("--refresh", type=float, default=5.0, help="the page's refresh, seconds")
    args = parser.parse_args()
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        raise SystemExit(
            "needs chromium and chromedriver: apt-get install chromium chromium-driver"
        )
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory(prefix="stbridge-console-cost-") as tmp:
        lab = build_lab(Path(tmp), block_time=1.0, senders=4)
        try:
            phases = asyncio.run(run(args, Path(tmp), lab))
        finally:
            devnet.down(lab.home)
    rows = [
        "| phase | seconds | relayer CPU s | CPU share of a core | RSS at end MB | peak RSS MB "
        "| delivered | page loads |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in phases:
        rows.append(
            f"| {p.name} | {p.seconds:.0f} | {p.cpu_seconds:.2f} | {100 * p.cpu_share:.1f}% "
            f"| {p.rss_mb:.0f} | {p.peak_rss_mb:.0f} | {p.delivered} | {p.page_loads} |"
        )
    quiet, shown = phases
    delta = shown.cpu_share - quiet.cpu_share
    lines = [
        f"Machine: {describe_machine()}. Two anvil chains, 1 s blocks, {args.rate:g} transfers "
        f"a->b per second throughout; the page refreshes every {args.refresh:g} s and the "
        "issuer page reloads every 30 s.",
        "",
        *rows,
        "",
        f"The open console costs {100 * delta:+.1f} points of one core and "
        f"{shown.rss_mb - quiet.rss_mb:+.0f} MB of resident memory.",
    ]
    print("\n".join(lines))
    path = write_report("console-cost", "What the console costs the relayer", lines)
    print(f"\nreport: {path}")


if __name__ == "__main__":
    main()
