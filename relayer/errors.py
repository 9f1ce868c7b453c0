"""One error tree for stbridge.

Every failure a user can meet is a subclass of :class:`StbridgeError` whose message is
one line that says what went wrong and how to fix it. Library errors (web3, sockets,
subprocesses) are translated into these at the edge, so the CLI prints ``error: ...``
and exits non-zero instead of showing a traceback. No message ever carries a key.
"""

from __future__ import annotations


class StbridgeError(Exception):
    """Base of every error stbridge reports to a user."""

    exit_code = 1


# --- configuration ---------------------------------------------------------


class ConfigError(StbridgeError):
    """The configuration file is missing, malformed or inconsistent."""

    exit_code = 2


# --- local chains ----------------------------------------------------------


class DevnetError(StbridgeError):
    """The local two-chain devnet could not be started, inspected or stopped."""


class PortInUse(DevnetError):
    """A port the devnet needs is taken by another process."""


class BackendMissing(DevnetError):
    """The requested chain backend (anvil) is not installed."""


class ChainStartTimeout(DevnetError):
    """A chain process did not answer in time."""


# --- chain access ----------------------------------------------------------


class ChainError(StbridgeError):
    """A chain refused or failed a request."""


class ChainUnavailable(ChainError):
    """The chain's node cannot be reached."""


class RpcTimeout(ChainUnavailable):
    """The node did not answer in time."""


class WrongChain(ChainError):
    """The node answers with another chain id than the config says."""


class TransactionReverted(ChainError):
    """A transaction or call reverted; the message carries the decoded reason."""


class InsufficientFunds(ChainError):
    """An account cannot pay for a transaction."""


class DeliveryWaits(ChainError):
    """A lane cannot send now, for a reason that is no fault of its messages (a fee
    above the cap...): the lane records the message as its waiting reason and waits."""


# --- deployments, messages, store ----------------------------------------------


class DeploymentError(StbridgeError):
    """The contracts are not deployed, or a deployment does not match the config."""


class StoreError(StbridgeError):
    """The relayer's store cannot be opened or is inconsistent."""


class LeaseLost(StoreError):
    """Another relayer took over a message this one was about to submit."""


class NotFound(StbridgeError):
    """A message, lock, investor or other record the user named does not exist."""


class InputError(StbridgeError):
    """A command-line value is malformed (address, amount, date, country...)."""

    exit_code = 2
