// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {DistributionRoot, KIND_DISTRIBUTION_ROOT} from "../interfaces/IDistributions.sol";

/// @notice Leaves and the root message of distributions (docs/distributions.md).
///
/// A leaf is keccak256 of the packed bytes
///     "STBRIDGE-DIST-LEAF" ‖ domain (uint32) ‖ id (uint64) ‖ holder (address) ‖ gross (uint256) ‖ withheld (uint256)
/// (138 bytes). It starts with 'S' (0x53), so it can never be read as a message (version 1
/// first), and it is not 64 bytes long, so it can never be read as an inner node of the tree.
/// The domain and the id bind the leaf to one chain's root of one distribution.
///
/// The tree is OpenZeppelin's MerkleProof tree: inner node = keccak256 of the two children
/// sorted ascending; an odd node is carried up unchanged.
library DistributionLib {
    bytes internal constant LEAF_PREFIX = "STBRIDGE-DIST-LEAF";
    /// @notice abi.encode(uint8 kind, uint64 id, address paymentToken, uint256 total, uint64 claimUntil, bytes32 root).
    uint256 internal constant ROOT_BODY_LENGTH = 6 * 32;

    function leaf(uint32 domain, uint64 id, address holder, uint256 gross, uint256 withheld)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(LEAF_PREFIX, domain, id, holder, gross, withheld));
    }

    function encodeRoot(DistributionRoot memory r) internal pure returns (bytes memory) {
        return abi.encode(KIND_DISTRIBUTION_ROOT, r.id, r.paymentToken, r.total, r.claimUntil, r.root);
    }

    function decodeRoot(bytes calldata body) internal pure returns (DistributionRoot memory r) {
        (, r.id, r.paymentToken, r.total, r.claimUntil, r.root) =
            abi.decode(body, (uint8, uint64, address, uint256, uint64, bytes32));
    }
}
