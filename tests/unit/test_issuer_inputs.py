"""What people type: addresses, amounts, countries, dates, durations, investor ids, cuts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relayer.countries import all_countries, by_numeric, describe, lookup
from relayer.errors import InputError
from relayer.inputs import (
    CutSpec,
    address_problem,
    format_amount,
    format_expiry,
    format_investor_id,
    format_tokens,
    parse_address,
    parse_amount,
    parse_countries,
    parse_country,
    parse_cut,
    parse_decimal,
    parse_expiry,
    parse_investor_id,
    parse_lockup,
    parse_optional_limit,
    scale_amount,
)

NOW = int(datetime(2026, 6, 15, 12, 0, tzinfo=UTC).timestamp())
DEBIAN_ISO = Path("/usr/share/iso-codes/json/iso_3166-1.json")


def _one_line(exc: pytest.ExceptionInfo[InputError]) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


@pytest.mark.parametrize("text", ["DE", "de", " De ", "DEU", "deu", "276", "0276"[1:]])
def test_germany_written_every_way(text: str) -> None:
    assert parse_country(text) == 276


def test_numeric_codes_keep_or_drop_leading_zeros() -> None:
    assert parse_country("040") == parse_country("40") == parse_country("AT") == 40
    assert parse_country("4") == parse_country("AFG") == 4


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("XX", "alpha-2"),
        ("XXX", "alpha-3"),
        ("0", "not an assigned"),
        ("1000", "1 to 999"),
        ("999", "not an assigned"),
        ("D", "not a country code"),
        ("DEUT", "not a country code"),
        ("D3", "not a country code"),
        ("", "a country is needed"),
        ("-276", "not a country code"),
    ],
)
def test_bad_country_is_one_line(text: str, says: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_country(text)
    assert says in _one_line(exc)


def test_country_lists_parse_and_deduplicate() -> None:
    assert parse_countries("DE, fra,276,040") == [276, 250, 40]
    with pytest.raises(InputError):
        parse_countries(" , ")
    with pytest.raises(InputError) as exc:
        parse_countries("DE,ZZ")
    assert "'ZZ'" in _one_line(exc)


def test_table_is_consistent() -> None:
    countries = all_countries()
    assert len(countries) == 249
    for field in ("numeric", "alpha2", "alpha3"):
        values = [getattr(c, field) for c in countries]
        assert len(set(values)) == len(values), field
    for c in countries:
        assert 1 <= c.numeric <= 999
        assert lookup(c.alpha2) == lookup(c.alpha3) == lookup(str(c.numeric)) == c
    assert by_numeric(999) is None
    assert describe(276) == "DE (276)"
    assert describe(999) == "999"


@pytest.mark.skipif(not DEBIAN_ISO.exists(), reason="Debian's iso-codes is not installed")
def test_table_matches_debian_iso_codes() -> None:
    published = json.loads(DEBIAN_ISO.read_text())["3166-1"]
    ours = {c.alpha2: (c.numeric, c.alpha3) for c in all_countries()}
    theirs = {c["alpha_2"]: (int(c["numeric"]), c["alpha_3"]) for c in published}
    assert ours == theirs


def test_a_date_means_through_the_end_of_that_day_utc() -> None:
    end_of_2027 = int(datetime(2028, 1, 1, tzinfo=UTC).timestamp())
    assert parse_expiry("2027-12-31", NOW) == end_of_2027
    assert format_expiry(end_of_2027) == "through 2027-12-31"


def test_date_times_and_offsets() -> None:
    assert parse_expiry("2027-12-31T18:00:00Z", NOW) == int(
        datetime(2027, 12, 31, 18, tzinfo=UTC).timestamp()
    )
    assert parse_expiry("2027-12-31T18:00:00+02:00", NOW) == int(
        datetime(2027, 12, 31, 16, tzinfo=UTC).timestamp()
    )
    assert parse_expiry("2027-12-31T18:00", NOW) == int(  # no offset: UTC
        datetime(2027, 12, 31, 18, tzinfo=UTC).timestamp()
    )
    assert parse_expiry("@1830000000", NOW) == 1830000000


@pytest.mark.parametrize(
    ("text", "seconds"), [("365d", 365 * 86400), ("12h", 43200), ("2w", 1209600)]
)
def test_durations_count_from_now(text: str, seconds: int) -> None:
    assert parse_expiry(text, NOW) == NOW + seconds


@pytest.mark.parametrize("text", ["2020-01-01", "2026-06-14", "2026-06-15T11:59:59Z", "@100"])
def test_past_expiry_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_expiry(text, NOW)
    line = _one_line(exc)
    assert "in the past" in line
    assert repr(text) in line


def test_today_is_still_valid_until_midnight() -> None:
    assert parse_expiry("2026-06-15", NOW) == int(datetime(2026, 6, 16, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2027-02-30", "not a calendar date"),
        ("31.12.2027", "not a date"),
        ("next year", "not a date"),
        ("0d", "zero"),
        ("", "not a date"),
    ],
)
def test_bad_dates_are_one_line(text: str, says: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_expiry(text, NOW)
    assert says in _one_line(exc)


def test_lockup_none_lifts_and_past_is_refused() -> None:
    assert parse_lockup("none", NOW) == 0
    assert parse_lockup("0", NOW) == 0
    assert parse_lockup("90d", NOW) == NOW + 90 * 86400
    with pytest.raises(InputError) as exc:
        parse_lockup("2020-01-01", NOW)
    assert "lock-up" in _one_line(exc)


def test_investor_ids_as_labels_or_hex() -> None:
    label = parse_investor_id("INV-0042")
    assert label == b"INV-0042".ljust(32, b"\x00")
    assert format_investor_id(label) == "INV-0042"
    raw = bytes(range(1, 33))
    assert parse_investor_id("0x" + raw.hex()) == raw
    assert format_investor_id(raw) == "0x" + raw.hex()
    assert parse_investor_id("x" * 32) == b"x" * 32


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0x" + "00" * 32, "zero"),
        ("0x" + "zz" * 32, "not hex"),
        ("x" * 33, "longer than 32 bytes"),
        ("two words", "without spaces"),
        ("", "without spaces"),
    ],
)
def test_bad_investor_ids(text: str, says: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_investor_id(text)
    assert says in _one_line(exc)


def test_limits() -> None:
    assert parse_optional_limit("none", "max holders") == 0
    assert parse_optional_limit("1000", "max holders") == 1000
    for written in ("1_000", "1,000", "1 000"):  # one or a thousand, by the reader's locale
        with pytest.raises(InputError, match="has a separator: write the digits only"):
            parse_optional_limit(written, "max holders")
    with pytest.raises(InputError):
        parse_optional_limit("-5", "max holders")
    with pytest.raises(InputError):
        parse_optional_limit("2.5", "max holders")


def test_cut_by_blocks_or_by_time() -> None:
    chains = ["a", "b"]
    assert parse_cut([], chains) == CutSpec()
    assert parse_cut(["a:120", "b:7"], chains) == CutSpec(blocks={"a": 120, "b": 7})
    end_of_day = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp()) - 1
    assert parse_cut(["2026-12-31"], chains) == CutSpec(at_time=end_of_day)
    assert parse_cut(["2026-12-31T10:00:00Z"], chains).at_time == int(
        datetime(2026, 12, 31, 10, tzinfo=UTC).timestamp()
    )
    assert parse_cut(["@1700000000"], chains).at_time == 1700000000


@pytest.mark.parametrize(
    ("values", "says"),
    [
        (["c:5"], "unknown chain 'c'"),
        (["a:x"], "whole number"),
        (["a:1", "a:2"], "twice"),
        (["a:1", "2026-01-01"], "not both"),
        (["2026-01-01", "2026-01-02"], "one time"),
        (["yesterday"], "not a date"),
    ],
)
def test_bad_cuts(values: list[str], says: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_cut(values, ["a", "b"])
    assert says in _one_line(exc)


# --- addresses and amounts -------------------------------------------------------

RIGHT = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"  # EIP-55 checksummed
TYPO = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9956"  # one digit off: the checksum fails


def test_a_checksummed_address_is_taken_as_written() -> None:
    assert parse_address(RIGHT, "recipient") == RIGHT
    assert parse_address(f"  {RIGHT}\n", "recipient") == RIGHT


@pytest.mark.parametrize("written", [RIGHT.lower(), "0x" + RIGHT[2:].upper()])
def test_one_case_carries_no_checksum_and_is_accepted(written: str) -> None:
    assert parse_address(written, "wallet") == RIGHT


@pytest.mark.parametrize(
    "typo",
    [
        TYPO,  # a digit mistyped in a checksummed address
        "0x14Dc79964da2C08b23698B3D3cc7Ca32193d9955",  # the case of one letter swapped
    ],
)
def test_a_bad_checksum_is_refused_in_one_line(typo: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_address(typo, "recipient")
    assert _one_line(exc) == (
        f"recipient {typo} has a bad EIP-55 checksum (a typo?); check it, or write it all "
        "lower-case"
    )
    assert address_problem(typo) is not None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0x1234", "is not an address (0x followed by 40 hex digits)"),
        (RIGHT[2:], "is not an address"),
        (RIGHT + "0", "is not an address"),
        ("0x" + "g" * 40, "is not an address"),
        ("alice.eth", "is not an address"),
        ("", "is not an address"),
        ("0x" + "0" * 40, "is the zero address"),
    ],
)
def test_bad_addresses(text: str, says: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_address(text, "wallet")
    assert says in _one_line(exc)


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [
        ("10", 18, 10 * 10**18),
        ("2.5", 6, 2_500_000),
        (" 0.5 ", 6, 500_000),
        (".5", 6, 500_000),
        ("1.50", 1, 15),  # trailing zeros past the decimals are exact
        ("0.000001", 6, 1),
        ("7", 0, 7),
        # exact far beyond 28 significant digits (Decimal's default precision)
        ("123456789012345.123456789012345678", 18, 123456789012345123456789012345678),
    ],
)
def test_amounts_as_written(text: str, decimals: int, units: int) -> None:
    assert parse_amount(text, decimals) == units


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "1,5",
            "amount '1,5' has a separator: write 1.5 or 1000.5 (a dot for decimals, no separators)",
        ),
        ("1,000", "has a separator"),
        ("1_000", "has a separator"),
        ("1 000", "has a separator"),
        ("1'000", "has a separator"),
        ("1\u202f000", "has a separator"),
        ("1e3", "amount '1e3' has an exponent: write the number out (1000)"),
        ("2.5E2", "write the number out (250)"),
        ("1e-30", "has an exponent"),
        ("-1", "amount '-1' is negative: give a positive number"),
        ("\u22121", "is negative"),
        ("+5", "amount '+5' has a sign: write it without the '+'"),
        ("0", "amount '0' is zero"),
        ("0.000", "is zero"),
        ("", "amount is empty: give token units like 10 or 2.5"),
        ("   ", "amount is empty"),
        ("NaN", "amount 'NaN' is not a number"),
        ("Infinity", "is not a number"),
        ("inf", "is not a number"),
        ("0x10", "amount '0x10' is hex: write token units in decimal"),
        ("1.2.3", "is not a number"),
        ("ten", "is not a number"),
        ("\u0661", "is not a number"),  # an Arabic-Indic digit: Decimal would take it
        ("0.0000001", "amount '0.0000001' has more than 6 decimal places"),
        ("1" * 80, "is too large"),
    ],
)
def test_amounts_refused_with_the_way_to_write_them(text: str, says: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_amount(text, 6)
    assert says in _one_line(exc)


def test_the_syntax_is_checked_without_decimals() -> None:
    """What a command checks before it knows the token (nothing read yet)."""
    assert scale_amount(parse_decimal("2.5"), 6) == 2_500_000
    with pytest.raises(InputError, match="has a separator"):
        parse_decimal("1,5", "--price")


@pytest.mark.parametrize(
    ("units", "decimals", "shown"),
    [
        (3441 * 10**18, 18, "3,441"),
        (2_499_999_999, 6, "2,499.999999"),
        (10**30 + 1, 18, "1,000,000,000,000.000000000000000001"),
        (0, 6, "0"),
        (-(5 * 10**18 + 1), 18, "-5.000000000000000001"),
        (1234567, 0, "1,234,567"),
    ],
)
def test_amounts_shown_in_token_units_exactly(units: int, decimals: int, shown: str) -> None:
    assert format_amount(units, decimals) == shown
    assert format_tokens(units, decimals, "ACME") == f"{shown} ACME"
