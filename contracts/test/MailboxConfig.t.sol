// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IMailbox, Checkpoint} from "../src/interfaces/IMailbox.sol";
import {ValidatorSets} from "../src/ValidatorSets.sol";
import {CheckpointHarness} from "./utils/Harnesses.sol";
import {MailboxFixture} from "./utils/MailboxFixture.sol";

/// @notice Validator sets: who may set them, what is refused, and that a new set replaces
/// the old one whole.
contract MailboxConfigTest is MailboxFixture {
    address internal constant STRANGER = address(0x5757);

    function test_views_afterConfiguration() public {
        vm.assertEq(mailbox.threshold(ORIGIN), THRESHOLD, "threshold");
        vm.assertEq(mailbox.originMailbox(ORIGIN), _b32(address(outbox)), "origin mailbox");
        address[] memory set = mailbox.validators(ORIGIN);
        vm.assertEq(set.length, VALIDATOR_COUNT, "set size");
        for (uint256 i; i < set.length; ++i) {
            vm.assertEq(set[i], validatorAddrs[i], "validator");
            vm.assertTrue(mailbox.isValidator(ORIGIN, set[i]), "isValidator");
        }
        CheckpointHarness lib = new CheckpointHarness();
        vm.assertEq(mailbox.domainHash(ORIGIN), lib.domainHash(ORIGIN, _b32(address(outbox))), "domain hash");
        vm.assertEq(
            mailbox.domainHash(ORIGIN),
            keccak256(abi.encodePacked(ORIGIN, _b32(address(outbox)), "STBRIDGE")),
            "domain hash per protocol"
        );
        vm.assertEq(mailbox.threshold(OTHER_ORIGIN), 0, "unconfigured origin");
        vm.assertFalse(mailbox.isValidator(OTHER_ORIGIN, validatorAddrs[0]), "not for another origin");
    }

    function test_setOrigin_emits() public {
        address[] memory set = _set(2);
        vm.expectEmit(address(mailbox));
        emit IMailbox.OriginConfigured(OTHER_ORIGIN, _b32(address(0xD0D0)), set, 2);
        mailbox.setOrigin(OTHER_ORIGIN, _b32(address(0xD0D0)), set, 2);
    }

    function test_setOrigin_onlyOwner() public {
        address[] memory set = _set(1);
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, STRANGER));
        mailbox.setOrigin(ORIGIN, _b32(STRANGER), set, 1);
    }

    function test_setOrigin_refusesZeroThreshold() public {
        vm.expectRevert(IMailbox.InvalidValidatorSet.selector);
        mailbox.setOrigin(ORIGIN, _b32(address(outbox)), _set(3), 0);
    }

    function test_setOrigin_refusesThresholdAboveSize() public {
        vm.expectRevert(IMailbox.InvalidValidatorSet.selector);
        mailbox.setOrigin(ORIGIN, _b32(address(outbox)), _set(3), 4);
        vm.expectRevert(IMailbox.InvalidValidatorSet.selector);
        mailbox.setOrigin(ORIGIN, _b32(address(outbox)), new address[](0), 1);
    }

    function test_setOrigin_thresholdEqualToSize() public {
        mailbox.setOrigin(ORIGIN, _b32(address(outbox)), _set(3), 3);
        vm.assertEq(mailbox.threshold(ORIGIN), 3, "n-of-n");
    }

    function test_setOrigin_refusesZeroValidator() public {
        address[] memory set = _set(3);
        set[1] = address(0);
        vm.expectRevert(IMailbox.InvalidValidatorSet.selector);
        mailbox.setOrigin(ORIGIN, _b32(address(outbox)), set, 2);
    }

    function test_setOrigin_refusesDuplicateValidator() public {
        address[] memory set = _set(3);
        set[2] = set[0];
        vm.expectRevert(IMailbox.InvalidValidatorSet.selector);
        mailbox.setOrigin(ORIGIN, _b32(address(outbox)), set, 2);
    }

    function test_setOrigin_refusesZeroMailbox() public {
        vm.expectRevert(ValidatorSets.InvalidOriginMailbox.selector);
        mailbox.setOrigin(ORIGIN, bytes32(0), _set(3), 2);
    }

    function test_reconfiguration_dropsOldValidators() public {
        _sendMany(1);
        Checkpoint memory cp = _checkpoint(0);
        bytes memory oldSigs = _sign(cp); // validators 0, 1, 2
        // New set: validators 3 and 4 only, 2-of-2.
        address[] memory set = new address[](2);
        (set[0], set[1]) = (validatorAddrs[3], validatorAddrs[4]);
        mailbox.setOrigin(ORIGIN, _b32(address(outbox)), set, 2);
        vm.assertFalse(mailbox.isValidator(ORIGIN, validatorAddrs[0]), "old validator dropped");
        vm.assertEq(mailbox.validators(ORIGIN).length, 2, "new set listed");
        bytes32[] memory proof = _proof(0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.NotValidator.selector, validatorAddrs[0]));
        mailbox.process(cp, oldSigs, sent[0], proof);
        uint256[] memory keys = new uint256[](2);
        (keys[0], keys[1]) = (validatorKeys[3], validatorKeys[4]);
        mailbox.process(cp, _signWith(cp, keys), sent[0], proof);
        vm.assertTrue(mailbox.delivered(ORIGIN, 0), "the new set delivers");
    }

    function test_reconfiguration_keepsValidatorsNamedAgain() public {
        address[] memory set = new address[](1);
        set[0] = validatorAddrs[0];
        mailbox.setOrigin(ORIGIN, _b32(address(outbox)), set, 1);
        vm.assertTrue(mailbox.isValidator(ORIGIN, validatorAddrs[0]), "named again");
        vm.assertFalse(mailbox.isValidator(ORIGIN, validatorAddrs[1]), "not named again");
    }

    function test_reconfiguration_newMailboxChangesTheDomain() public {
        _sendMany(1);
        mailbox.setOrigin(ORIGIN, _b32(address(0xD0D0)), validatorAddrs, THRESHOLD);
        Checkpoint memory cp = _checkpoint(0);
        bytes memory sigs = _sign(cp); // signed for the outbox's domain, not 0xD0D0's
        bytes32[] memory proof = _proof(0, 0, 0);
        // Under the new domain the first signature recovers to some unrelated address.
        bytes32 signed = _signedDigest(ORIGIN, _b32(address(0xD0D0)), cp.root, cp.index);
        (bytes32 r, bytes32 s) = (bytes32(0), bytes32(0));
        assembly {
            r := mload(add(sigs, 0x20))
            s := mload(add(sigs, 0x40))
        }
        address recovered = ecrecover(signed, uint8(sigs[64]), r, s);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.NotValidator.selector, recovered));
        mailbox.process(cp, sigs, sent[0], proof);
        vm.assertFalse(mailbox.delivered(ORIGIN, 0), "old domain's signatures do not count");
    }

    function test_ownership_twoStepTransfer() public {
        mailbox.transferOwnership(STRANGER);
        vm.assertEq(mailbox.owner(), address(this), "not yet");
        vm.prank(STRANGER);
        mailbox.acceptOwnership();
        vm.assertEq(mailbox.owner(), STRANGER, "accepted");
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        mailbox.setOrigin(ORIGIN, _b32(address(outbox)), _set(1), 1);
    }

    function _set(uint256 n) internal view returns (address[] memory set) {
        set = new address[](n);
        for (uint256 i; i < n; ++i) {
            set[i] = validatorAddrs[i];
        }
    }
}
