"""A trader's local DvP records: ``<state dir>/dvp/<trade>.json`` and the buyer's secret.

The record holds the offer as this trader last saw it and notes on what this trader
did (lock ids, transaction hashes). One record per trade, merged, so one person
playing both sides on a devnet keeps one file. The secret lives apart, in
``<trade>.secret``, created with mode 0600 in a 0700 directory before the payment is
locked (a buyer who lost it could only refund). Nothing here talks to a chain.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relayer.dvp.protocol import AddressParser, Offer, OfferError, hashlock_of, valid_trade_id
from relayer.errors import InputError, NotFound, StbridgeError
from relayer.paths import state_dir

SECRET_MODE = 0o600
DIR_MODE = 0o700
MAX_OFFER_BYTES = 64 * 1024  # an offer is about 1 kB; anything far larger is not one


class SecretError(StbridgeError):
    """The buyer's secret file is missing, unreadable, exposed or wrong."""


@dataclass
class TradeRecord:
    """The offer and this trader's notes about the trade."""

    offer: Offer
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def trade(self) -> str:
        return self.offer.trade


def trades_dir() -> Path:
    return state_dir() / "dvp"


def record_path(trade: str) -> Path:
    return trades_dir() / f"{trade}.json"


def secret_path(trade: str) -> Path:
    return trades_dir() / f"{trade}.secret"


def _ensure_dir() -> Path:
    directory = trades_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    return directory


def parse_offer_text(text: str, source: str, address: AddressParser | None = None) -> Offer:
    """An offer from JSON text; InputError naming the source and the bad field."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source} is not JSON: {exc.msg} (line {exc.lineno})") from None
    except RecursionError:
        raise InputError(f"{source} is not an offer: JSON nested too deeply") from None
    try:
        return Offer.from_json(raw, address)
    except OfferError as exc:
        raise InputError(f"{source}: {exc}") from None
    except InputError as exc:  # the address parser's own words
        raise InputError(f"{source}: {exc}") from None


def read_offer_file(path: Path, address: AddressParser | None = None) -> Offer:
    """The offer in ``path``: InputError in one line for a file that is not a UTF-8 JSON
    offer (binary, truncated, another document), or that cannot be read."""
    with path.open("rb") as handle:
        data = handle.read(MAX_OFFER_BYTES + 1)
    if len(data) > MAX_OFFER_BYTES:
        raise InputError(f"{path} is not an offer: larger than {MAX_OFFER_BYTES // 1024} kB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not an offer: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); pass the JSON file `stbridge dvp offer` or `accept` wrote"
        ) from None
    if "\x00" in text:
        raise InputError(f"{path} is not an offer: it holds NUL bytes (a binary file?)")
    return parse_offer_text(text, str(path), address)


def load_record(trade: str) -> TradeRecord | None:
    """The local record of ``trade``, or None."""
    path = record_path(trade)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise InputError(f"{path}: cannot read the trade record ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("notes") or {}, dict):
        raise InputError(f"{path} is not a trade record: remove it or restore it")
    offer = parse_offer_text(json.dumps(raw.get("offer")), str(path))
    return TradeRecord(offer, dict(raw.get("notes") or {}))


def resolve(ref: str, address: AddressParser | None = None) -> TradeRecord:
    """A trade by id (its local record) or by an offer file (merged with the record).

    ``address`` parses the file's address fields (the CLI's parser checks checksums)."""
    text = ref.strip()
    if valid_trade_id(text.lower()):
        found = load_record(text.lower())
        if found is None:
            raise NotFound(
                f"no local record of trade {text} in {trades_dir()} (`stbridge dvp list`)"
            )
        return found
    path = Path(text)
    try:
        offer = read_offer_file(path, address)
    except FileNotFoundError:
        raise InputError(f"{ref!r} is neither a trade id (16 hex digits) nor a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    local = load_record(offer.trade)
    if local is None:
        return TradeRecord(offer)
    if local.offer.accepted and not offer.accepted:
        return local  # the file is the original offer; the record knows more
    return TradeRecord(offer, local.notes)


def save_record(offer: Offer, **notes: Any) -> Path:
    """Write (merge) the record of ``offer.trade``: the newer offer, the notes added."""
    _ensure_dir()
    current = load_record(offer.trade)
    merged = dict(current.notes) if current else {}
    merged.update({k: v for k, v in notes.items() if v is not None})
    path = record_path(offer.trade)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"offer": offer.to_json(), "notes": merged}, indent=2) + "\n")
    tmp.replace(path)
    return path


def all_records() -> list[TradeRecord]:
    """Every local trade record, oldest file first."""
    directory = trades_dir()
    if not directory.is_dir():
        return []
    records = []
    for path in sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime):
        record = load_record(path.stem) if valid_trade_id(path.stem) else None
        if record is not None:
            records.append(record)
    return records


def write_secret(trade: str, secret: bytes) -> Path:
    """Create the secret file, readable by its owner only; refuses to overwrite one."""
    _ensure_dir()
    path = secret_path(trade)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_MODE)
    except FileExistsError:
        raise SecretError(
            f"{path} already exists: trade {trade} was accepted here before"
        ) from None
    with os.fdopen(fd, "w") as out:
        out.write("0x" + secret.hex() + "\n")
    os.chmod(path, SECRET_MODE)  # whatever the umask did
    return path


def read_secret(trade: str, hashlock: bytes) -> bytes:
    """The secret of ``trade``, checked: owner-only file, 32 bytes, hashing to ``hashlock``."""
    path = secret_path(trade)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text().strip()
    except FileNotFoundError:
        raise SecretError(
            f"no secret for trade {trade} at {path}: only the buyer who accepted it has one"
        ) from None
    except OSError as exc:
        raise SecretError(f"{path}: cannot read the secret ({exc.strerror})") from None
    if mode & 0o077:
        raise SecretError(f"{path} is readable by others (mode {mode:o}): chmod 600 {path}")
    try:
        secret = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise SecretError(f"{path} does not hold a hex secret") from None
    if len(secret) != 32:
        raise SecretError(f"{path} holds {len(secret)} bytes, a secret is 32")
    if hashlock_of(secret) != hashlock:
        raise SecretError(
            f"the secret in {path} does not hash to the trade's hashlock 0x{hashlock.hex()}"
        )
    return secret
