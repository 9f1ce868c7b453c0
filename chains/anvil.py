"""Foundry's anvil as a devnet backend (the npm package @foundry-rs/anvil)."""

from __future__ import annotations

from pathlib import Path

from chains.foundry import find_tool
from chains.spec import ChainSpec

STATE_INTERVAL = 10**9  # seconds between anvil's periodic --state writes: never, in practice


def find_anvil() -> Path | None:
    """The anvil binary: $STBRIDGE_ANVIL, this platform's npm build, or PATH."""
    return find_tool("anvil")


def anvil_args(
    binary: Path, chain: ChainSpec, block_time: float, state_file: Path | None = None
) -> list[str]:
    """The command line for one chain. Block time 0 mines a block per transaction.

    With ``state_file`` anvil loads the chain from it at start when it exists (blocks,
    accounts, code and storage: the genesis hash too) and writes it there when it is
    stopped (SIGTERM), and only then, so a restarted chain comes back as it was.
    """
    args = [
        str(binary),
        "--host", chain.host,
        "--port", str(chain.port),
        "--chain-id", str(chain.chain_id),
        "--gas-limit", str(chain.gas_limit),
        "--accounts", "0",
    ]  # fmt: skip
    if block_time > 0:
        args += ["--block-time", _seconds(block_time)]
    if state_file is not None:
        # written when it stops, not also every 60 s (anvil's default with --state): each
        # periodic write serializes the whole chain, which under load sealed a block 0.1-0.5 s
        # late and stalled the machine (bench/relay_latency.py, docs/architecture.md)
        args += ["--state", str(state_file), "--state-interval", str(STATE_INTERVAL)]
    return args


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
