"""What people type, parsed: addresses, amounts, countries, dates and durations,
investor ids, block cuts.

Every parser raises InputError with one line that names the value and what would be
accepted, so a command never reaches a chain with a value it cannot mean. None of them
needs a chain: every command parses its inputs before it connects to one.

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
from decimal import Decimal, InvalidOperation

from eth_utils.address import to_checksum_address

from relayer.countries import UnknownCountry, lookup
from relayer.errors import InputError

_DURATION = re.compile(r"^(\d+)\s*([hdw])$")
_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}
MAX_UINT64 = 2**64 - 1
MAX_UINT256 = 2**256 - 1
ZERO_ADDRESS = "0x" + "0" * 40

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_PLAIN_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")
_EXPONENT = re.compile(r"([0-9]+(\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]{1,4}")
# what people put between groups of digits or before decimals in their locale
_SEPARATORS = frozenset(",_ '\u2019\u00a0\u202f\u2009\u066b\u066c")


def address_problem(text: str) -> str | None:
    """Why ``text`` is not an address a person meant, or None when it is one.

    An address is ``0x`` and 40 hex digits. In mixed case the digits carry an EIP-55
    checksum, which must hold (a mistyped digit shows); all lower-case or all upper-case
    digits carry none and are taken as written, as every wallet does.
    """
    if not _HEX_ADDRESS.fullmatch(text):
        return "is not an address (0x followed by 40 hex digits)"
    digits = text[2:]
    mixed = digits != digits.lower() and digits != digits.upper()
    if mixed and to_checksum_address(text) != text:
        return "has a bad EIP-55 checksum (a typo?); check it, or write it all lower-case"
    return None


def parse_address(value: str, what: str = "address") -> str:
    """An address a person typed, checksummed; InputError when it is malformed, fails its
    EIP-55 checksum, or is the zero address (which nobody holds)."""
    text = value.strip()
    problem = address_problem(text)
    if problem is not None:
        shown = text if _HEX_ADDRESS.fullmatch(text) else repr(value)
        raise InputError(f"{what} {shown} {problem}")
    if text.lower() == ZERO_ADDRESS:
        raise InputError(f"{what} is the zero address, which nobody holds: check it")
    return str(to_checksum_address(text))


def parse_decimal(value: str, what: str = "amount") -> Decimal:
    """A positive number of token units as written: digits with at most one dot.

    Money takes no guesses: a comma (``1,5`` is 1.5 to some readers and 15 to others), any
    other separator, an exponent, a sign, hex, ``NaN`` and ``Infinity`` are refused with
    the way to write the number instead. Only the syntax is checked here, so a typo is
    answered before anything is read; :func:`scale_amount` applies the token's decimals.
    """
    text = value.strip()
    if not text:
        raise InputError(f"{what} is empty: give token units like 10 or 2.5")
    if any(c in _SEPARATORS for c in text):
        raise InputError(
            f"{what} {value!r} has a separator: write 1.5 or 1000.5 "
            "(a dot for decimals, no separators)"
        )
    if text[0] in "-\u2212":
        raise InputError(f"{what} {value!r} is negative: give a positive number of token units")
    if text[0] == "+":
        raise InputError(f"{what} {value!r} has a sign: write it without the '+'")
    if _EXPONENT.fullmatch(text):
        written = format(Decimal(text), "f")
        hint = f" ({written})" if len(written) <= 40 else ""
        raise InputError(f"{what} {value!r} has an exponent: write the number out{hint}")
    if text[:2].lower() == "0x":
        raise InputError(f"{what} {value!r} is hex: write token units in decimal, like 10 or 2.5")
    if not _PLAIN_NUMBER.fullmatch(text):
        raise InputError(f"{what} {value!r} is not a number: write token units like 10 or 2.5")
    try:
        amount = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain numbers
        raise InputError(f"{what} {value!r} is not a number") from None
    if amount == 0:
        raise InputError(f"{what} {value!r} is zero: give a positive number of token units")
    return amount


def scale_amount(amount: Decimal, decimals: int, what: str = "amount") -> int:
    """Token units (from :func:`parse_decimal`) in base units, exactly (no rounding)."""
    shown = format(amount, "f")
    sign, digits, exponent = amount.as_tuple()
    if sign or not isinstance(exponent, int):
        raise InputError(f"{what} '{shown}' is not a positive number")
    units = int("".join(map(str, digits)) or "0")
    shift = exponent + decimals
    if shift >= 0:
        units *= 10**shift
    else:
        units, rest = divmod(units, 10**-shift)
        if rest:
            raise InputError(f"{what} '{shown}' has more than {decimals} decimal places")
    if units > MAX_UINT256:
        raise InputError(f"{what} '{shown}' is too large")
    return units


def parse_amount(value: str, decimals: int, what: str = "amount") -> int:
    """Token units as people write them (``10``, ``2.5``) in base units."""
    return scale_amount(parse_decimal(value, what), decimals, what)


def format_amount(units: int, decimals: int) -> str:
    """Base units as token units, grouped by thousands, without trailing zeros (exact:
    integer arithmetic, so 30-digit balances keep their last digit)."""
    whole, fraction = divmod(abs(units), 10**decimals)
    text = f"{'-' if units < 0 else ''}{whole:,}"
    if fraction:
        text += "." + str(fraction).rjust(decimals, "0").rstrip("0")
    return text


def format_tokens(units: int, decimals: int, symbol: str) -> str:
    """Base units as people read an amount: ``3,441.5 ACME``."""
    return f"{format_amount(units, decimals)} {symbol}"


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
    """``none`` (or 0) for no limit, else a whole positive number (no separators: ``1,000``
    is a thousand to some readers and one to others)."""
    cleaned = text.strip().lower()
    if cleaned in ("none", "0", "off"):
        return 0
    if any(c in _SEPARATORS for c in cleaned):
        raise InputError(f"{what} {text!r} has a separator: write the digits only, like 1000")
    if not re.fullmatch(r"[0-9]+", cleaned):
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
