// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMailbox} from "../interfaces/IMailbox.sol";

/// @notice The message tree of docs/protocol.md ("Message tree"): an incremental Merkle tree
/// of depth 32 as in the Eth2 deposit contract (a 32-slot branch and a count), and the
/// verifier of a range proof for consecutive leaves against a checkpoint root.
library MerkleLib {
    /// @notice Levels of the tree.
    uint256 internal constant DEPTH = 32;
    /// @notice Leaves the tree can hold: the count must fit the uint32 nonce (2^32 - 1).
    uint256 internal constant MAX_LEAVES = type(uint32).max;

    /// @notice The incremental tree: `branch[h]` is the root of the last complete left
    /// subtree of height h on the path of the next leaf; `count` leaves are in.
    struct Tree {
        bytes32[DEPTH] branch;
        uint256 count;
    }

    /// @notice Appends `leaf`; returns its index. Reverts with TreeFull past MAX_LEAVES.
    /// @dev The deposit contract's insert: climb while the new size is even, hashing the
    /// stored left siblings in; store the node at the first level where the size is odd.
    function insert(Tree storage tree, bytes32 leaf) internal returns (uint256 index) {
        index = tree.count;
        if (index >= MAX_LEAVES) revert IMailbox.TreeFull();
        uint256 size = index + 1;
        tree.count = size;
        bytes32 node = leaf;
        for (uint256 h; h < DEPTH; ++h) {
            if (size & 1 == 1) {
                tree.branch[h] = node;
                return index;
            }
            node = _hashPair(tree.branch[h], node);
            size >>= 1;
        }
        // Unreachable: size <= 2^32 - 1 has a set bit below bit 32.
        assert(false);
    }

    /// @notice The root of the tree, leaves at or past `count` being Z[0].
    function root(Tree storage tree) internal view returns (bytes32 node) {
        bytes32[DEPTH] memory zeros = zeroHashes();
        uint256 size = tree.count;
        for (uint256 h; h < DEPTH; ++h) {
            node = size & 1 == 1 ? _hashPair(tree.branch[h], node) : _hashPair(node, zeros[h]);
            size >>= 1;
        }
    }

    /// @notice Root of the range proof of docs/protocol.md ("Range proof"): `leaves` at
    /// positions start..start+leaves.length-1 of a tree whose last leaf is at `index`.
    /// Returns bytes32(0) when the range is empty or ends past `index`, or when the proof
    /// has too few or too many elements; the caller compares the result with a nonzero root.
    /// @dev Per level h: take a left sibling when the first position s is odd; take a right
    /// sibling when the last position e is even (Z[h], not from the proof, when it covers
    /// only leaves past `index`); then hash the nodes pairwise in place. While the range holds
    /// several nodes they live in one memory area with DEPTH free words before them (at most
    /// one left sibling is prepended per level); once one node is left it stays on the stack.
    /// Proof elements are read without a bounds check: reading past the end yields calldata
    /// or zeros, and such a proof is refused by the final count check.
    function rangeRoot(bytes32[] memory leaves, uint256 start, uint256 index, bytes32[] calldata proof)
        internal
        pure
        returns (bytes32 result)
    {
        uint256 n = leaves.length;
        if (n == 0 || start + n - 1 > index) return bytes32(0);
        bytes32[DEPTH] memory zeros = zeroHashes();
        uint256 used; // proof elements consumed
        assembly ("memory-safe") {
            let area := mload(0x40)
            let nodes := add(area, shl(5, DEPTH)) // address of the first node of the level
            mcopy(nodes, add(leaves, 0x20), shl(5, n))
            mstore(0x40, add(nodes, shl(5, add(n, 1)))) // the leaves and one right sibling
            let s := start // first position at level h
            let e := add(start, sub(n, 1)) // last position at level h
            let h := 0
            // Phase 1, while the range holds several nodes: hash them pairwise in memory.
            for {} and(lt(h, DEPTH), lt(s, e)) { h := add(h, 1) } {
                if and(s, 1) {
                    nodes := sub(nodes, 0x20)
                    mstore(nodes, calldataload(add(proof.offset, shl(5, used))))
                    used := add(used, 1)
                    s := sub(s, 1)
                }
                if iszero(and(e, 1)) {
                    let right := mload(add(zeros, shl(5, h))) // Z[h]
                    // The sibling covers leaves from (e + 1) << h (< 2^64, no overflow).
                    if iszero(gt(shl(h, add(e, 1)), index)) {
                        right := calldataload(add(proof.offset, shl(5, used)))
                        used := add(used, 1)
                    }
                    mstore(add(nodes, shl(5, add(sub(e, s), 1))), right)
                    e := add(e, 1)
                }
                // nodes[i] = keccak256(nodes[2i] ‖ nodes[2i+1]); slot i is written after
                // slots 2i and 2i+1 were read (i <= 2i).
                let pairs := shr(1, add(sub(e, s), 1))
                for { let i := 0 } lt(i, pairs) { i := add(i, 1) } {
                    mstore(add(nodes, shl(5, i)), keccak256(add(nodes, shl(6, i)), 0x40))
                }
                s := shr(1, s)
                e := shr(1, e)
            }
            // Phase 2, one node left (s = e): the same rule with the node on the stack and
            // each pair hashed in scratch space.
            let node := mload(nodes)
            for {} lt(h, DEPTH) { h := add(h, 1) } {
                switch and(s, 1)
                case 1 {
                    mstore(0x00, calldataload(add(proof.offset, shl(5, used))))
                    mstore(0x20, node)
                    used := add(used, 1)
                }
                default {
                    mstore(0x00, node)
                    switch gt(shl(h, add(s, 1)), index)
                    case 1 { mstore(0x20, mload(add(zeros, shl(5, h)))) } // Z[h]
                    default {
                        mstore(0x20, calldataload(add(proof.offset, shl(5, used))))
                        used := add(used, 1)
                    }
                }
                node := keccak256(0x00, 0x40)
                s := shr(1, s)
            }
            result := node
        }
        if (used != proof.length) return bytes32(0);
    }

    /// @notice Z[h], the root of an empty subtree of height h, for h = 0..31:
    /// Z[0] = 0, Z[h+1] = keccak256(Z[h] ‖ Z[h]) (checked against that rule in Merkle.t.sol).
    function zeroHashes() internal pure returns (bytes32[DEPTH] memory) {
        return [
            bytes32(0),
            0xad3228b676f7d3cd4284a5443f17f1962b36e491b30a40b2405849e597ba5fb5,
            0xb4c11951957c6f8f642c4af61cd6b24640fec6dc7fc607ee8206a99e92410d30,
            0x21ddb9a356815c3fac1026b6dec5df3124afbadb485c9ba5a3e3398a04b7ba85,
            0xe58769b32a1beaf1ea27375a44095a0d1fb664ce2dd358e7fcbfb78c26a19344,
            0x0eb01ebfc9ed27500cd4dfc979272d1f0913cc9f66540d7e8005811109e1cf2d,
            0x887c22bd8750d34016ac3c66b5ff102dacdd73f6b014e710b51e8022af9a1968,
            0xffd70157e48063fc33c97a050f7f640233bf646cc98d9524c6b92bcf3ab56f83,
            0x9867cc5f7f196b93bae1e27e6320742445d290f2263827498b54fec539f756af,
            0xcefad4e508c098b9a7e1d8feb19955fb02ba9675585078710969d3440f5054e0,
            0xf9dc3e7fe016e050eff260334f18a5d4fe391d82092319f5964f2e2eb7c1c3a5,
            0xf8b13a49e282f609c317a833fb8d976d11517c571d1221a265d25af778ecf892,
            0x3490c6ceeb450aecdc82e28293031d10c7d73bf85e57bf041a97360aa2c5d99c,
            0xc1df82d9c4b87413eae2ef048f94b4d3554cea73d92b0f7af96e0271c691e2bb,
            0x5c67add7c6caf302256adedf7ab114da0acfe870d449a3a489f781d659e8becc,
            0xda7bce9f4e8618b6bd2f4132ce798cdc7a60e7e1460a7299e3c6342a579626d2,
            0x2733e50f526ec2fa19a22b31e8ed50f23cd1fdf94c9154ed3a7609a2f1ff981f,
            0xe1d3b5c807b281e4683cc6d6315cf95b9ade8641defcb32372f1c126e398ef7a,
            0x5a2dce0a8a7f68bb74560f8f71837c2c2ebbcbf7fffb42ae1896f13f7c7479a0,
            0xb46a28b6f55540f89444f63de0378e3d121be09e06cc9ded1c20e65876d36aa0,
            0xc65e9645644786b620e2dd2ad648ddfcbf4a7e5b1a3a4ecfe7f64667a3f0b7e2,
            0xf4418588ed35a2458cffeb39b93d26f18d2ab13bdce6aee58e7b99359ec2dfd9,
            0x5a9c16dc00d6ef18b7933a6f8dc65ccb55667138776f7dea101070dc8796e377,
            0x4df84f40ae0c8229d0d6069e5c8f39a7c299677a09d367fc7b05e3bc380ee652,
            0xcdc72595f74c7b1043d0e1ffbab734648c838dfb0527d971b602bc216c9619ef,
            0x0abf5ac974a1ed57f4050aa510dd9c74f508277b39d7973bb2dfccc5eeb0618d,
            0xb8cd74046ff337f0a7bf2c8e03e10f642c1886798d71806ab1e888d9e5ee87d0,
            0x838c5655cb21c6cb83313b5a631175dff4963772cce9108188b34ac87c81c41e,
            0x662ee4dd2dd7b2bc707961b1e646c4047669dcb6584f0d8d770daf5d7e7deb2e,
            0x388ab20e2573d171a88108e79d820e98f26c0b84aa8b2f4aa4968dbb818ea322,
            0x93237c50ba75ee485f4c22adf2f741400bdf8d6a9cc7df7ecae576221665d735,
            0x8448818bb4ae4562849e949e17ac16e0be16688e156b5cf15e098c627c0056a9
        ];
    }

    /// @notice keccak256(left ‖ right) in scratch space.
    function _hashPair(bytes32 left, bytes32 right) private pure returns (bytes32 result) {
        assembly ("memory-safe") {
            mstore(0x00, left)
            mstore(0x20, right)
            result := keccak256(0x00, 0x40)
        }
    }
}
