"""Finding a message the way people name it: its full id or an unambiguous prefix."""

from __future__ import annotations

from relayer.errors import InputError, NotFound
from relayer.store.base import Store
from relayer.store.models import MessageRow


async def resolve_message(store: Store, text: str) -> MessageRow:
    """A message by its full id or an unambiguous prefix; NotFound otherwise."""
    cleaned = text.strip().lower()
    if not cleaned.removeprefix("0x") or any(
        c not in "0123456789abcdef" for c in cleaned.removeprefix("0x")
    ):
        raise InputError(f"{text!r} is not a message id (0x followed by hex digits)")
    found = await store.find_message(cleaned)
    if not found:
        raise NotFound(f"no message {text} in the store (`stbridge messages list` shows them)")
    if len(found) > 1:
        raise InputError(f"{text} matches {len(found)} messages: give more of the id")
    return found[0]
