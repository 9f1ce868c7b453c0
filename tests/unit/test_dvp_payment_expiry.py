"""The payment leg's expiry against the payment chain's own clock, before anything is locked.

``T_B`` is fixed from the asset chain's time; two chains' clocks differ (a node restored
from a snapshot or state file runs behind). When the payment chain is already past
``T_B`` (or within the window), the buyer hears it in one line instead of a revert.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from relayer.dvp.actions import TradeRefused, _check_payment_expiry


@dataclass
class _Header:
    timestamp: int


class _Rpc:
    def __init__(self, now: int) -> None:
        self.now = now

    async def block(self, number: int | str) -> _Header:
        assert number == "latest"
        return _Header(self.now)


class _Session:
    def __init__(self, now: int) -> None:
        self._rpc = _Rpc(now)

    def rpc(self, chain: str) -> _Rpc:
        assert chain == "b"
        return self._rpc


def _check(now: int, expiry: int, window: int) -> None:
    session: Any = _Session(now)
    asyncio.run(_check_payment_expiry(session, "b", expiry, window))


def test_an_expiry_ahead_of_the_payment_chain_passes() -> None:
    _check(now=1_000, expiry=1_010, window=10)


@pytest.mark.parametrize(
    ("now", "expiry", "said"),
    [
        (1_000, 990, "its expiry 990 is 10 s before chain b's time 1000"),
        (1_000, 1_005, "its expiry 1005 is 5 s after chain b's time 1000"),
    ],
)
def test_an_expiry_the_payment_chain_has_passed_is_one_line(
    now: int, expiry: int, said: str
) -> None:
    with pytest.raises(TradeRefused) as refused:
        _check(now=now, expiry=expiry, window=10)
    line = str(refused.value)
    assert line.startswith("the payment leg would expire before it is mined: ")
    assert said in line and "\n" not in line
    assert "longer --expires-in" in line
