// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMailbox} from "../src/interfaces/IMailbox.sol";
import {MerkleLib} from "../src/libs/MerkleLib.sol";
import {MerkleHarness} from "./utils/Harnesses.sol";
import {MerkleReference} from "./utils/MerkleReference.sol";
import {Vm, VM} from "./utils/Vm.sol";

/// @notice MerkleLib against the level-by-level reference: the incremental tree's root and
/// the range-proof verifier. Each fuzz test has boundary tests beside it.
contract MerkleTest {
    Vm internal constant vm = VM;
    uint256 internal constant MAX_COUNT = 300;

    MerkleHarness internal tree;

    function setUp() public {
        tree = new MerkleHarness();
    }

    // ------------------------------------------------------------------- zero hashes

    function test_zeroHashes_followTheRule() public view {
        bytes32[32] memory z = tree.zeroHashes();
        bytes32[] memory expected = MerkleReference.zeros();
        for (uint256 h; h < 32; ++h) {
            vm.assertEq(z[h], expected[h], "Z[h]");
        }
    }

    function test_root_emptyTreeIsZ32() public view {
        vm.assertEq(tree.root(), MerkleReference.zeros()[32], "empty root");
    }

    // ------------------------------------------------------------ incremental tree root

    function test_fuzz_root_matchesReference(uint256 seed, uint256 count) public {
        count = _bound(count, 1, MAX_COUNT);
        bytes32[] memory leaves = _fill(seed, count);
        vm.assertEq(tree.root(), MerkleReference.root(leaves, count - 1), "root");
    }

    function test_root_boundaryCounts() public {
        bytes32[] memory leaves = MerkleReference.makeLeaves(7, 64);
        uint256[8] memory checkAt = [uint256(1), 2, 3, 7, 8, 9, 33, 64];
        uint256 k;
        for (uint256 i; i < leaves.length; ++i) {
            vm.assertEq(tree.insert(leaves[i]), i, "insert returns the index");
            if (i + 1 == checkAt[k]) {
                vm.assertEq(tree.root(), MerkleReference.root(leaves, i), "root at a boundary count");
                if (k < checkAt.length - 1) ++k;
            }
        }
    }

    function test_insert_refusesPastMaxLeaves() public {
        tree.insert(bytes32(uint256(1)));
        vm.store(address(tree), bytes32(uint256(32)), bytes32(MerkleLib.MAX_LEAVES - 1)); // count: slot 32
        vm.assertEq(tree.insert(bytes32(uint256(2))), MerkleLib.MAX_LEAVES - 1, "the last leaf fits");
        vm.expectRevert(IMailbox.TreeFull.selector);
        tree.insert(bytes32(uint256(3)));
    }

    // ------------------------------------------------------------------- range proofs

    function test_fuzz_rangeProof_verifies(uint256 seed, uint256 count, uint256 start, uint256 end, uint256 index)
        public
        view
    {
        (bytes32[] memory leaves, uint256 s, uint256 e, uint256 idx) = _range(seed, count, start, end, index);
        _assertVerifies(leaves, s, e, idx);
    }

    function test_fuzz_rangeProof_anyBitFlipFails(
        uint256 seed,
        uint256 count,
        uint256 start,
        uint256 end,
        uint256 index,
        uint256 where,
        uint8 bit
    ) public view {
        (bytes32[] memory leaves, uint256 s, uint256 e, uint256 idx) = _range(seed, count, start, end, index);
        bytes32 root = MerkleReference.root(leaves, idx);
        bytes32[] memory range = MerkleReference.slice(leaves, s, e);
        bytes32[] memory proof = MerkleReference.rangeProof(leaves, s, e, idx);
        bytes32 flip = bytes32(uint256(1) << bit);
        where = where % (range.length + proof.length + 1);
        if (where < range.length) {
            range[where] ^= flip;
        } else if (where < range.length + proof.length) {
            proof[where - range.length] ^= flip;
        } else {
            root ^= flip;
        }
        vm.assertNotEq(tree.rangeRoot(range, s, idx, proof), root, "a flipped bit must not verify");
    }

    function test_fuzz_rangeProof_otherPositionFails(
        uint256 seed,
        uint256 count,
        uint256 start,
        uint256 end,
        uint256 shift
    ) public view {
        (bytes32[] memory leaves, uint256 s, uint256 e, uint256 idx) = _range(seed, count, start, end, count);
        shift = _bound(shift, 1, idx + 1);
        uint256 other = (s + shift) % (idx + 1); // another start that keeps the range in the tree, or fails
        vm.assume(other != s);
        bytes32[] memory range = MerkleReference.slice(leaves, s, e);
        bytes32[] memory proof = MerkleReference.rangeProof(leaves, s, e, idx);
        vm.assertNotEq(tree.rangeRoot(range, other, idx, proof), MerkleReference.root(leaves, idx), "moved range");
    }

    function test_rangeProof_boundaries() public view {
        bytes32[] memory leaves = MerkleReference.makeLeaves(3, 100);
        // count = 1: the only leaf
        _assertVerifies(leaves, 0, 0, 0);
        // first leaf, last leaf at the checkpoint index, both ends
        _assertVerifies(leaves, 0, 0, 99);
        _assertVerifies(leaves, 99, 99, 99);
        _assertVerifies(leaves, 0, 99, 99);
        // a checkpoint below the last leaf: the leaves past it are not in that tree
        _assertVerifies(leaves, 10, 20, 20);
        _assertVerifies(leaves, 10, 20, 63);
        // whole power-of-two subtrees, alone and inside larger trees
        _assertVerifies(leaves, 0, 31, 31);
        _assertVerifies(leaves, 32, 63, 63);
        _assertVerifies(leaves, 8, 15, 15);
        _assertVerifies(leaves, 8, 15, 99);
        _assertVerifies(leaves, 64, 95, 99);
        // ranges that straddle subtrees, odd and even ends
        _assertVerifies(leaves, 7, 8, 99);
        _assertVerifies(leaves, 31, 64, 99);
        _assertVerifies(leaves, 1, 98, 99);
    }

    function test_rangeProof_sizeIsLogarithmic() public pure {
        bytes32[] memory leaves = MerkleReference.makeLeaves(4, 256);
        // A single leaf of a 256-leaf tree: 8 siblings, not 32.
        if (MerkleReference.rangeProof(leaves, 77, 77, 255).length != 8) revert ProofTooLong();
        // A range's proof holds at most two siblings per level below the tree's height.
        if (MerkleReference.rangeProof(leaves, 3, 200, 255).length > 16) revert ProofTooLong();
    }

    function test_rangeProof_refusesExtraOrMissingElements() public view {
        bytes32[] memory leaves = MerkleReference.makeLeaves(5, 40);
        bytes32 root = MerkleReference.root(leaves, 39);
        bytes32[] memory range = MerkleReference.slice(leaves, 5, 9);
        bytes32[] memory proof = MerkleReference.rangeProof(leaves, 5, 9, 39);
        vm.assertEq(tree.rangeRoot(range, 5, 39, proof), root, "the proof itself verifies");

        bytes32[] memory longer = new bytes32[](proof.length + 1);
        for (uint256 i; i < proof.length; ++i) {
            longer[i] = proof[i];
        }
        vm.assertEq(tree.rangeRoot(range, 5, 39, longer), bytes32(0), "an extra element");
        bytes32[] memory shorter = new bytes32[](proof.length - 1);
        for (uint256 i; i < shorter.length; ++i) {
            shorter[i] = proof[i];
        }
        vm.assertEq(tree.rangeRoot(range, 5, 39, shorter), bytes32(0), "a missing element");
        vm.assertEq(tree.rangeRoot(range, 5, 39, new bytes32[](0)), bytes32(0), "no proof");
    }

    function test_rangeProof_refusesEmptyRangeOrPastIndex() public view {
        bytes32[] memory leaves = MerkleReference.makeLeaves(6, 8);
        bytes32[] memory proof = MerkleReference.rangeProof(leaves, 0, 0, 7);
        vm.assertEq(tree.rangeRoot(new bytes32[](0), 0, 7, proof), bytes32(0), "empty range");
        vm.assertEq(tree.rangeRoot(MerkleReference.slice(leaves, 6, 7), 6, 6, proof), bytes32(0), "past the index");
    }

    function test_rangeProof_anotherLeafAtThePositionFails() public view {
        // Nomad: a leaf that is not in the tree, with the proof of the one that is.
        bytes32[] memory leaves = MerkleReference.makeLeaves(8, 16);
        bytes32[] memory proof = MerkleReference.rangeProof(leaves, 4, 4, 15);
        bytes32[] memory fake = new bytes32[](1);
        fake[0] = keccak256("not in the tree");
        vm.assertNotEq(tree.rangeRoot(fake, 4, 15, proof), MerkleReference.root(leaves, 15), "fake leaf");
        fake[0] = bytes32(0); // an empty leaf is not a message either
        vm.assertNotEq(tree.rangeRoot(fake, 4, 15, proof), MerkleReference.root(leaves, 15), "zero leaf");
    }

    // ------------------------------------------------------------------------ helpers

    /// @notice Thrown by the pure size test.
    error ProofTooLong();

    function _assertVerifies(bytes32[] memory leaves, uint256 s, uint256 e, uint256 idx) internal view {
        bytes32[] memory proof = MerkleReference.rangeProof(leaves, s, e, idx);
        bytes32 got = tree.rangeRoot(MerkleReference.slice(leaves, s, e), s, idx, proof);
        vm.assertEq(got, MerkleReference.root(leaves, idx), "range proof verifies");
    }

    /// @notice A random tree of 1..MAX_COUNT leaves, a range start..end in it and a checkpoint
    /// index at or after end.
    function _range(uint256 seed, uint256 count, uint256 start, uint256 end, uint256 index)
        internal
        pure
        returns (bytes32[] memory leaves, uint256 s, uint256 e, uint256 idx)
    {
        count = _bound(count, 1, MAX_COUNT);
        leaves = MerkleReference.makeLeaves(seed, count);
        s = _bound(start, 0, count - 1);
        e = _bound(end, s, count - 1);
        idx = _bound(index, e, count - 1);
    }

    function _fill(uint256 seed, uint256 count) internal returns (bytes32[] memory leaves) {
        leaves = MerkleReference.makeLeaves(seed, count);
        for (uint256 i; i < count; ++i) {
            tree.insert(leaves[i]);
        }
    }

    function _bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }
}
