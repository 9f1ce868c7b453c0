"""ERC-1404 restriction codes of SecurityToken, in words.

The token answers ``messageForTransferRestriction(code)`` itself; this table says the
same (a test compares them) for where no chain is at hand: a ``TransferRestricted``
revert decoded from its data.
"""

from __future__ import annotations

MESSAGES: dict[int, str] = {
    0: "No restriction",
    1: "Token is paused",
    2: "Sender is frozen",
    3: "Recipient is frozen",
    4: "Insufficient unfrozen balance",
    5: "Recipient is not a verified investor",
    6: "Sender is not a verified investor",
    7: "Recipient's country is not allowed",
    8: "Maximum number of holders reached",
    9: "Recipient's balance would exceed the maximum",
    10: "Tokens are locked up",
}
UNKNOWN = "Unknown restriction code"


def describe(code: int) -> str:
    """A restriction as the CLI says it: ``Token is paused (ERC-1404 code 1)``."""
    return f"{MESSAGES.get(code, UNKNOWN)} (ERC-1404 code {code})"
