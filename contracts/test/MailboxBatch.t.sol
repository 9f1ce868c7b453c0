// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Mailbox} from "../src/Mailbox.sol";
import {IMailbox, Checkpoint} from "../src/interfaces/IMailbox.sol";
import {MailboxFixture} from "./utils/MailboxFixture.sol";
import {MerkleReference} from "./utils/MerkleReference.sol";
import {TestRecipient} from "./utils/Recipients.sol";
import {Vm} from "./utils/Vm.sol";

/// @notice processBatch beyond the proof: skipping delivered messages, failing handlers,
/// gas, recipients, bitmap words, and handlers that call the mailbox again.
contract MailboxBatchTest is MailboxFixture {
    bytes32 internal constant PROCESS_TOPIC = keccak256("Process(bytes32,uint32,uint32)");

    /// @notice Byte `index` of a ProcessFailed reason is not the handler's.
    error ReasonNotAPrefix(uint256 index);

    function setUp() public override {
        super.setUp();
        _sendMany(5);
    }

    // ------------------------------------------------------------- delivered messages

    function test_skipsMessagesDeliveredBefore() public {
        _process(2, 4); // someone delivers one message of the batch first
        vm.recordLogs();
        _processBatch(0, 4, 4);
        vm.assertEq(_processEvents(), 4, "four Process events, none for the skipped message");
        for (uint32 i; i < 5; ++i) {
            vm.assertEq(recipient.handled(_bodyHash(i)), 1, "each handled once");
        }
    }

    function test_batchOfDeliveredMessagesDoesNothing() public {
        _processBatch(0, 4, 4);
        vm.recordLogs();
        _processBatch(1, 3, 4);
        vm.assertEq(_processEvents(), 0, "no events");
        vm.assertEq(recipient.total(), 5, "no handler ran twice");
    }

    // ---------------------------------------------------------------- failing handlers

    function test_failingHandlerFailsAlone() public {
        bytes32 refused = _bodyHash(2);
        recipient.setRefuse(refused, true);
        vm.expectEmit(address(mailbox));
        emit IMailbox.ProcessFailed(
            leaves[2], ORIGIN, 2, abi.encodeWithSelector(TestRecipient.Refused.selector, refused)
        );
        _processBatch(0, 4, 4);
        for (uint32 i; i < 5; ++i) {
            vm.assertEq(mailbox.delivered(ORIGIN, i) ? 1 : 0, i == 2 ? 0 : 1, "all but the failing one");
        }
        vm.assertEq(recipient.handled(refused), 0, "its effects are undone");
        vm.assertEq(mailbox.deliveredWord(ORIGIN, 0), 0x1b, "the word agrees: bits 0, 1, 3, 4");
        vm.assertEq(mailbox.deliveredWord(ORIGIN, 1), 0, "the next word is untouched");
        vm.assertEq(mailbox.deliveredWord(ORIGIN + 1, 0), 0, "another origin's word is its own");
        vm.assertEq(
            // 992 << 24 | 8 << 24 would be ORIGIN's (1000) word 0 if it were not refused
            mailbox.deliveredWord(ORIGIN - 8, uint32(8) << 24),
            0,
            "a word past the last nonce aliases nothing"
        );
        // It can be delivered later, alone or in a batch.
        recipient.setRefuse(refused, false);
        _processBatch(0, 4, 4);
        vm.assertTrue(mailbox.delivered(ORIGIN, 2), "delivered on retry");
        vm.assertEq(recipient.total(), 5, "each once");
    }

    function test_failingReasonIsCut() public {
        recipient.setRevertBytes(_bodyHash(3), 1_000); // more revert data than is kept
        vm.recordLogs();
        _processBatch(0, 4, 4);
        Vm.Log memory failed = _onlyProcessFailed();
        vm.assertEq(failed.topics[1], leaves[3], "the failing message");
        (uint32 nonce, bytes memory reason) = abi.decode(failed.data, (uint32, bytes));
        vm.assertEq(nonce, 3, "nonce");
        vm.assertEq(reason.length, mailbox.MAX_REASON_LENGTH(), "reason cut");
        for (uint256 i; i < reason.length; ++i) {
            if (reason[i] != 0xab) revert ReasonNotAPrefix(i);
        }
        vm.assertFalse(mailbox.delivered(ORIGIN, 3), "undelivered");
        vm.assertEq(recipient.total(), 4, "the others delivered");
    }

    function test_gasBurnerFailsAloneWithExactlyHandlerGas() public {
        recipient.setBurn(_bodyHash(1), true);
        vm.expectEmit(address(mailbox));
        emit IMailbox.ProcessFailed(leaves[1], ORIGIN, 1, "");
        _processBatch(0, 4, 4);
        for (uint32 i; i < 5; ++i) {
            vm.assertEq(mailbox.delivered(ORIGIN, i) ? 1 : 0, i == 1 ? 0 : 1, "all but the burner");
        }
        // The others ran with exactly HANDLER_GAS (minus what `handle` spent before reading it).
        uint256 seen = recipient.lastGas();
        vm.assertLe(seen, mailbox.HANDLER_GAS(), "at most HANDLER_GAS");
        vm.assertLe(mailbox.HANDLER_GAS() - 1_000, seen, "about HANDLER_GAS");
    }

    function test_fuzz_gasLimitDecidesAllOrNothing(uint256 gasLimit) public {
        gasLimit = 200_000 + gasLimit % 4_000_000;
        recipient.setBurn(_bodyHash(1), true);
        Checkpoint memory cp = _checkpoint(4);
        bytes memory data = abi.encodeCall(IMailbox.processBatch, (cp, _sign(cp), _messages(0, 4), _proof(0, 4, 4)));
        (bool ok,) = address(mailbox).call{gas: gasLimit}(data);
        for (uint32 i; i < 5; ++i) {
            // Whatever the gas: either nothing happened, or exactly the burner failed.
            vm.assertEq(mailbox.delivered(ORIGIN, i) ? 1 : 0, ok && i != 1 ? 1 : 0, "outcome independent of gas");
        }
    }

    function test_gasLimit_enoughDeliversAllButTheBurner() public {
        recipient.setBurn(_bodyHash(1), true);
        Checkpoint memory cp = _checkpoint(4);
        bytes memory data = abi.encodeCall(IMailbox.processBatch, (cp, _sign(cp), _messages(0, 4), _proof(0, 4, 4)));
        (bool ok,) = address(mailbox).call{gas: 3_000_000}(data);
        vm.assertTrue(ok, "3M gas is enough for a burner and four handlers");
        vm.assertEq(recipient.total(), 4, "four delivered");
    }

    function test_insufficientGasRevertsTheWholeBatch() public {
        // The burner at nonce 0 takes its HANDLER_GAS; too little is left for nonce 1.
        recipient.setBurn(_bodyHash(0), true);
        Checkpoint memory cp = _checkpoint(4);
        bytes memory sigs = _sign(cp);
        bytes[] memory msgs = _messages(0, 4);
        bytes32[] memory proof = _proof(0, 4, 4);
        vm.expectPartialRevert(Mailbox.InsufficientGas.selector);
        mailbox.processBatch{gas: 700_000}(cp, sigs, msgs, proof);
        for (uint32 i; i < 5; ++i) {
            vm.assertFalse(mailbox.delivered(ORIGIN, i), "nothing delivered");
        }
    }

    // ------------------------------------------------------------------ header checks

    function test_fuzz_batchRefusesWhatProcessRefuses(uint256 at, uint8 value, uint256 cut) public {
        // One message, one header byte changed and maybe cut short: the batch's fast path
        // and process must agree, error for error.
        bytes memory message = sent[3];
        message[at % 77] = bytes1(value);
        cut = cut % 3 == 0 ? cut % message.length : message.length;
        assembly {
            mstore(message, cut)
        }
        Checkpoint memory cp = _checkpoint(4);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(3, 3, 4);
        bytes[] memory one = new bytes[](1);
        one[0] = message;
        uint256 snapshot = recipient.total();
        (bool ok1, bytes memory err1) =
            address(mailbox).call(abi.encodeCall(IMailbox.process, (cp, sigs, message, proof)));
        if (ok1) return; // the byte was unchanged: delivered, nothing to compare
        (bool ok2, bytes memory err2) =
            address(mailbox).call(abi.encodeCall(IMailbox.processBatch, (cp, sigs, one, proof)));
        vm.assertFalse(ok2, "the batch refuses it too");
        vm.assertEq(err2, err1, "with the same error");
        vm.assertEq(recipient.total(), snapshot, "nothing handled");
    }

    function test_batch_refusesAMessageForAnotherDestinationInTheRange() public {
        _sendTo(OTHER_ORIGIN, _b32(address(recipient)), "for another chain"); // nonce 5, really in the tree
        _send(_body(6));
        Checkpoint memory cp = _checkpoint(6);
        bytes memory sigs = _sign(cp);
        bytes[] memory msgs = _messages(4, 6);
        bytes32[] memory proof = _proof(4, 6, 6);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.WrongDestination.selector, OTHER_ORIGIN));
        mailbox.processBatch(cp, sigs, msgs, proof);
    }

    function test_batch_refusesATreeThatMixesOrigins() public {
        // A broken or malicious origin mailbox whose tree holds a message claiming another
        // origin, signed by the committee: the origin field must match the checkpoint's.
        bytes32 otherMailbox = _b32(address(0xD0D0));
        mailbox.setOrigin(OTHER_ORIGIN, otherMailbox, validatorAddrs, THRESHOLD);
        bytes32 to = _b32(address(recipient));
        bytes[] memory msgs = new bytes[](2);
        msgs[0] = _encode(1, 0, OTHER_ORIGIN, _b32(APP), DESTINATION, to, "honest");
        msgs[1] = _encode(1, 1, ORIGIN, _b32(APP), DESTINATION, to, "claims another origin");
        bytes32[] memory ids = new bytes32[](2);
        (ids[0], ids[1]) = (keccak256(msgs[0]), keccak256(msgs[1]));
        Checkpoint memory cp = Checkpoint(OTHER_ORIGIN, MerkleReference.root(ids, 1), 1);
        bytes memory sigs = _signDigest(_signedDigest(OTHER_ORIGIN, otherMailbox, cp.root, 1), _firstKeys(THRESHOLD));
        bytes32[] memory proof = MerkleReference.rangeProof(ids, 0, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(Mailbox.OriginMismatch.selector, ORIGIN, OTHER_ORIGIN));
        mailbox.processBatch(cp, sigs, msgs, proof);
    }

    // ---------------------------------------------------------------------- recipients

    function test_recipientWithoutCodeFailsAlone() public {
        bytes32 nobody = _b32(address(0xBEEF));
        _sendTo(DESTINATION, nobody, "to nobody"); // nonce 5
        _send(_body(6)); // nonce 6
        vm.expectEmit(address(mailbox));
        emit IMailbox.ProcessFailed(
            leaves[5], ORIGIN, 5, abi.encodeWithSelector(Mailbox.InvalidRecipient.selector, nobody)
        );
        _processBatch(4, 6, 6);
        vm.assertFalse(mailbox.delivered(ORIGIN, 5), "undelivered");
        vm.assertTrue(mailbox.delivered(ORIGIN, 6), "the next one delivered");
    }

    function test_zeroRecipientFailsFirstInABatch() public {
        // The first message of the batch, before any recipient was found to be a contract.
        _sendTo(DESTINATION, bytes32(0), "to address zero"); // nonce 5
        _send(_body(6));
        vm.expectEmit(address(mailbox));
        emit IMailbox.ProcessFailed(leaves[5], ORIGIN, 5, abi.encodeWithSelector(Mailbox.InvalidRecipient.selector, 0));
        _processBatch(5, 6, 6);
        vm.assertFalse(mailbox.delivered(ORIGIN, 5), "undelivered");
        vm.assertTrue(mailbox.delivered(ORIGIN, 6), "the next one delivered");
    }

    function test_recipientWithHighBitsFailsEvenAfterItsLowBitsWereSeen() public {
        bytes32 dirty = bytes32(uint256(_b32(address(recipient))) | (uint256(0xff) << 160));
        _sendTo(DESTINATION, dirty, "dirty"); // nonce 5, right after messages to the clean address
        vm.expectEmit(address(mailbox));
        emit IMailbox.ProcessFailed(
            leaves[5], ORIGIN, 5, abi.encodeWithSelector(Mailbox.InvalidRecipient.selector, dirty)
        );
        _processBatch(3, 5, 5);
        vm.assertFalse(mailbox.delivered(ORIGIN, 5), "undelivered");
        vm.assertTrue(mailbox.delivered(ORIGIN, 4), "the clean ones delivered");
    }

    function test_batchToSeveralRecipients() public {
        TestRecipient other = new TestRecipient(address(mailbox));
        _sendTo(DESTINATION, _b32(address(other)), "a"); // 5
        _send("b"); // 6
        _sendTo(DESTINATION, _b32(address(other)), "c"); // 7
        _processBatch(4, 7, 7);
        vm.assertEq(other.total(), 2, "other recipient");
        vm.assertEq(recipient.handled(keccak256("b")), 1, "first recipient");
    }

    // ------------------------------------------------------------------ bitmap words

    function test_batchAcrossTwoBitmapWords() public {
        _sendMany(262 - 5); // nonces 0..261
        _processBatch(250, 261, 261);
        vm.assertFalse(mailbox.delivered(ORIGIN, 249), "before the range");
        for (uint32 i = 250; i <= 261; ++i) {
            vm.assertTrue(mailbox.delivered(ORIGIN, i), "in the range, both words");
        }
        _processBatch(0, 255, 261); // a whole word, one of it delivered before (none here), then again
        _processBatch(240, 261, 261); // overlaps both: only 240..249 are new
        vm.assertEq(recipient.total(), 262, "each message once");
    }

    // ---------------------------------------------------------------------- reentrancy

    function test_reentrancy_processWhoseHandlerRunsTheBatch() public {
        // process(0)'s handler delivers the batch 0..4 from inside: 0 is marked already.
        Checkpoint memory cp = _checkpoint(4);
        bytes memory inner = abi.encodeCall(IMailbox.processBatch, (cp, _sign(cp), _messages(0, 4), _proof(0, 4, 4)));
        recipient.setReentry(_bodyHash(0), inner, false);
        _process(0, 4);
        vm.assertTrue(recipient.reentryOk(), "the inner batch went through");
        for (uint32 i; i < 5; ++i) {
            vm.assertEq(recipient.handled(_bodyHash(i)), 1, "each handled once");
        }
        vm.assertEq(recipient.total(), 5, "no double delivery");
    }

    function test_reentrancy_batchHandlerCannotDeliverABatchMessage() public {
        // In a batch, message 1's handler tries to deliver message 3: the batch claimed it.
        Checkpoint memory cp = _checkpoint(4);
        bytes memory inner = abi.encodeCall(IMailbox.process, (cp, _sign(cp), sent[3], _proof(3, 3, 4)));
        recipient.setReentry(_bodyHash(1), inner, false);
        _processBatch(0, 4, 4);
        vm.assertFalse(recipient.reentryOk(), "inner process refused");
        vm.assertEq(
            recipient.reentryResult(), abi.encodeWithSelector(IMailbox.AlreadyDelivered.selector, ORIGIN, 3), "why"
        );
        vm.assertEq(recipient.handled(_bodyHash(3)), 1, "delivered once, by the batch");
        vm.assertEq(recipient.total(), 5, "each once");
    }

    function test_reentrancy_handlerRedeliversItself() public {
        Checkpoint memory cp = _checkpoint(4);
        bytes memory inner = abi.encodeCall(IMailbox.process, (cp, _sign(cp), sent[2], _proof(2, 2, 4)));
        recipient.setReentry(_bodyHash(2), inner, false);
        _process(2, 4);
        vm.assertEq(
            recipient.reentryResult(), abi.encodeWithSelector(IMailbox.AlreadyDelivered.selector, ORIGIN, 2), "why"
        );
        vm.assertEq(recipient.handled(_bodyHash(2)), 1, "once");
    }

    function test_reentrancy_handlerRevertsAfterReentering() public {
        // process(0)'s handler delivers 1..4, then reverts: everything it did is undone.
        Checkpoint memory cp = _checkpoint(4);
        bytes memory inner = abi.encodeCall(IMailbox.processBatch, (cp, _sign(cp), _messages(1, 4), _proof(1, 4, 4)));
        recipient.setReentry(_bodyHash(0), inner, true);
        Checkpoint memory outer = _checkpoint(4);
        bytes memory sigs = _sign(outer);
        bytes32[] memory proof = _proof(0, 0, 4);
        vm.expectPartialRevert(TestRecipient.ReentryFailed.selector);
        mailbox.process(outer, sigs, sent[0], proof);
        for (uint32 i; i < 5; ++i) {
            vm.assertFalse(mailbox.delivered(ORIGIN, i), "nothing delivered");
        }
        // In a batch the same handler fails alone; the batch delivers the rest once.
        _processBatch(0, 4, 4);
        vm.assertFalse(mailbox.delivered(ORIGIN, 0), "the reverting one stays undelivered");
        for (uint32 i = 1; i < 5; ++i) {
            vm.assertEq(recipient.handled(_bodyHash(i)), 1, "the others once");
        }
    }

    // ------------------------------------------------------------------------ helpers

    /// @notice The mailbox's Process events among the recorded logs.
    function _processEvents() internal returns (uint256 n) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(mailbox) && logs[i].topics[0] == PROCESS_TOPIC) ++n;
        }
    }

    /// @notice The one ProcessFailed event among the recorded logs.
    function _onlyProcessFailed() internal returns (Vm.Log memory found) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 n;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(mailbox) && logs[i].topics[0] == IMailbox.ProcessFailed.selector) {
                found = logs[i];
                ++n;
            }
        }
        vm.assertEq(n, 1, "one ProcessFailed");
    }
}
