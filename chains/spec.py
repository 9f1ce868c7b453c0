"""What the devnet needs to know of one chain, as a small type of its own.

The relayer's command line builds these from its config
(``relayer.cli.devnet.chain_specs``); ``chains`` never reads the relayer's config.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse


@dataclass(frozen=True)
class ChainSpec:
    """One local chain: its name, chain id, where it listens, and how it mines."""

    name: str
    chain_id: int
    rpc_url: str  # http://host:port the node listens on
    block_time: float = 1.0  # seconds; 0 mines a block per transaction
    gas_limit: int = 30_000_000

    @property
    def host(self) -> str:
        return urlparse(self.rpc_url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parsed = urlparse(self.rpc_url)
        return parsed.port or (443 if parsed.scheme == "https" else 80)
