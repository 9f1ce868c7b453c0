"""An embedded EVM chain (py-evm, Prague) behind a JSON-RPC HTTP server, for machines without anvil.

Run it as ``python -m chains.pyevm --chain-id 65001 --port 8545`` (see ``__main__``),
or in-process with :class:`EmbeddedNode` (async) or :class:`ThreadedNode`.
"""

from chains.pyevm.config import NodeConfig
from chains.pyevm.errors import NodeStartError, PortInUse
from chains.pyevm.node import EmbeddedNode, ThreadedNode

__all__ = ["EmbeddedNode", "NodeConfig", "NodeStartError", "PortInUse", "ThreadedNode"]
