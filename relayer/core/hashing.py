"""keccak256, as fast as this machine allows (pysha3's C code, else eth-hash)."""

from __future__ import annotations

from collections.abc import Callable

try:  # safe-pysha3 (eth-hash[pysha3]): ~4x faster than pycryptodome per call
    from sha3 import keccak_256 as _keccak_256

    def keccak256(data: bytes) -> bytes:
        """The Keccak-256 digest of ``data`` (Ethereum's hash)."""
        return _keccak_256(data).digest()

except ImportError:  # pragma: no cover - depends on the installed backend
    from eth_hash.auto import keccak as _eth_keccak

    _fallback: Callable[[bytes], bytes] = _eth_keccak

    def keccak256(data: bytes) -> bytes:
        """The Keccak-256 digest of ``data`` (Ethereum's hash)."""
        return _fallback(data)
