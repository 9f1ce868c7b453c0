"""The two-chain systems the integration tests share, one per backend and session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from chains.anvil import find_anvil
from tests.integration.system import System, start_system, stop_system


def _backends() -> list[object]:
    return [pytest.param("anvil", marks=pytest.mark.anvil), "pyevm"]


@pytest.fixture(scope="session", params=_backends())
def system(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    """A devnet (anvil or the embedded node) with stbridge deployed and onboarded."""
    backend = request.param
    if backend == "anvil" and find_anvil() is None:
        pytest.skip("anvil is not installed here (npm ci installs it); anvil tests skipped")
    previous = os.environ.get("STBRIDGE_HOME")
    built = start_system(backend, tmp_path_factory.mktemp(f"system-{backend}"))
    try:
        yield built
    finally:
        stop_system(built)
        if previous is None:
            os.environ.pop("STBRIDGE_HOME", None)
        else:
            os.environ["STBRIDGE_HOME"] = previous
