// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IdentityRecord, FLAG_REVOKED, FLAG_FROZEN} from "./interfaces/IIdentityRegistry.sol";
import {IMailbox} from "./interfaces/IMailbox.sol";
import {IdentityLib} from "./libs/IdentityLib.sol";
import {IdentityRecords} from "./IdentityRecords.sol";

/// @title IdentityRegistry
/// @notice The home chain's identity registry: the source of compliance truth. Agents write
/// records; every change bumps the wallet's version and is dispatched as a RecordUpdate
/// (docs/protocol.md) through the mailbox to every enrolled remote mirror. The records, their
/// reads and the version rule are IdentityRecords', shared with MirrorIdentityRegistry.
contract IdentityRegistry is IdentityRecords, AccessControl {
    using EnumerableSet for EnumerableSet.UintSet;

    /// @notice May write records (setRecord, revoke, freeze, unfreeze, resync).
    bytes32 public constant AGENT_ROLE = keccak256("AGENT_ROLE");
    /// @notice Largest ISO 3166-1 numeric code.
    uint16 public constant MAX_COUNTRY = 999;

    /// @notice The mailbox RecordUpdates leave through.
    IMailbox public immutable mailbox;
    /// @notice This chain's domain (the mailbox's local domain).
    uint32 public immutable override homeDomain;

    EnumerableSet.UintSet private _remoteDomains;
    mapping(uint32 domain => bytes32 mirror) private _mirrors;

    /// @notice A remote mirror was enrolled (or its address replaced) for `domain`.
    event RemoteEnrolled(uint32 indexed domain, bytes32 mirror);
    /// @notice The mirror of `domain` was unenrolled; it receives no more updates.
    event RemoteUnenrolled(uint32 indexed domain);

    /// @notice The investor id is zero (zero means "no record").
    error ZeroInvestorId();
    /// @notice The country is not an ISO 3166-1 numeric code (1..999).
    error InvalidCountry(uint16 country);
    /// @notice The record would already be expired: `expiresAt` is not after now.
    error ExpiryInPast(uint64 expiresAt, uint64 now_);
    /// @notice The flags carry a bit other than FLAG_REVOKED and FLAG_FROZEN.
    error UnknownFlags(uint32 flags);
    /// @notice The wallet has no record to change or push.
    error NoRecord(address wallet);
    /// @notice A remote domain that is zero or the home domain itself.
    error InvalidRemoteDomain(uint32 domain);
    /// @notice A mirror that is zero or not a left-padded EVM address.
    error InvalidMirror(bytes32 mirror);
    /// @notice No mirror is enrolled for `domain`.
    error NotEnrolled(uint32 domain);

    /// @param mailbox_ This chain's mailbox; its local domain becomes the home domain.
    /// @param admin Holds DEFAULT_ADMIN_ROLE: enrolls remotes and grants AGENT_ROLE.
    constructor(IMailbox mailbox_, address admin) {
        if (address(mailbox_) == address(0) || admin == address(0)) revert ZeroAddress();
        mailbox = mailbox_;
        homeDomain = mailbox_.localDomain();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------------ records

    /// @notice Writes the record of `wallet` (onboarding, renewal, correction).
    /// @param flags FLAG_REVOKED | FLAG_FROZEN or 0.
    function setRecord(address wallet, bytes32 investorId, uint16 country, uint64 expiresAt, uint32 flags)
        external
        onlyRole(AGENT_ROLE)
    {
        if (wallet == address(0)) revert ZeroWallet();
        if (investorId == bytes32(0)) revert ZeroInvestorId();
        if (country == 0 || country > MAX_COUNTRY) revert InvalidCountry(country);
        if (expiresAt <= block.timestamp) revert ExpiryInPast(expiresAt, uint64(block.timestamp));
        if (flags & ~IdentityLib.KNOWN_FLAGS != 0) revert UnknownFlags(flags);
        IdentityRecord storage r = _record(wallet);
        r.investorId = investorId;
        r.country = country;
        r.expiresAt = expiresAt;
        r.flags = flags;
        _commit(wallet);
    }

    /// @notice Marks `wallet` revoked; the record is kept (an agent may setRecord again).
    function revoke(address wallet) external onlyRole(AGENT_ROLE) {
        _setFlags(wallet, _existing(wallet).flags | FLAG_REVOKED);
    }

    /// @notice Marks `wallet` frozen in the registry (on every chain, for every token).
    function freeze(address wallet) external onlyRole(AGENT_ROLE) {
        _setFlags(wallet, _existing(wallet).flags | FLAG_FROZEN);
    }

    /// @notice Clears the registry freeze of `wallet`.
    function unfreeze(address wallet) external onlyRole(AGENT_ROLE) {
        _setFlags(wallet, _existing(wallet).flags & ~FLAG_FROZEN);
    }

    /// @notice Pushes the current records of `wallets` (versions unchanged) to every enrolled
    /// remote, e.g. after enrolling a chain. A mirror ignores versions it already holds.
    function resync(address[] calldata wallets) external onlyRole(AGENT_ROLE) {
        for (uint256 i = 0; i < wallets.length; ++i) {
            _dispatchToRemotes(wallets[i], _existing(wallets[i]));
        }
    }

    // ------------------------------------------------------------------ remotes

    /// @notice Enrolls (or re-points) the mirror registry of `domain`.
    function enrollRemote(uint32 domain, bytes32 mirror) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (domain == 0 || domain == homeDomain) revert InvalidRemoteDomain(domain);
        if (mirror == bytes32(0) || uint256(mirror) >> 160 != 0) revert InvalidMirror(mirror);
        _remoteDomains.add(domain);
        _mirrors[domain] = mirror;
        emit RemoteEnrolled(domain, mirror);
    }

    /// @notice Stops sending updates to `domain`.
    function unenrollRemote(uint32 domain) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (!_remoteDomains.remove(domain)) revert NotEnrolled(domain);
        delete _mirrors[domain];
        emit RemoteUnenrolled(domain);
    }

    /// @notice The enrolled remote domains, in no particular order.
    function remoteDomains() external view returns (uint32[] memory domains) {
        uint256[] memory raw = _remoteDomains.values();
        domains = new uint32[](raw.length);
        for (uint256 i = 0; i < raw.length; ++i) {
            domains[i] = uint32(raw[i]);
        }
    }

    /// @notice The mirror enrolled for `domain` (zero when none).
    function mirrorOf(uint32 domain) external view returns (bytes32) {
        return _mirrors[domain];
    }

    // ------------------------------------------------------------------ internals

    function _existing(address wallet) private view returns (IdentityRecord storage r) {
        r = _record(wallet);
        if (r.investorId == bytes32(0)) revert NoRecord(wallet);
    }

    function _setFlags(address wallet, uint32 flags) private {
        _record(wallet).flags = flags;
        _commit(wallet);
    }

    /// @dev Bumps the version, emits, then dispatches (effects before interactions).
    function _commit(address wallet) private {
        _dispatchToRemotes(wallet, _bump(wallet));
    }

    function _dispatchToRemotes(address wallet, IdentityRecord memory r) private {
        uint256 n = _remoteDomains.length();
        if (n == 0) return;
        bytes memory body = IdentityLib.encodeRecordUpdate(wallet, r);
        for (uint256 i = 0; i < n; ++i) {
            uint32 domain = uint32(_remoteDomains.at(i));
            mailbox.dispatch(domain, _mirrors[domain], body);
        }
    }
}
