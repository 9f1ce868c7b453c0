// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IIdentityRegistry, IdentityRecord} from "./interfaces/IIdentityRegistry.sol";
import {IdentityLib} from "./libs/IdentityLib.sol";

/// @title IdentityRecords
/// @notice The record store shared by the home IdentityRegistry and its mirrors: one record per
/// wallet, the reads the token's rules and the bridge make, and the one rule of versions —
/// they only grow. The home registry changes a record in place and bumps its version
/// (`_bump`); a mirror takes a record made on the home chain only if it is newer than the one
/// it holds (`_applyNewer`). Either way RecordUpdated is emitted with the stored fields.
/// A record takes two storage slots: the investor id, and country, expiry, flags and version
/// packed together (22 bytes); the reads of the rules and the version check use only the second.
abstract contract IdentityRecords is IIdentityRegistry {
    mapping(address wallet => IdentityRecord) private _records;

    /// @notice A record older than the held one arrived and was ignored (an equal version is
    /// ignored silently: it changes nothing). Only a mirror emits it.
    event RecordIgnored(address indexed wallet, uint64 version, uint64 heldVersion);

    /// @notice A constructor argument is the zero address (or zero).
    error ZeroAddress();
    /// @notice The wallet is the zero address.
    error ZeroWallet();

    // ------------------------------------------------------------------ reads

    /// @inheritdoc IIdentityRegistry
    function recordOf(address wallet) external view returns (IdentityRecord memory) {
        return _records[wallet];
    }

    /// @inheritdoc IIdentityRegistry
    function statusOf(address wallet)
        external
        view
        returns (uint16 country, uint64 expiresAt, uint32 flags, uint64 version)
    {
        IdentityRecord storage r = _records[wallet];
        return (r.country, r.expiresAt, r.flags, r.version);
    }

    /// @inheritdoc IIdentityRegistry
    function isVerified(address wallet) external view returns (bool) {
        return IdentityLib.isValidAt(_records[wallet], block.timestamp);
    }

    // ------------------------------------------------------------------ writes

    /// @dev The stored record of `wallet`, for a change in place that `_bump` then commits.
    function _record(address wallet) internal view returns (IdentityRecord storage) {
        return _records[wallet];
    }

    /// @dev Commits a change made in place to the record of `wallet`: bumps its version and
    /// emits RecordUpdated. The home registry's way to change a record.
    function _bump(address wallet) internal returns (IdentityRecord storage r) {
        r = _records[wallet];
        uint64 version = r.version + 1;
        r.version = version;
        emit RecordUpdated(wallet, r.investorId, r.country, r.expiresAt, r.flags, version);
    }

    /// @dev Newer-only: stores `record` if its version is above the held one. An older or equal
    /// version is ignored, never a revert, so an out-of-order delivery succeeds (and is not
    /// retried forever). An equal version is the common case (every transfer to a known wallet
    /// carries the record the mirror holds; a resync re-pushes held versions) and changes
    /// nothing, so it is silent. An older one means a message was overtaken by a newer record
    /// (a revocation holding against a stale record): rare and worth seeing, so it emits
    /// RecordIgnored. A record without an investor id is no record (the home registry never
    /// sends one): it is ignored, so every stored record keeps a nonzero id and version
    /// (IdentityLib.isValid). A mirror's way to change a record.
    /// @return applied Whether the record was stored.
    function _applyNewer(address wallet, IdentityRecord memory record) internal returns (bool applied) {
        if (record.investorId == bytes32(0)) return false;
        uint64 held = _records[wallet].version;
        if (record.version <= held) {
            if (record.version < held) emit RecordIgnored(wallet, record.version, held);
            return false;
        }
        _records[wallet] = record;
        emit RecordUpdated(wallet, record.investorId, record.country, record.expiresAt, record.flags, record.version);
        return true;
    }
}
