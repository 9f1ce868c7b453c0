// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice A reference of the message tree written straight from docs/protocol.md, level by
/// level (no incremental branch, no constants, no assembly), to check MerkleLib against and
/// to build the range proofs the relayer would build.
library MerkleReference {
    uint256 internal constant DEPTH = 32;

    /// @notice A range or index the tree of `count` leaves does not hold.
    error BadRange(uint256 start, uint256 end, uint256 index, uint256 count);

    /// @notice Z[0..DEPTH]: Z[0] = 0, Z[h+1] = keccak256(Z[h] ‖ Z[h]).
    function zeros() internal pure returns (bytes32[] memory z) {
        z = new bytes32[](DEPTH + 1);
        for (uint256 h; h < DEPTH; ++h) {
            z[h + 1] = keccak256(abi.encodePacked(z[h], z[h]));
        }
    }

    /// @notice Every level of the tree holding leaves[0..index]: levels[h] has the
    /// (index >> h) + 1 nodes that cover at least one leaf; levels[DEPTH] is the root.
    function levels(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[][] memory lv) {
        if (index >= leaves.length) revert BadRange(0, 0, index, leaves.length);
        bytes32[] memory z = zeros();
        lv = new bytes32[][](DEPTH + 1);
        lv[0] = new bytes32[](index + 1);
        for (uint256 i; i <= index; ++i) {
            lv[0][i] = leaves[i];
        }
        for (uint256 h; h < DEPTH; ++h) {
            bytes32[] memory below = lv[h];
            bytes32[] memory above = new bytes32[]((below.length + 1) / 2);
            for (uint256 j; j < above.length; ++j) {
                bytes32 right = 2 * j + 1 < below.length ? below[2 * j + 1] : z[h];
                above[j] = keccak256(abi.encodePacked(below[2 * j], right));
            }
            lv[h + 1] = above;
        }
    }

    /// @notice The root of the tree holding leaves[0..index].
    function root(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32) {
        return levels(leaves, index)[DEPTH][0];
    }

    /// @notice The range proof of docs/protocol.md for leaves start..end against the tree
    /// holding leaves[0..index]: per level, the left sibling when the first position is odd,
    /// then the right sibling when the last is even and it covers a leaf at or below index.
    function rangeProof(bytes32[] memory leaves, uint256 start, uint256 end, uint256 index)
        internal
        pure
        returns (bytes32[] memory proof)
    {
        if (start > end || end > index) revert BadRange(start, end, index, leaves.length);
        bytes32[][] memory lv = levels(leaves, index);
        proof = new bytes32[](2 * DEPTH);
        uint256 used;
        uint256 s = start;
        uint256 e = end;
        for (uint256 h; h < DEPTH; ++h) {
            if (s % 2 == 1) {
                proof[used++] = lv[h][s - 1];
                s -= 1;
            }
            if (e % 2 == 0) {
                if ((e + 1) * 2 ** h <= index) proof[used++] = lv[h][e + 1];
                e += 1;
            }
            s /= 2;
            e /= 2;
        }
        assembly {
            mstore(proof, used)
        }
    }

    /// @notice leaves[start..end] as an array.
    function slice(bytes32[] memory leaves, uint256 start, uint256 end) internal pure returns (bytes32[] memory out) {
        out = new bytes32[](end - start + 1);
        for (uint256 i; i < out.length; ++i) {
            out[i] = leaves[start + i];
        }
    }

    /// @notice `count` distinct pseudo-random leaves derived from `seed`.
    function makeLeaves(uint256 seed, uint256 count) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](count);
        for (uint256 i; i < count; ++i) {
            leaves[i] = keccak256(abi.encode("stbridge.leaf", seed, i));
        }
    }
}
