"""The message tree: an incremental Merkle tree of depth 32, and range proofs.

The same rules as the mailbox contract (docs/protocol.md, "Message tree" and "Range
proof"): ``node = keccak256(left ‖ right)``, empty subtrees hash to the zero hashes,
and one proof covers a run of consecutive leaves against a checkpoint that holds
``index + 1`` leaves, with right siblings past the index left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from relayer.core.hashing import keccak256

DEPTH = 32
MAX_LEAVES = 2**DEPTH - 1


class ProofError(ValueError):
    """A proof that cannot be built or does not verify."""


def _zero_hashes() -> tuple[bytes, ...]:
    zeros = [b"\x00" * 32]
    for _ in range(DEPTH):
        zeros.append(keccak256(zeros[-1] + zeros[-1]))
    return tuple(zeros)


ZERO_HASHES: tuple[bytes, ...] = _zero_hashes()
"""ZERO_HASHES[h] is the root of an empty subtree of height h (h = 0..32)."""


def hash_pair(left: bytes, right: bytes) -> bytes:
    """The parent of two nodes."""
    return keccak256(left + right)


def verify_range(leaves: Sequence[bytes], start: int, index: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``leaves`` at positions ``start..`` lead to with ``proof``.

    Parameters
    ----------
    leaves :
        The consecutive leaves (message ids) at ``start``, ``start + 1``, ...
    start :
        The position of the first leaf.
    index :
        The checkpoint's index: the tree holds ``index + 1`` leaves.
    proof :
        Left and right siblings, level by level (docs/protocol.md).

    Returns
    -------
    bytes
        The computed root; compare it with the checkpoint's.

    Raises
    ------
    ProofError
        When the range is empty, passes the checkpoint index, or the proof has too
        few or too many elements.
    """
    if not leaves:
        raise ProofError("empty range")
    end = start + len(leaves) - 1
    if start < 0 or end > index or index > MAX_LEAVES:
        raise ProofError(f"range {start}..{end} is not within the checkpoint (index {index})")
    nodes = list(leaves)
    used = 0
    s, e = start, end
    for height in range(DEPTH):
        if s & 1:
            if used >= len(proof):
                raise ProofError("proof too short")
            nodes.insert(0, proof[used])
            used += 1
            s -= 1
        if not e & 1:
            if (e + 1) << height > index:
                nodes.append(ZERO_HASHES[height])
            else:
                if used >= len(proof):
                    raise ProofError("proof too short")
                nodes.append(proof[used])
                used += 1
            e += 1
        nodes = [hash_pair(nodes[i], nodes[i + 1]) for i in range(0, len(nodes), 2)]
        s >>= 1
        e >>= 1
    if used != len(proof):
        raise ProofError(f"proof has {len(proof) - used} unused element(s)")
    return nodes[0]


class MessageTree:
    """An origin's message tree, mirrored off-chain, that proves against any past checkpoint.

    The leaves, and every complete node from height KEPT_FROM up, are kept level by level
    in one ``bytearray`` per level (32 bytes a node): a million leaves cost 33 MB. A node
    of the few heights between is hashed again from its leaves when a proof asks for it
    (at most 2**KEPT_FROM - 1 hashes); appending needs only the last complete node of each
    of those heights, which the tree keeps.
    """

    __slots__ = ("_last", "_levels")

    KEPT_FROM = 5  # heights 1..4 (half the nodes of a full level set) are not kept

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray() for _ in range(DEPTH + 1)]
        self._last: list[bytes] = [b""] * self.KEPT_FROM  # last complete node, heights < KEPT_FROM

    @property
    def count(self) -> int:
        """The number of leaves."""
        return len(self._levels[0]) // 32

    def leaf(self, position: int) -> bytes:
        """The leaf at ``position``."""
        if not 0 <= position < self.count:
            raise ProofError(f"no leaf at {position} (count {self.count})")
        return bytes(self._levels[0][position * 32 : position * 32 + 32])

    def append(self, leaf: bytes) -> int:
        """Add a leaf; returns its position. Completes every parent the leaf closes."""
        if len(leaf) != 32:
            raise ProofError("a leaf is 32 bytes")
        position = self.count
        if position >= MAX_LEAVES:
            raise ProofError("the tree is full")
        self._levels[0] += leaf
        last, kept_from = self._last, self.KEPT_FROM
        node, p = leaf, position
        for height in range(DEPTH):
            if height < kept_from:
                if not p & 1:
                    last[height] = node
                    break
                node = hash_pair(last[height], node)
            else:
                if not p & 1:
                    break
                node = hash_pair(self._complete(height, p - 1), node)
            p >>= 1
            if height + 1 >= kept_from:
                self._levels[height + 1] += node
        return position

    def _complete(self, height: int, position: int) -> bytes:
        if height == 0 or height >= self.KEPT_FROM:
            level = self._levels[height]
            return bytes(level[position * 32 : position * 32 + 32])
        return hash_pair(
            self._complete(height - 1, 2 * position), self._complete(height - 1, 2 * position + 1)
        )

    def node(self, height: int, position: int, count: int) -> bytes:
        """The node at ``height``/``position`` of the tree as it was with ``count`` leaves."""
        first = position << height
        if first >= count:
            return ZERO_HASHES[height]
        if (position + 1) << height <= count:
            return self._complete(height, position)
        left = self.node(height - 1, 2 * position, count)
        right = self.node(height - 1, 2 * position + 1, count)
        return hash_pair(left, right)

    def root(self, count: int | None = None) -> bytes:
        """The root with ``count`` leaves (default: all of them)."""
        count = self.count if count is None else count
        if not 0 <= count <= self.count:
            raise ProofError(f"the tree has {self.count} leaves, not {count}")
        return self.node(DEPTH, 0, count)

    def range_proof(self, start: int, end: int, index: int) -> list[bytes]:
        """The proof of leaves ``start..end`` against the checkpoint at ``index``.

        Raises ProofError when the range is empty or not within ``0..index``, or the
        tree does not yet hold ``index + 1`` leaves.
        """
        if not 0 <= start <= end <= index:
            raise ProofError(f"range {start}..{end} is not within the checkpoint (index {index})")
        if index >= self.count:
            raise ProofError(f"checkpoint index {index} is past the tree's {self.count} leaves")
        count = index + 1
        proof: list[bytes] = []
        s, e = start, end
        for height in range(DEPTH):
            if s & 1:
                proof.append(self.node(height, s - 1, count))
                s -= 1
            if not e & 1:
                if (e + 1) << height <= index:
                    proof.append(self.node(height, e + 1, count))
                e += 1
            s >>= 1
            e >>= 1
        return proof

    def truncate(self, count: int) -> None:
        """Forget every leaf at or past ``count`` (after a reorg of the origin)."""
        if not 0 <= count <= self.count:
            raise ProofError(f"cannot truncate {self.count} leaves to {count}")
        for height in range(DEPTH + 1):
            keep = count >> height
            del self._levels[height][keep * 32 :]
        for height in range(self.KEPT_FROM):
            complete = count >> height
            self._last[height] = self._complete(height, complete - 1) if complete else b""


def naive_root(leaves: Sequence[bytes]) -> bytes:
    """The root by hashing the full tree level by level: the reference for tests."""
    nodes = list(leaves)
    for height in range(DEPTH):
        if len(nodes) % 2:
            nodes.append(ZERO_HASHES[height])
        nodes = [hash_pair(nodes[i], nodes[i + 1]) for i in range(0, len(nodes), 2)]
        if not nodes:
            nodes = [ZERO_HASHES[height + 1]]
    return nodes[0]
