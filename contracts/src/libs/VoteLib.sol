// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {VoteRoot, KIND_VOTE_ROOT, KIND_VOTE_TALLY} from "../interfaces/IVotes.sol";

/// @notice Leaves and bodies of holder votes (docs/distributions.md, "Votes").
///
/// A leaf is keccak256 of the packed bytes
///     "STBRIDGE-VOTE-LEAF" ‖ domain (uint32) ‖ id (uint64) ‖ holder (address) ‖ power (uint256)
/// (106 bytes): never a message (those start with version byte 1), never an inner node (64
/// bytes), never a distribution leaf (another prefix). The tree is the distribution tree.
library VoteLib {
    bytes internal constant LEAF_PREFIX = "STBRIDGE-VOTE-LEAF";
    uint256 internal constant ROOT_BODY_LENGTH = 6 * 32;

    function leaf(uint32 domain, uint64 id, address holder, uint256 power) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(LEAF_PREFIX, domain, id, holder, power));
    }

    /// @notice abi.encode(uint8 5, uint64 id, uint64 closes, uint8 options, uint256 totalPower, bytes32 root).
    function encodeRoot(VoteRoot memory r) internal pure returns (bytes memory) {
        return abi.encode(KIND_VOTE_ROOT, r.id, r.closes, r.options, r.totalPower, r.root);
    }

    function decodeRoot(bytes calldata body) internal pure returns (VoteRoot memory r) {
        (, r.id, r.closes, r.options, r.totalPower, r.root) =
            abi.decode(body, (uint8, uint64, uint64, uint8, uint256, bytes32));
    }

    /// @notice abi.encode(uint8 6, uint64 id, uint256[] tally).
    function encodeTally(uint64 id, uint256[] memory tally) internal pure returns (bytes memory) {
        return abi.encode(KIND_VOTE_TALLY, id, tally);
    }

    function decodeTally(bytes calldata body) internal pure returns (uint64 id, uint256[] memory tally) {
        (, id, tally) = abi.decode(body, (uint8, uint64, uint256[]));
    }
}
