"""The distribution tree (docs/distributions.md), as contracts/src/libs/DistributionLib.sol
hashes leaves and OpenZeppelin's MerkleProof verifies them.

Leaf: keccak256("STBRIDGE-DIST-LEAF" ‖ domain uint32 ‖ id uint64 ‖ holder address ‖ gross
uint256 ‖ withheld uint256), 138 packed bytes: never a message (those start with version
byte 1) and never an inner node (64 bytes). Inner node: keccak256 of the two children sorted
ascending; each level pairs neighbours and carries an odd last node up unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from relayer.core.hashing import keccak256

LEAF_PREFIX = b"STBRIDGE-DIST-LEAF"


def leaf_hash(domain: int, distribution_id: int, holder: str, gross: int, withheld: int) -> bytes:
    """The leaf of ``holder`` in ``domain``'s tree of distribution ``distribution_id``."""
    return keccak256(
        LEAF_PREFIX
        + domain.to_bytes(4, "big")
        + distribution_id.to_bytes(8, "big")
        + bytes.fromhex(holder.lower().removeprefix("0x"))
        + gross.to_bytes(32, "big")
        + withheld.to_bytes(32, "big")
    )


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak256(a + b) if a < b else keccak256(b + a)


@dataclass(frozen=True)
class Tree:
    """All levels of a tree over ``leaves`` (level 0) up to the root."""

    levels: tuple[tuple[bytes, ...], ...]

    @classmethod
    def build(cls, leaves: Sequence[bytes]) -> Tree:
        if not leaves:
            raise ValueError("a tree needs at least one leaf")
        levels = [tuple(leaves)]
        while len(levels[-1]) > 1:
            level = levels[-1]
            up = tuple(
                _pair(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                for i in range(0, len(level), 2)
            )
            levels.append(up)
        return cls(tuple(levels))

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def proof(self, index: int) -> list[bytes]:
        """The siblings from leaf ``index`` up (a carried-up node has none at its level)."""
        out: list[bytes] = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                out.append(level[sibling])
            index //= 2
        return out


def verify(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    """OpenZeppelin's MerkleProof.verify."""
    node = leaf
    for sibling in proof:
        node = _pair(node, sibling)
    return node == root
