// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice The distribution tree of docs/distributions.md, as relayer/distribution/merkle.py
/// builds it: leaves in the given order; each level pairs neighbours (node = keccak256 of the
/// two sorted ascending) and carries an odd last node up unchanged.
library SortedTree {
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            level = _up(level);
        }
        return level[0];
    }

    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory out) {
        bytes32[] memory tmp = new bytes32[](64);
        uint256 n;
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) tmp[n++] = level[sibling];
            level = _up(level);
            index /= 2;
        }
        out = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            out[i] = tmp[i];
        }
    }

    function _up(bytes32[] memory level) private pure returns (bytes32[] memory next) {
        next = new bytes32[]((level.length + 1) / 2);
        for (uint256 i; i < next.length; ++i) {
            uint256 l = 2 * i;
            if (l + 1 == level.length) {
                next[i] = level[l];
            } else {
                (bytes32 a, bytes32 b) = level[l] < level[l + 1] ? (level[l], level[l + 1]) : (level[l + 1], level[l]);
                next[i] = keccak256(abi.encodePacked(a, b));
            }
        }
    }
}
