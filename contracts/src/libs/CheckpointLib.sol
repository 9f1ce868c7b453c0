// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IMailbox} from "../interfaces/IMailbox.sol";

/// @notice Checkpoints of docs/protocol.md ("Checkpoint"): the digest validators sign and
/// the m-of-n check of their signatures.
library CheckpointLib {
    /// @notice Bytes of one signature: r ‖ s ‖ v.
    uint256 internal constant SIGNATURE_LENGTH = 65;

    /// @notice keccak256(abi.encodePacked(uint32 origin, bytes32 originMailbox, "STBRIDGE")).
    function domainHash(uint32 origin, bytes32 originMailbox) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(origin, originMailbox, "STBRIDGE"));
    }

    /// @notice keccak256(abi.encodePacked(domainHash, bytes32 root, uint32 index)).
    function digest(bytes32 domainHash_, bytes32 root, uint32 index) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(domainHash_, root, index));
    }

    /// @notice The EIP-191 hash of the digest: what validators sign.
    function signedDigest(bytes32 domainHash_, bytes32 root, uint32 index) internal pure returns (bytes32) {
        return MessageHashUtils.toEthSignedMessageHash(digest(domainHash_, root, index));
    }

    /// @notice Checks `signatures` (65 bytes each, concatenated) over `signed`: at least
    /// `threshold` of them, each recovering (low s, v in {27, 28}) to a signer above the one
    /// before it, each signer a validator, i.e. `epochOf[signer] == epoch`. Every signature
    /// given must pass; the caller makes sure `epoch` is not zero.
    /// @dev Reverts with the IMailbox errors: InvalidSignature (also for a length that is not
    /// a multiple of 65), BelowThreshold, SignersNotAscending, NotValidator.
    function verify(
        bytes32 signed,
        bytes calldata signatures,
        uint256 threshold,
        mapping(address => uint32) storage epochOf,
        uint32 epoch
    ) internal view {
        uint256 count = signatures.length / SIGNATURE_LENGTH;
        if (signatures.length % SIGNATURE_LENGTH != 0) revert IMailbox.InvalidSignature(count);
        if (count < threshold) revert IMailbox.BelowThreshold(count, threshold);
        address previous = address(0);
        for (uint256 i; i < count; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = _at(signatures, i);
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(signed, v, r, s);
            if (err != ECDSA.RecoverError.NoError) revert IMailbox.InvalidSignature(i);
            if (signer <= previous) revert IMailbox.SignersNotAscending(i);
            if (epochOf[signer] != epoch) revert IMailbox.NotValidator(signer);
            previous = signer;
        }
    }

    /// @notice The fields of signature `i`, read from calldata.
    function _at(bytes calldata signatures, uint256 i) private pure returns (uint8 v, bytes32 r, bytes32 s) {
        assembly ("memory-safe") {
            let p := add(signatures.offset, mul(i, SIGNATURE_LENGTH))
            r := calldataload(p)
            s := calldataload(add(p, 0x20))
            v := byte(0, calldataload(add(p, 0x40)))
        }
    }
}
