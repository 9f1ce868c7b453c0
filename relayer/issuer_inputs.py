"""What issuers type, parsed: countries, dates and durations, investor ids, block cuts.

Every parser raises InputError with one line that names the value and what would be
accepted, so a command never reaches a chain with a value it cannot mean.

Dates are UTC. A date without a time means **through the end of that day**: an expiry
of ``2027-12-31`` keeps the record valid all of 31 December and stores
``2028-01-01T00:00:00Z`` (records are not valid at or after ``expiresAt``); a lock-up
until ``2027-12-31`` lifts at the same instant.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from relayer.countries import UnknownCountry, lookup
from relayer.errors import InputError

_DURATION = re.compile(r"^(\d+)\s*([hdw])$")
_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}
MAX_UINT64 = 2**64 - 1


def parse_country(text: str) -> int:
    """ISO 3166-1 alpha-2, alpha-3 or numeric into the numeric code a record stores."""
    try:
        return lookup(text).numeric
    except UnknownCountry as exc:
        raise InputError(str(exc)) from None


def parse_countries(text: str) -> list[int]:
    """A comma-separated list of countries (``DE,FR,040``), without repeats, in order."""
    codes: list[int] = []
    for part in text.split(","):
        if not part.strip():
            continue
        code = parse_country(part)
        if code not in codes:
            codes.append(code)
    if not codes:
        raise InputError(f"{text!r} names no country (give codes like DE,FR or 276,250)")
    return codes


def parse_instant(text: str, what: str) -> tuple[int, bool]:
    """A date or date-time as unix seconds, and whether it was a bare date.

    ``2027-12-31`` is the end of that day (the next midnight, UTC); ``2027-12-31T18:00``
    is UTC unless it carries an offset (``+01:00``, ``Z``); ``@1830297600`` is unix time.
    """
    cleaned = text.strip()
    if cleaned.startswith("@") and cleaned[1:].isdigit():
        return int(cleaned[1:]), False
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", cleaned):
        try:
            day = date.fromisoformat(cleaned)
        except ValueError:
            raise InputError(f"{what} {text!r} is not a calendar date") from None
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        return int(end.timestamp()), True
    try:
        moment = datetime.fromisoformat(cleaned.replace("z", "Z"))
    except ValueError:
        raise InputError(
            f"{what} {text!r} is not a date: write 2027-12-31, 2027-12-31T18:00:00Z "
            "or a duration like 365d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()), False


def parse_duration(text: str) -> int | None:
    """``90d``, ``12h``, ``4w`` in seconds; None when ``text`` is not a duration."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_future_time(text: str, now: int, what: str) -> int:
    """A date, date-time or duration from ``now``, as unix seconds; past values refused."""
    duration = parse_duration(text)
    if duration is not None:
        if duration == 0:
            raise InputError(f"{what} {text!r} is zero: give a positive duration like 365d")
        moment = now + duration
    else:
        moment, _ = parse_instant(text, what)
    if moment <= now:
        raise InputError(
            f"{what} {text!r} is in the past ({format_time(moment)}, now {format_time(now)}): "
            "give a later date"
        )
    if moment > MAX_UINT64:
        raise InputError(f"{what} {text!r} is too far in the future")
    return moment


def parse_expiry(text: str, now: int) -> int:
    """A record's ``expiresAt``: a future date (valid through that day) or a duration."""
    return parse_future_time(text, now, "expiry")


def parse_lockup(text: str, now: int) -> int:
    """A lock-up end (``none`` or ``0`` lifts the lock-up), refused when already past."""
    if text.strip().lower() in ("none", "0", "off"):
        return 0
    return parse_future_time(text, now, "lock-up")


def format_time(seconds: int) -> str:
    """Unix seconds as ``2027-12-31T23:00:00Z``."""
    if seconds <= 0:
        return "never"
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"@{seconds}"


