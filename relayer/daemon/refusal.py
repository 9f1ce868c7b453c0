"""Which delivery failures no retry can change, and when to try the others again.

A revert decoded to one of ``TERMINAL`` depends only on the message and on wiring
that the relayer does not change (who sent it, to what, for which chain): trying again
would only spend gas. Such a message is ``refused``. Anything else (a paused lane, a
rate limit, a handler out of its gas, a batch out of gas) may pass later and is retried
with backoff, at most ``relayer.max_attempts`` times; then it waits for an operator.
"""

from __future__ import annotations

import re

from relayer.core.backoff import next_attempt
from relayer.store.models import NEVER

TERMINAL = frozenset(
    {
        # the mailbox: the message itself is malformed or not for this chain
        "WrongDestination",
        "WrongVersion",
        "MessageTooShort",
        "OriginMismatch",
        "InvalidRecipient",
        # the applications: a sender they do not know, a body they cannot read
        "UnknownSender",
        "WrongSender",
        "WrongOrigin",
        "NotMailbox",
        "MalformedBody",
        "UnknownKind",
        "UnexpectedKind",
        "ZeroWallet",
    }
)
# reverts about the checkpoint or its proof, not about any one message: splitting the
# batch cannot help (the whole batch backs off)
BATCH_WIDE = frozenset(
    {
        "BelowThreshold",
        "InvalidSignature",
        "SignersNotAscending",
        "NotValidator",
        "UnknownOrigin",
        "ZeroRoot",
        "InvalidProof",
        "NonceBeyondCheckpoint",
    }
)
_ERROR_NAME = re.compile(r"(?:^|: )([A-Z][A-Za-z0-9]*)\(")


def error_name(reason: str) -> str | None:
    """The custom error a decoded reason names (``handler reverted: UnknownSender(...)``)."""
    match = _ERROR_NAME.search(reason)
    return match.group(1) if match else None


def terminal(reason: str) -> str | None:
    """The error name when ``reason`` is a revert no retry can change, else None."""
    name = error_name(reason)
    return name if name in TERMINAL else None


def batch_wide(reason: str) -> bool:
    """Whether a batch's revert is about its checkpoint or proof, not one message."""
    return error_name(reason) in BATCH_WIDE


def retry_at(attempts: int, max_attempts: int, *, backoff: bool = True) -> float:
    """When to try again after the ``attempts + 1``-th failure; NEVER past the cap.

    ``backoff=False``: due at once (the lane bisects a reverted batch the next round).
    """
    if attempts + 1 >= max_attempts:
        return NEVER
    return next_attempt(attempts) if backoff else 0.0


def failure(reason: str, attempts: int, max_attempts: int) -> tuple[str, float]:
    """The reason to store for a transient failure, and when to try again: the reason
    says so when the attempts ran out and the message waits for an operator."""
    when = retry_at(attempts, max_attempts)
    if when >= NEVER:
        reason = f"{reason} (attempt {attempts + 1} of {max_attempts}: waits for `messages retry`)"
    return reason, when
