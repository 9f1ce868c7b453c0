"""A trader's local DvP files: records merge, the secret is owner-only and checked."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from relayer.dvp.files import (
    SecretError,
    all_records,
    load_record,
    read_secret,
    record_path,
    resolve,
    save_record,
    secret_path,
    trades_dir,
    write_secret,
)
from relayer.errors import InputError, NotFound
from tests.unit.test_dvp_core import HASHLOCK, SECRET, accepted, offer


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("STBRIDGE_HOME", str(tmp_path / "home"))
    previous = os.umask(0)  # the most careless umask: the modes must not depend on it
    yield tmp_path / "home"
    os.umask(previous)


def test_the_secret_file_is_the_owners_alone(home: Path) -> None:
    path = write_secret("0123456789abcdef", SECRET)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(trades_dir().stat().st_mode) == 0o700
    assert read_secret("0123456789abcdef", HASHLOCK) == SECRET
    with pytest.raises(SecretError, match="already exists"):
        write_secret("0123456789abcdef", SECRET)


def test_a_secret_others_can_read_is_refused(home: Path) -> None:
    path = write_secret("0123456789abcdef", SECRET)
    path.chmod(0o644)
    with pytest.raises(SecretError, match=r"readable by others \(mode 644\): chmod 600"):
        read_secret("0123456789abcdef", HASHLOCK)


def test_a_wrong_or_missing_secret_is_refused(home: Path) -> None:
    with pytest.raises(SecretError, match="only the buyer who accepted it has one"):
        read_secret("0123456789abcdef", HASHLOCK)
    path = write_secret("0123456789abcdef", b"\x11" * 32)
    with pytest.raises(SecretError, match="does not hash to the trade's hashlock"):
        read_secret("0123456789abcdef", HASHLOCK)
    path.write_text("0x1234")
    with pytest.raises(SecretError, match="holds 2 bytes"):
        read_secret("0123456789abcdef", hashlib.sha256(b"\x12\x34").digest())


def test_records_merge_notes_and_keep_the_accepted_offer(home: Path, tmp_path: Path) -> None:
    save_record(offer())
    save_record(accepted(), payment_lock="0x01")
    save_record(accepted(), asset_lock="0x02")
    record = load_record(offer().trade)
    assert record is not None
    assert record.offer == accepted()
    assert record.notes == {"payment_lock": "0x01", "asset_lock": "0x02"}
    original = tmp_path / "offer.json"  # the seller's original file names the same trade
    original.write_text(json.dumps(offer().to_json()))
    assert resolve(str(original)).offer == accepted()
    assert resolve(offer().trade.upper()).notes["asset_lock"] == "0x02"
    assert [r.trade for r in all_records()] == [offer().trade]
    assert record_path(offer().trade).parent == secret_path(offer().trade).parent


def test_resolve_explains_what_it_could_not_find(home: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no local record of trade 0123456789abcdef"):
        resolve("0123456789abcdef")
    with pytest.raises(InputError, match="neither a trade id"):
        resolve(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(InputError, match=r"bad\.json is not JSON"):
        resolve(str(bad))
    bad.write_text(json.dumps({**offer().to_json(), "buyer": "nobody"}))
    with pytest.raises(InputError, match="buyer: 'nobody' is not an address"):
        resolve(str(bad))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (bytes(range(256)) * 4, "is not an offer: not UTF-8 text (byte 0x80 at offset 128)"),
        (b"\xff\xfe{\x00}", "not UTF-8 text"),
        (b'{"stbridge_dvp": 1, "trade"\x00: 1}', "holds NUL bytes"),
        (b'{"stbridge_dvp": 1, "trade": "01234', "is not JSON: Unterminated string"),
        (b"", "is not JSON: Expecting value"),
        (b"[" * 60_000, " is not "),  # too deep for the decoder, or truncated
        (b"[1, 2]", "an offer is a JSON object"),
        (b'{"stbridge_dvp": 1}', "trade: required"),
        (b" " * 70_000, "larger than 64 kB"),
    ],
)
def test_a_file_that_is_not_an_offer_is_one_input_error(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "offer.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        resolve(str(path))
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_the_address_parser_s_refusal_names_the_file_and_field(tmp_path: Path) -> None:
    from relayer.cli.common import parse_address

    raw = offer().to_json()
    raw["buyer"] = "0x71be63f3384f5fb98995898a86b02fb2426c57"  # two digits short
    path = tmp_path / "offer.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(InputError, match=rf"^{path}: buyer '0x71be.*' is not an address"):
        resolve(str(path), parse_address)
