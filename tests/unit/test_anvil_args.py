"""A chain with a state file writes it when it stops, not every 60 s while it runs."""

from __future__ import annotations

from pathlib import Path

from chains.anvil import STATE_INTERVAL, anvil_args
from chains.spec import ChainSpec


def test_the_state_file_is_written_at_stop_only(tmp_path: Path) -> None:
    spec = ChainSpec(
        name="a", chain_id=65001, rpc_url="http://127.0.0.1:18545", gas_limit=30_000_000
    )
    args = anvil_args(Path("anvil"), spec, 1.0, tmp_path / "a.json")
    assert args[args.index("--state") + 1] == str(tmp_path / "a.json")
    assert int(args[args.index("--state-interval") + 1]) == STATE_INTERVAL >= 10**8
    assert "--state-interval" not in anvil_args(Path("anvil"), spec, 1.0)
