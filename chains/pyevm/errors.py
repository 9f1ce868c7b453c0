"""The embedded node's errors: JSON-RPC errors by code, and start-up errors.

Every handler raises one of these; the dispatcher turns it into the ``error``
member of a JSON-RPC response. The codes and messages follow geth (and anvil)
where clients look at them: a revert is code 3 with the revert data, a refused
transaction is -32000 with geth's wording ("nonce too low", "insufficient funds
for gas * price + value", ...), so web3.py reacts as it does against those nodes.
"""

from __future__ import annotations


class RpcError(Exception):
    """Base of every error the node answers over JSON-RPC."""

    code = -32603

    def __init__(self, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, object]:
        """The ``error`` member of a JSON-RPC response."""
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ParseError(RpcError):
    """The request body is not JSON."""

    code = -32700


class InvalidRequest(RpcError):
    """The JSON is not a JSON-RPC 2.0 request object (or a batch of them)."""

    code = -32600


class MethodNotFound(RpcError):
    """The node does not implement the method."""

    code = -32601


class InvalidParams(RpcError):
    """The parameters do not have the types or values the method takes."""

    code = -32602


class InternalError(RpcError):
    """A bug: the handler failed unexpectedly (logged with its traceback)."""

    code = -32603


class ServerError(RpcError):
    """The request was well-formed but the chain refused it (geth's -32000)."""

    code = -32000


class TransactionRejected(ServerError):
    """A raw transaction was not admitted to the pool; the message says why."""


class ExecutionReverted(RpcError):
    """eth_call or eth_estimateGas reverted; ``data`` holds the revert data (hex)."""

    code = 3


class NodeStartError(Exception):
    """The node could not start (bad option, unreadable fund file, busy port)."""


class PortInUse(NodeStartError):
    """The HTTP port is taken by another process."""
