// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IdentityRecord, KIND_RECORD_UPDATE} from "./interfaces/IIdentityRegistry.sol";
import {IMailbox} from "./interfaces/IMailbox.sol";
import {IMessageRecipient} from "./interfaces/IMessageRecipient.sol";
import {IdentityLib} from "./libs/IdentityLib.sol";
import {IdentityRecords} from "./IdentityRecords.sol";

/// @title MirrorIdentityRegistry
/// @notice A remote chain's copy of the home IdentityRegistry. Only two things change it,
/// and both carry records made on the home chain: a RecordUpdate delivered by the mailbox
/// from the home domain's registry, and a record the local TokenBridge forwards from a
/// Transfer (FORWARDER_ROLE). A record is applied only if its version is newer than the one
/// held (IdentityRecords._applyNewer), so arrival order does not matter and a stale record
/// never overtakes a revocation.
contract MirrorIdentityRegistry is IdentityRecords, IMessageRecipient, AccessControl {
    /// @notice May apply records carried by proven home-chain messages (the local TokenBridge).
    bytes32 public constant FORWARDER_ROLE = keccak256("FORWARDER_ROLE");

    /// @notice The only caller of `handle`.
    IMailbox public immutable mailbox;
    /// @notice The home chain's domain: the only origin accepted.
    uint32 public immutable override homeDomain;
    /// @notice The home IdentityRegistry (left-padded): the only sender accepted.
    bytes32 public immutable homeRegistry;

    /// @notice The home domain is this chain's own domain.
    error HomeIsLocal(uint32 domain);
    /// @notice `handle` was called by someone other than the mailbox.
    error NotMailbox(address caller);
    /// @notice The message comes from a domain other than the home domain.
    error WrongOrigin(uint32 origin, uint32 expected);
    /// @notice The message was dispatched by something other than the home registry.
    error WrongSender(bytes32 sender, bytes32 expected);
    /// @notice The body is not a RecordUpdate.
    error UnexpectedKind(uint256 kind);
    /// @notice The body has the wrong length for its kind.
    error MalformedBody(uint256 length);

    /// @param mailbox_ This chain's mailbox.
    /// @param homeDomain_ The home chain's domain.
    /// @param homeRegistry_ The home IdentityRegistry, left-padded.
    /// @param admin Holds DEFAULT_ADMIN_ROLE: grants FORWARDER_ROLE, nothing else.
    constructor(IMailbox mailbox_, uint32 homeDomain_, bytes32 homeRegistry_, address admin) {
        if (address(mailbox_) == address(0) || homeRegistry_ == bytes32(0) || admin == address(0)) {
            revert ZeroAddress();
        }
        if (homeDomain_ == mailbox_.localDomain()) revert HomeIsLocal(homeDomain_);
        mailbox = mailbox_;
        homeDomain = homeDomain_;
        homeRegistry = homeRegistry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IMessageRecipient
    function handle(uint32 origin, bytes32 sender, bytes calldata body) external {
        if (msg.sender != address(mailbox)) revert NotMailbox(msg.sender);
        if (origin != homeDomain) revert WrongOrigin(origin, homeDomain);
        if (sender != homeRegistry) revert WrongSender(sender, homeRegistry);
        if (body.length < 32) revert MalformedBody(body.length);
        uint256 kind = IdentityLib.kindOf(body);
        if (kind != KIND_RECORD_UPDATE) revert UnexpectedKind(kind);
        if (body.length != IdentityLib.RECORD_UPDATE_LENGTH) revert MalformedBody(body.length);
        (address wallet, IdentityRecord memory record) = IdentityLib.decodeRecordUpdate(body);
        _applyNewer(wallet, record);
    }

    /// @notice Applies a home record carried by a proven message (a bridge Transfer).
    /// @return applied False when the record was not newer and was ignored.
    function applyRecord(address wallet, IdentityRecord calldata record)
        external
        onlyRole(FORWARDER_ROLE)
        returns (bool applied)
    {
        if (wallet == address(0)) revert ZeroWallet();
        return _applyNewer(wallet, record);
    }
}
