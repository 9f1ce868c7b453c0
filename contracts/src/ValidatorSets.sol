// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IMailbox, Checkpoint} from "./interfaces/IMailbox.sol";
import {CheckpointLib} from "./libs/CheckpointLib.sol";

/// @notice The inbox's trust configuration: per origin, the origin's mailbox, its
/// validators and how many of them must sign a checkpoint. The owner (two-step transfer)
/// sets it; a new configuration replaces the old one whole.
abstract contract ValidatorSets is IMailbox, Ownable2Step {
    /// @dev What verifying a checkpoint reads: two slots per origin.
    struct OriginConfig {
        bytes32 domainHash; // keccak256(origin, originMailbox, "STBRIDGE"), fixed at configuration
        uint32 epoch; // bumped by every configuration; a validator counts only at the current epoch
        uint8 threshold; // 0: origin not configured
    }

    mapping(uint32 origin => OriginConfig) private _config;
    /// @dev The epoch at which an address was last made a validator of the origin: a
    /// reconfiguration drops the old set by moving the epoch, without clearing it.
    mapping(uint32 origin => mapping(address validator => uint32 epoch)) private _validatorEpoch;
    mapping(uint32 origin => address[]) private _validators;
    mapping(uint32 origin => bytes32) private _originMailbox;

    /// @notice The origin mailbox of a configuration is zero.
    error InvalidOriginMailbox();

    /// @notice Sets (or replaces) the trust configuration of `origin`: its mailbox, the
    /// validators and how many of them must sign (1..n). Validators of an earlier set no
    /// longer count. Refuses a zero threshold, a threshold above n, a zero or repeated
    /// validator (InvalidValidatorSet) and a zero mailbox (InvalidOriginMailbox).
    function setOrigin(uint32 origin, bytes32 originMailbox_, address[] calldata validators_, uint8 threshold_)
        external
        onlyOwner
    {
        if (originMailbox_ == bytes32(0)) revert InvalidOriginMailbox();
        if (threshold_ == 0 || threshold_ > validators_.length) revert InvalidValidatorSet();
        OriginConfig storage config = _config[origin];
        uint32 epoch = config.epoch + 1;
        mapping(address => uint32) storage epochOf = _validatorEpoch[origin];
        for (uint256 i; i < validators_.length; ++i) {
            address validator = validators_[i];
            if (validator == address(0) || epochOf[validator] == epoch) revert InvalidValidatorSet();
            epochOf[validator] = epoch;
        }
        config.domainHash = CheckpointLib.domainHash(origin, originMailbox_);
        config.epoch = epoch;
        config.threshold = threshold_;
        _validators[origin] = validators_;
        _originMailbox[origin] = originMailbox_;
        emit OriginConfigured(origin, originMailbox_, validators_, threshold_);
    }

    /// @notice The validators of `origin` (empty when not configured).
    function validators(uint32 origin) external view returns (address[] memory) {
        return _validators[origin];
    }

    /// @notice How many validators of `origin` must sign (0 when not configured).
    function threshold(uint32 origin) external view returns (uint8) {
        return _config[origin].threshold;
    }

    /// @notice The mailbox of `origin` whose checkpoints are accepted (0 when not configured).
    function originMailbox(uint32 origin) external view returns (bytes32) {
        return _originMailbox[origin];
    }

    /// @notice The domain hash validators of `origin` sign under (0 when not configured).
    function domainHash(uint32 origin) external view returns (bytes32) {
        return _config[origin].domainHash;
    }

    /// @notice Whether `validator` is in the current set of `origin`.
    function isValidator(uint32 origin, address validator) external view returns (bool) {
        uint32 epoch = _config[origin].epoch;
        return epoch != 0 && _validatorEpoch[origin][validator] == epoch;
    }

    /// @dev The checkpoint checks of docs/protocol.md, in order: root not zero, origin
    /// configured, then the signatures (CheckpointLib.verify).
    function _verifyCheckpoint(Checkpoint calldata checkpoint, bytes calldata signatures) internal view {
        bytes32 root = checkpoint.root;
        if (root == bytes32(0)) revert ZeroRoot();
        uint32 origin = checkpoint.origin;
        OriginConfig storage config = _config[origin];
        uint256 required = config.threshold;
        if (required == 0) revert UnknownOrigin(origin);
        bytes32 signed = CheckpointLib.signedDigest(config.domainHash, root, checkpoint.index);
        CheckpointLib.verify(signed, signatures, required, _validatorEpoch[origin], config.epoch);
    }
}
