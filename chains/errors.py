"""The errors of the local chains, in a tree of their own.

``chains`` imports nothing of ``relayer``: the relayer's command line, which drives the
devnet, maps these to its own one-line errors at its edge
(``relayer.cli.devnet.map_chain_errors``). Each message is one line: cause and fix.
"""

from __future__ import annotations


class DevnetError(Exception):
    """The local devnet could not be started, inspected or stopped."""


class PortInUse(DevnetError):
    """A port the devnet needs is taken by another process."""


class BackendMissing(DevnetError):
    """The requested chain backend (anvil) is not installed."""


class ChainStartTimeout(DevnetError):
    """A chain process did not answer in time."""


class UnknownChain(DevnetError):
    """A chain name the devnet does not run (the caller's input is wrong)."""


class RpcFailed(Exception):
    """A node refused a JSON-RPC call."""


class NodeUnavailable(RpcFailed):
    """A node cannot be reached (not running, not answering, not an http(s) URL)."""
