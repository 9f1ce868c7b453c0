// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IMailbox, Checkpoint} from "../src/interfaces/IMailbox.sol";
import {IMessageRecipient} from "../src/interfaces/IMessageRecipient.sol";
import {MailboxFixture} from "./utils/MailboxFixture.sol";
import {CalldataRecorder, OwnedVault} from "./utils/Recipients.sol";

/// @notice The mailbox calls nothing but `handle(uint32,bytes32,bytes)` on a recipient: a
/// message aimed at an admin function (Poly Network) reaches no admin function.
contract MailboxRecipientsTest is MailboxFixture {
    address internal constant ATTACKER = address(0xBAD);

    function test_recipientReceivesExactlyHandleCalldata() public {
        CalldataRecorder recorder = new CalldataRecorder();
        // A body that starts like a call to an admin function is still only an argument.
        bytes memory body = abi.encodeCall(Ownable.transferOwnership, (ATTACKER));
        _sendTo(DESTINATION, _b32(address(recorder)), body);
        _process(0, 0);
        vm.assertEq(
            recorder.lastCall(),
            abi.encodeCall(IMessageRecipient.handle, (ORIGIN, _b32(APP), body)),
            "handle(origin, sender, body), nothing else"
        );
        vm.assertEq(bytes32(recorder.lastCall()), bytes32(IMessageRecipient.handle.selector), "selector");
        vm.assertEq(recorder.calls(), 1, "one call");
    }

    function test_fuzz_recipientReceivesExactlyHandleCalldata(bytes memory body) public {
        CalldataRecorder recorder = new CalldataRecorder();
        _sendTo(DESTINATION, _b32(address(recorder)), body);
        _processBatch(0, 0, 0);
        vm.assertEq(
            recorder.lastCall(), abi.encodeCall(IMessageRecipient.handle, (ORIGIN, _b32(APP), body)), "calldata"
        );
    }

    function test_polyNetwork_messageToTheMailboxItself() public {
        // Messages addressed to the mailbox, with bodies that would reconfigure or take it.
        address[] memory rogue = new address[](1);
        rogue[0] = ATTACKER;
        _sendTo(DESTINATION, _b32(address(mailbox)), abi.encodeCall(Ownable.transferOwnership, (ATTACKER)));
        _sendTo(
            DESTINATION, _b32(address(mailbox)), abi.encodeCall(mailbox.setOrigin, (ORIGIN, _b32(ATTACKER), rogue, 1))
        );
        Checkpoint memory cp = _checkpoint(1);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(0, 0, 1);
        vm.expectRevert(bytes("")); // the mailbox has no `handle`
        mailbox.process(cp, sigs, sent[0], proof);
        _processBatch(0, 1, 1); // in a batch: both fail alone
        vm.assertFalse(mailbox.delivered(ORIGIN, 0), "not delivered");
        vm.assertFalse(mailbox.delivered(ORIGIN, 1), "not delivered");
        vm.assertEq(mailbox.owner(), address(this), "owner unchanged");
        vm.assertEq(mailbox.pendingOwner(), address(0), "no pending owner");
        vm.assertEq(mailbox.threshold(ORIGIN), THRESHOLD, "configuration unchanged");
        vm.assertFalse(mailbox.isValidator(ORIGIN, ATTACKER), "no rogue validator");
    }

    function test_polyNetwork_messageToAContractTheMailboxOwns() public {
        OwnedVault vault = new OwnedVault(address(mailbox));
        _sendTo(DESTINATION, _b32(address(vault)), abi.encodeCall(OwnedVault.drain, (ATTACKER)));
        Checkpoint memory cp = _checkpoint(0);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(0, 0, 0);
        vm.expectRevert(bytes(""));
        mailbox.process(cp, sigs, sent[0], proof);
        vm.expectEmit(address(mailbox));
        emit IMailbox.ProcessFailed(leaves[0], ORIGIN, 0, "");
        mailbox.processBatch(cp, sigs, _messages(0, 0), proof);
        vm.assertEq(vault.drainedTo(), address(0), "the admin function was never reached");
    }
}