def format_expiry(seconds: int) -> str:
    """An expiry as people read it: ``through 2027-12-31`` when it falls on midnight."""
    if seconds <= 0:
        return "none"
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return f"@{seconds}"
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return f"through {(moment - timedelta(days=1)).date().isoformat()}"
    return f"until {format_time(seconds)}"


def parse_investor_id(text: str) -> bytes:
    """An investor id: 0x and 64 hex digits, or a label of up to 32 bytes (``INV-0042``).

    A label is stored as its UTF-8 bytes, left-aligned in the bytes32 (as Solidity's
    ``bytes32("INV-0042")``), so it reads back as written.
    """
    cleaned = text.strip()
    if cleaned.lower().startswith("0x") and len(cleaned) == 66:
        try:
            raw = bytes.fromhex(cleaned[2:])
        except ValueError:
            raise InputError(f"investor id {text!r} has characters that are not hex") from None
    else:
        if not cleaned or any(not (c.isprintable() and not c.isspace()) for c in cleaned):
            raise InputError(
                f"investor id {text!r}: use a label without spaces (INV-0042) "
                "or 0x and 64 hex digits"
            )
        raw = cleaned.encode()
        if len(raw) > 32:
            raise InputError(f"investor id {text!r} is longer than 32 bytes")
        raw = raw.ljust(32, b"\x00")
    if not any(raw):
        raise InputError("investor id is zero (zero means 'no record')")
    return raw


def format_investor_id(raw: bytes) -> str:
    """A stored investor id: the label when it is one, else 0x-hex."""
    label = raw.rstrip(b"\x00")
    if label and b"\x00" not in label:
        try:
            text = label.decode()
        except UnicodeDecodeError:
            text = ""
        if text and all(c.isprintable() and not c.isspace() for c in text):
            return text
    return "0x" + raw.hex()


def parse_optional_limit(text: str, what: str) -> int:
    """``none`` (or 0) for no limit, else a whole positive number."""
    cleaned = text.strip().lower().replace("_", "").replace(",", "")
    if cleaned in ("none", "0", "off"):
        return 0
    if not cleaned.isdigit():
        raise InputError(f"{what} {text!r} is not a whole number (or 'none' for no limit)")
    return int(cleaned)


@dataclass(frozen=True)
class CutSpec:
    """Where to read the chains: given blocks per chain, or every chain at a time."""

    blocks: dict[str, int] = field(default_factory=dict)
    at_time: int | None = None

    def describe(self) -> str:
        if self.at_time is not None:
            return f"at {format_time(self.at_time)}"
        return ", ".join(f"{c} block {b}" for c, b in self.blocks.items()) or "latest"


def parse_cut(values: Sequence[str], chains: Sequence[str]) -> CutSpec:
    """``--at-block`` values: ``CHAIN:BLOCK`` (repeatable; unnamed chains are read at the
    latest consistent point) or one time (``2027-12-31``, a date-time, ``@unix``) at which
    every chain is read at its last block not after it."""
    if not values:
        return CutSpec()
    blocks: dict[str, int] = {}
    times: list[int] = []
    for value in values:
        name, sep, number = value.strip().partition(":")
        if sep and name in chains:
            if not number.strip().isdigit():
                raise InputError(f"--at-block {value!r}: the block must be a whole number")
            if name in blocks:
                raise InputError(f"--at-block names chain {name} twice")
            blocks[name] = int(number)
        elif sep and re.fullmatch(r"[a-z][a-z0-9_-]*", name):
            raise InputError(f"--at-block {value!r}: unknown chain {name!r} ({', '.join(chains)})")
        else:
            moment, bare = parse_instant(value, "--at-block")
            times.append(moment - 1 if bare else moment)  # a date: through its last second
    if times and blocks:
        raise InputError("--at-block takes CHAIN:BLOCK values or one time, not both")
    if len(times) > 1:
        raise InputError("--at-block takes one time")
    return CutSpec(blocks=blocks, at_time=times[0] if times else None)
