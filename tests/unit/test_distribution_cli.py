"""Distribution and vote inputs refused in one line before any chain is reached."""

from __future__ import annotations

import pytest

from relayer.cli import main


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["distribution", "declare", "--token", "ACME", "--record-date", "31/03/2027",
          "--amount", "1"], "not a date"),
        (["vote", "open", "--token", "ACME", "--record-date", "2027-03-31", "--closes", "14d",
          "--question", "Merge?", "--options", "yes"], "two or more distinct options"),
        (["vote", "open", "--token", "ACME", "--record-date", "2027-03-31", "--closes", "14d",
          "--question", "Merge?", "--options", "yes,yes"], "two or more distinct options"),
    ],
)  # fmt: skip
def test_refused_in_one_line(argv: list[str], said: str, capfd: pytest.CaptureFixture[str]) -> None:
    code = main(argv)
    _out, err = capfd.readouterr()
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and said in lines[0], err
