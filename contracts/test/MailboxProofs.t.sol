// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMailbox, Checkpoint} from "../src/interfaces/IMailbox.sol";
import {MailboxFixture} from "./utils/MailboxFixture.sol";
import {MerkleReference} from "./utils/MerkleReference.sol";

/// @notice Every way a message or a proof could try to get past the Merkle check, through
/// process and processBatch, with honest signatures on the checkpoints.
contract MailboxProofsTest is MailboxFixture {
    function setUp() public override {
        super.setUp();
        _sendMany(8);
    }

    // ------------------------------------------------------------------------- roots

    function test_refusesZeroRoot() public {
        Checkpoint memory cp = Checkpoint(ORIGIN, bytes32(0), 7);
        bytes memory sigs = _sign(cp); // even signed by the committee
        vm.expectRevert(IMailbox.ZeroRoot.selector);
        mailbox.process(cp, sigs, sent[0], new bytes32[](0));
        vm.expectRevert(IMailbox.ZeroRoot.selector);
        mailbox.processBatch(cp, sigs, _messages(0, 1), new bytes32[](0));
    }

    function test_nomad_unprovenMessageRefused() public {
        // A message the outbox never sent, at a nonce the tree holds, with the proof of the
        // leaf that is there, under an honest checkpoint.
        bytes memory fake = _encode(1, 3, ORIGIN, _b32(APP), DESTINATION, _b32(address(recipient)), "mint me");
        Checkpoint memory cp = _checkpoint(7);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(3, 3, 7);
        vm.expectRevert(IMailbox.InvalidProof.selector);
        mailbox.process(cp, sigs, fake, proof);
        // With no proof at all.
        vm.expectRevert(IMailbox.InvalidProof.selector);
        mailbox.process(cp, sigs, fake, new bytes32[](0));
    }

    function test_nomad_defaultRootAndDefaultConfigRefused() public {
        bytes memory fake = _encode(1, 0, ORIGIN, _b32(APP), DESTINATION, _b32(address(recipient)), "mint me");
        // The zero root (what an unset storage slot would hold) is never acceptable...
        Checkpoint memory zero = Checkpoint(ORIGIN, bytes32(0), 0);
        bytes memory zeroSigs = _sign(zero);
        vm.expectRevert(IMailbox.ZeroRoot.selector);
        mailbox.process(zero, zeroSigs, fake, new bytes32[](0));
        // ...nor is the empty tree's root: no message is in it.
        Checkpoint memory empty = Checkpoint(ORIGIN, MerkleReference.zeros()[32], 0);
        bytes memory emptySigs = _sign(empty);
        vm.expectRevert(IMailbox.InvalidProof.selector);
        mailbox.process(empty, emptySigs, fake, new bytes32[](0)); // leaf 0 of a 1-leaf tree: no siblings
        // An origin left at its default (unconfigured) settings accepts nothing.
        bytes memory other = _encode(1, 0, OTHER_ORIGIN, _b32(APP), DESTINATION, _b32(address(recipient)), "x");
        Checkpoint memory cp = Checkpoint(OTHER_ORIGIN, keccak256(other), 0);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.UnknownOrigin.selector, OTHER_ORIGIN));
        mailbox.process(cp, "", other, new bytes32[](0));
    }

    // ------------------------------------------------------------------------ proofs

    function test_refusesProofOfAnotherIndex() public {
        Checkpoint memory cp = _checkpoint(7);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proofOf4 = _proof(4, 4, 7);
        vm.expectRevert(IMailbox.InvalidProof.selector);
        mailbox.process(cp, sigs, sent[5], proofOf4);
    }

    function test_refusesNonceBeyondCheckpoint() public {
        Checkpoint memory cp = _checkpoint(4);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(4, 4, 4);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.NonceBeyondCheckpoint.selector, 5, 4));
        mailbox.process(cp, sigs, sent[5], proof);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.NonceBeyondCheckpoint.selector, 5, 4));
        mailbox.processBatch(cp, sigs, _messages(3, 6), proof);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.NonceBeyondCheckpoint.selector, 6, 4));
        mailbox.processBatch(cp, sigs, _messages(6, 7), proof);
    }

    function test_refusesProofWithExtraElement() public {
        Checkpoint memory cp = _checkpoint(7);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(2, 2, 7);
        bytes32[] memory longer = new bytes32[](proof.length + 1);
        for (uint256 i; i < proof.length; ++i) {
            longer[i] = proof[i];
        }
        vm.expectRevert(IMailbox.InvalidProof.selector);
        mailbox.process(cp, sigs, sent[2], longer);
    }

    function test_refusesProofWithMissingElement() public {
        Checkpoint memory cp = _checkpoint(7);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(2, 5, 7);
        bytes32[] memory shorter = new bytes32[](proof.length - 1);
        for (uint256 i; i < shorter.length; ++i) {
            shorter[i] = proof[i];
        }
        vm.expectRevert(IMailbox.InvalidProof.selector);
        mailbox.processBatch(cp, sigs, _messages(2, 5), shorter);
    }

    function test_refusesFull32LevelProof() public {
        // The elided right siblings must stay elided: a proof padded with Z[h] is refused.
        Checkpoint memory cp = _checkpoint(7);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(0, 0, 7);
        bytes32[] memory z = MerkleReference.zeros();
        bytes32[] memory padded = new bytes32[](32);
        for (uint256 h; h < 32; ++h) {
            padded[h] = h < proof.length ? proof[h] : z[h];
        }
        vm.expectRevert(IMailbox.InvalidProof.selector);
        mailbox.process(cp, sigs, sent[0], padded);
    }

    // ------------------------------------------------------------------------ batches

    function test_batch_refusesEmpty() public {
        Checkpoint memory cp = _checkpoint(7);
        bytes memory sigs = _sign(cp);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.NotContiguous.selector, 0));
        mailbox.processBatch(cp, sigs, new bytes[](0), new bytes32[](0));
    }

    function test_batch_refusesGap() public {
        Checkpoint memory cp = _checkpoint(7);
        bytes[] memory msgs = new bytes[](3);
        (msgs[0], msgs[1], msgs[2]) = (sent[1], sent[2], sent[4]);
        bytes memory sigs = _sign(cp);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.NotContiguous.selector, 2));
        mailbox.processBatch(cp, sigs, msgs, _proof(1, 3, 7));
    }

    function test_batch_refusesReversedOrDuplicated() public {
        Checkpoint memory cp = _checkpoint(7);
        bytes memory sigs = _sign(cp);
        bytes[] memory msgs = new bytes[](2);
        (msgs[0], msgs[1]) = (sent[3], sent[2]);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.NotContiguous.selector, 1));
        mailbox.processBatch(cp, sigs, msgs, _proof(2, 3, 7));
        (msgs[0], msgs[1]) = (sent[3], sent[3]);
        vm.expectRevert(abi.encodeWithSelector(IMailbox.NotContiguous.selector, 1));
        mailbox.processBatch(cp, sigs, msgs, _proof(3, 4, 7));
    }

    function test_batch_headerErrorsNameTheMessage() public {
        Checkpoint memory cp = _checkpoint(7);
        bytes memory sigs = _sign(cp);
        bytes[] memory msgs = _messages(0, 2);
        msgs[2][0] = 0x07; // third message: version 7
        vm.expectRevert(abi.encodeWithSelector(IMailbox.WrongVersion.selector, 7));
        mailbox.processBatch(cp, sigs, msgs, _proof(0, 2, 7));
    }

    function test_batch_refusesAForgedMessageInTheRange() public {
        Checkpoint memory cp = _checkpoint(7);
        bytes memory sigs = _sign(cp);
        bytes[] memory msgs = _messages(2, 5);
        msgs[1] = _encode(1, 3, ORIGIN, _b32(APP), DESTINATION, _b32(address(recipient)), "forged");
        vm.expectRevert(IMailbox.InvalidProof.selector);
        mailbox.processBatch(cp, sigs, msgs, _proof(2, 5, 7));
        vm.assertFalse(mailbox.delivered(ORIGIN, 2), "nothing of the batch delivered");
    }

    function test_batch_refusesAnotherRangesProof() public {
        Checkpoint memory cp = _checkpoint(7);
        bytes memory sigs = _sign(cp);
        bytes32[] memory proof = _proof(1, 4, 7);
        vm.expectRevert(IMailbox.InvalidProof.selector);
        mailbox.processBatch(cp, sigs, _messages(2, 5), proof);
    }

    // ------------------------------------------------------- fuzz and its boundaries

    function test_fuzz_batch_deliversExactlyTheRange(uint256 extra, uint256 start, uint256 end, uint256 index) public {
        _sendMany(extra % 57); // 8..64 messages in all
        uint256 count = sent.length;
        start = start % count;
        end = start + end % (count - start);
        index = end + index % (count - end);
        _processBatch(uint32(start), uint32(end), uint32(index));
        for (uint256 i; i < count; ++i) {
            bool inRange = i >= start && i <= end;
            vm.assertEq(mailbox.delivered(ORIGIN, uint32(i)) ? 1 : 0, inRange ? 1 : 0, "delivered iff in range");
            vm.assertEq(recipient.handled(_bodyHash(i)), inRange ? 1 : 0, "handled iff in range");
        }
    }

    function test_batch_boundaries() public {
        _sendMany(24); // 32 messages
        _processBatch(0, 0, 0); // count = 1 at its checkpoint: the first leaf
        _processBatch(31, 31, 31); // the last leaf at the checkpoint index
        _processBatch(8, 15, 31); // a whole subtree of 8
        _processBatch(16, 30, 30); // ends at the checkpoint index, odd count
        _processBatch(1, 7, 9); // checkpoint below the last leaf
        for (uint32 i; i < 32; ++i) {
            vm.assertTrue(mailbox.delivered(ORIGIN, i), "all delivered");
            vm.assertEq(recipient.handled(_bodyHash(i)), 1, "each once");
        }
    }

    function test_batch_wholeTreeOfPowerOfTwo() public {
        _sendMany(24); // 32 messages
        _processBatch(0, 31, 31);
        vm.assertEq(recipient.total(), 32, "all 32 handled");
    }
}
