// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IdentityRecord, FLAG_REVOKED, FLAG_FROZEN, KIND_RECORD_UPDATE} from "../interfaces/IIdentityRegistry.sol";

/// @notice Pure rules of identity records shared by the home registry, its mirrors and
/// the security token: validity, and the RecordUpdate body of docs/protocol.md.
library IdentityLib {
    /// @notice The flags a record may carry; any other bit is refused by the home registry.
    uint32 internal constant KNOWN_FLAGS = FLAG_REVOKED | FLAG_FROZEN;

    /// @notice Byte length of a RecordUpdate body: 7 ABI words
    /// (kind, wallet, investorId, country, expiresAt, flags, version).
    uint256 internal constant RECORD_UPDATE_LENGTH = 7 * 32;

    /// @notice Whether a record with these fields makes its wallet verified at `timestamp`: it
    /// exists (a nonzero version: every stored record has a nonzero investor id and version,
    /// or neither), is neither revoked nor frozen, and `timestamp` is before its expiry.
    function isValid(uint64 expiresAt, uint32 flags, uint64 version, uint256 timestamp) internal pure returns (bool) {
        return version != 0 && flags & KNOWN_FLAGS == 0 && timestamp < expiresAt;
    }

    /// @notice `isValid` of a whole record.
    function isValidAt(IdentityRecord memory r, uint256 timestamp) internal pure returns (bool) {
        return isValid(r.expiresAt, r.flags, r.version, timestamp);
    }

    /// @notice The RecordUpdate body: abi.encode(uint8 3, address wallet, IdentityRecord record).
    function encodeRecordUpdate(address wallet, IdentityRecord memory r) internal pure returns (bytes memory) {
        return abi.encode(KIND_RECORD_UPDATE, wallet, r);
    }

    /// @notice The kind word of an application body (its first 32 bytes); the caller
    /// ensures `body` holds at least 32 bytes.
    function kindOf(bytes calldata body) internal pure returns (uint256) {
        return uint256(bytes32(body[0:32]));
    }

    /// @notice Decodes a RecordUpdate body whose kind and length the caller has checked.
    function decodeRecordUpdate(bytes calldata body) internal pure returns (address wallet, IdentityRecord memory r) {
        (, wallet, r) = abi.decode(body, (uint8, address, IdentityRecord));
    }
}
