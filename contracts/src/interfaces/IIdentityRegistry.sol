// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice An investor's identity record. `version` grows with every change made on the
/// home registry; a mirror keeps a record only if it is newer than the one it holds.
/// Registries store it in two slots: the investor id, then the other four fields packed.
/// A stored record has a nonzero investor id and a nonzero version, or neither, so a
/// nonzero version alone says that a record exists (IdentityLib.isValid).
struct IdentityRecord {
    bytes32 investorId; // zero: no record
    uint16 country; // ISO 3166-1 numeric
    uint64 expiresAt; // unix seconds; the record is not valid at or after it
    uint32 flags; // FLAG_REVOKED | FLAG_FROZEN
    uint64 version;
}

uint32 constant FLAG_REVOKED = 1;
uint32 constant FLAG_FROZEN = 2;

// Message kinds of the identity channel (home registry to mirrors).
uint8 constant KIND_RECORD_UPDATE = 3;

/// @notice Read side shared by the home registry and its mirrors.
interface IIdentityRegistry {
    /// @notice A wallet's record changed (on a mirror: a newer record was applied).
    event RecordUpdated(address indexed wallet, bytes32 indexed investorId, uint16 country, uint64 expiresAt, uint32 flags, uint64 version);

    /// @notice The record of `wallet` (all zero when none).
    function recordOf(address wallet) external view returns (IdentityRecord memory);

    /// @notice The fields of the record of `wallet` that the token's rules read, all from one
    /// storage slot (the investor id has its own): version 0 means no record.
    function statusOf(address wallet)
        external
        view
        returns (uint16 country, uint64 expiresAt, uint32 flags, uint64 version);

    /// @notice Has a record that is not revoked, not frozen and not expired.
    function isVerified(address wallet) external view returns (bool);

    /// @notice The home chain's domain; records from any other domain are refused.
    function homeDomain() external view returns (uint32);
}
