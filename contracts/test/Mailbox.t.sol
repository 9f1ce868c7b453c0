// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Mailbox} from "../src/Mailbox.sol";
import {IMailbox, Checkpoint} from "../src/interfaces/IMailbox.sol";
import {MerkleLib} from "../src/libs/MerkleLib.sol";
import {MailboxFixture} from "./utils/MailboxFixture.sol";
import {TestRecipient} from "./utils/Recipients.sol";

/// @notice The outbox (dispatch, tree views) and the single-message inbox: header checks,
/// replay, recipients.
contract MailboxTest is MailboxFixture {
    // ------------------------------------------------------------------------ outbox

    function test_constructor_localDomainIsChainId() public view {
        vm.assertEq(outbox.localDomain(), ORIGIN, "outbox domain");
        vm.assertEq(mailbox.localDomain(), DESTINATION, "mailbox domain");
        vm.assertEq(mailbox.owner(), address(this), "owner");
    }

    function test_constructor_refusesChainIdAboveUint32() public {
        vm.chainId(uint256(type(uint32).max) + 1);
        vm.expectRevert(abi.encodeWithSelector(Mailbox.ChainIdTooLarge.selector, uint256(type(uint32).max) + 1));
        new Mailbox(address(this));
    }

    function test_constructor_maxChainId() public {
        vm.chainId(type(uint32).max);
        vm.assertEq(new Mailbox(address(this)).localDomain(), type(uint32).max, "max domain");
    }

    function test_constructor_refusesZeroOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new Mailbox(address(0));
    }

    function test_dispatch_encodesMessageAndEmits() public {
        bytes memory body = hex"c0ffee";
        bytes memory expected = _encode(1, 0, ORIGIN, _b32(APP), DESTINATION, _b32(address(recipient)), body);
        vm.expectEmit(address(outbox));
        emit IMailbox.Dispatch(keccak256(expected), DESTINATION, 0, expected);
        bytes memory message = _send(body);
        vm.assertEq(message, expected, "message bytes");
        vm.assertEq(outbox.count(), 1, "count");
    }

    function test_dispatch_noncesFollowTheCount() public {
        _sendMany(3);
        for (uint32 i; i < 3; ++i) {
            vm.assertEq(uint256(uint32(bytes4(_sliceN(sent[i], 1, 4)))), i, "nonce field");
        }
        vm.assertEq(outbox.count(), 3, "count");
    }

    function test_dispatch_refusesLocalDestination() public {
        vm.expectRevert(abi.encodeWithSelector(Mailbox.LocalDestination.selector, ORIGIN));
        outbox.dispatch(ORIGIN, _b32(address(recipient)), "");
    }

    function test_dispatch_treeFull() public {
        _sendMany(3);
        bytes32 slot = _countSlot(outbox);
        vm.store(address(outbox), slot, bytes32(MerkleLib.MAX_LEAVES - 1));
        _send("last"); // nonce 2^32 - 2, the last leaf
        vm.assertEq(outbox.count(), type(uint32).max, "full");
        vm.expectRevert(IMailbox.TreeFull.selector);
        outbox.dispatch(DESTINATION, _b32(address(recipient)), "one too many");
    }

    function test_latestCheckpoint_emptyTree() public {
        vm.expectRevert(IMailbox.EmptyTree.selector);
        outbox.latestCheckpoint();
    }

    function test_latestCheckpoint_followsTheTree() public {
        _sendMany(5);
        (bytes32 root, uint32 index) = outbox.latestCheckpoint();
        vm.assertEq(index, 4, "index = count - 1");
        vm.assertEq(root, roots[4], "root");
        vm.assertEq(root, outbox.root(), "root()");
    }

    // ----------------------------------------------------------------- process: success

    function test_process_deliversAndCallsHandle() public {
        _sendMany(3);
        Checkpoint memory cp = _checkpoint(2);
        vm.expectEmit(address(recipient));
        emit TestRecipient.Handled(ORIGIN, _b32(APP), _body(1));
        vm.expectEmit(address(mailbox));
        emit IMailbox.Process(leaves[1], ORIGIN, 1);
        mailbox.process(cp, _sign(cp), sent[1], _proof(1, 1, 2));
        vm.assertTrue(mailbox.delivered(ORIGIN, 1), "delivered");
        vm.assertFalse(mailbox.delivered(ORIGIN, 0), "others not delivered");
        vm.assertEq(recipient.handled(_bodyHash(1)), 1, "handled once");
        vm.assertEq(recipient.lastOrigin(), ORIGIN, "origin passed");
        vm.assertEq(recipient.lastSender(), _b32(APP), "sender passed");
    }

    function test_process_handlerGetsAtLeastHandlerGas() public {
        _sendMany(1);
        _process(0, 0);
        vm.assertLe(mailbox.HANDLER_GAS(), recipient.lastGas(), "handler gas in process");
    }

    function test_process_laterCheckpointDeliversEarlierMessage() public {
        _sendMany(10);
        _process(3, 9); // validators skipped checkpoint 3; checkpoint 9 proves it
        vm.assertTrue(mailbox.delivered(ORIGIN, 3), "delivered under a later checkpoint");
    }

    // -------------------------------------------------------------------- process: replay

    function test_process_refusesReplay() public {
        _sendMany(2);
        _process(0, 1);
        Checkpoint memory cp = _checkpoint(1);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(0, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.AlreadyDelivered.selector, ORIGIN, 0));
        mailbox.process(cp, sigs, sent[0], proof);
        vm.assertEq(recipient.handled(_bodyHash(0)), 1, "handled once");
    }

    function test_process_refusesReplayUnderAnotherCheckpoint() public {
        _sendMany(4);
        _process(0, 0);
        Checkpoint memory cp = _checkpoint(3);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(0, 0, 3);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.AlreadyDelivered.selector, ORIGIN, 0));
        mailbox.process(cp, sigs, sent[0], proof);
    }

    // ------------------------------------------------------------- process: header checks

    function test_process_refusesWrongVersion() public {
        _sendMany(1);
        bytes memory message = sent[0];
        message[0] = 0x02;
        Checkpoint memory cp = _checkpoint(0);
        bytes memory sigs = _sign(cp);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.WrongVersion.selector, 2));
        mailbox.process(cp, sigs, message, _proof(0, 0, 0));
    }

    function test_process_refusesWrongDestination() public {
        _sendTo(OTHER_ORIGIN, _b32(address(recipient)), "elsewhere");
        Checkpoint memory cp = _checkpoint(0);
        bytes memory sigs = _sign(cp);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.WrongDestination.selector, OTHER_ORIGIN));
        mailbox.process(cp, sigs, sent[0], _proof(0, 0, 0));
    }

    function test_process_refusesShortMessage() public {
        _sendMany(1);
        Checkpoint memory cp = _checkpoint(0);
        bytes memory sigs = _sign(cp);
        bytes memory shortMessage = _sliceN(sent[0], 0, 76);
        vm.expectRevert(abi.encodeWithSelector(Mailbox.MessageTooShort.selector, 76));
        mailbox.process(cp, sigs, shortMessage, _proof(0, 0, 0));
    }

    function test_process_emptyBodyIsFine() public {
        _send("");
        _process(0, 0);
        vm.assertEq(recipient.handled(keccak256("")), 1, "empty body handled");
    }

    function test_process_refusesMessageOfAnotherOrigin() public {
        _sendMany(1);
        Checkpoint memory cp = _checkpoint(0);
        cp.origin = OTHER_ORIGIN; // a checkpoint of another origin's tree
        bytes memory sigs = _sign(cp);
        vm.expectRevert(abi.encodeWithSelector(Mailbox.OriginMismatch.selector, ORIGIN, OTHER_ORIGIN));
        mailbox.process(cp, sigs, sent[0], _proof(0, 0, 0));
    }

    function test_process_refusesUnknownOrigin() public {
        // A message that claims an origin nobody configured, under a checkpoint of that origin.
        bytes memory message = _encode(1, 0, OTHER_ORIGIN, _b32(APP), DESTINATION, _b32(address(recipient)), "x");
        Checkpoint memory cp = Checkpoint(OTHER_ORIGIN, keccak256("any root"), 0);
        bytes memory sigs = _sign(cp);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.UnknownOrigin.selector, OTHER_ORIGIN));
        mailbox.process(cp, sigs, message, new bytes32[](0));
    }

    // ---------------------------------------------------------------- process: recipients

    function test_process_handlerRevertBubblesAndLeavesUndelivered() public {
        _sendMany(1);
        recipient.setRefuse(_bodyHash(0), true);
        Checkpoint memory cp = _checkpoint(0);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(TestRecipient.Refused.selector, _bodyHash(0)));
        mailbox.process(cp, sigs, sent[0], proof);
        vm.assertFalse(mailbox.delivered(ORIGIN, 0), "still undelivered");
        recipient.setRefuse(_bodyHash(0), false);
        mailbox.process(cp, sigs, sent[0], proof);
        vm.assertTrue(mailbox.delivered(ORIGIN, 0), "delivered once the handler accepts");
    }

    function test_process_refusesRecipientWithoutCode() public {
        bytes32 eoa = _b32(address(0xBEEF));
        _sendTo(DESTINATION, eoa, "to nobody");
        Checkpoint memory cp = _checkpoint(0);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(Mailbox.InvalidRecipient.selector, eoa));
        mailbox.process(cp, sigs, sent[0], proof);
    }

    function test_process_refusesRecipientWithHighBits() public {
        // The low 160 bits are the test recipient; the bits above must not be ignored.
        bytes32 dirty = bytes32(uint256(_b32(address(recipient))) | (uint256(1) << 200));
        _sendTo(DESTINATION, dirty, "dirty");
        Checkpoint memory cp = _checkpoint(0);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(Mailbox.InvalidRecipient.selector, dirty));
        mailbox.process(cp, sigs, sent[0], proof);
    }

    function test_process_refusesTooLittleGasForTheHandler() public {
        _sendMany(1);
        Checkpoint memory cp = _checkpoint(0);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(0, 0, 0);
        vm.expectPartialRevert(Mailbox.InsufficientGas.selector);
        mailbox.process{gas: 300_000}(cp, sigs, sent[0], proof);
        vm.assertFalse(mailbox.delivered(ORIGIN, 0), "not delivered");
    }

    // ----------------------------------------------------------------- helpers

    function _sliceN(bytes memory data, uint256 from, uint256 n) internal pure returns (bytes memory out) {
        out = new bytes(n);
        for (uint256 i; i < n; ++i) {
            out[i] = data[from + i];
        }
    }
}
