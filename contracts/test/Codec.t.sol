// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MessageHarness, CheckpointHarness} from "./utils/Harnesses.sol";
import {Vm, VM} from "./utils/Vm.sol";

/// @notice MessageLib and CheckpointLib against docs/protocol.md written out by hand.
contract CodecTest {
    Vm internal constant vm = VM;

    MessageHarness internal messages = new MessageHarness();
    CheckpointHarness internal checkpoints = new CheckpointHarness();

    function test_fuzz_message_formatAndParse(MessageHarness.Fields memory f) public view {
        _roundTrip(f);
    }

    function test_message_boundaries() public view {
        _roundTrip(MessageHarness.Fields(0, 0, 0, bytes32(0), 0, bytes32(0), ""));
        uint32 max = type(uint32).max;
        bytes32 ones = bytes32(type(uint256).max);
        _roundTrip(MessageHarness.Fields(type(uint8).max, max, max, ones, max, ones, new bytes(1000)));
        _roundTrip(MessageHarness.Fields(1, 7, 1, ones, 2, bytes32(0), hex"00"));
    }

    function test_fuzz_checkpoint_digests(uint32 origin, bytes32 mailbox, bytes32 root, uint32 index) public view {
        bytes32 domain = keccak256(abi.encodePacked(origin, mailbox, "STBRIDGE"));
        bytes32 digest = keccak256(abi.encodePacked(domain, root, index));
        vm.assertEq(checkpoints.domainHash(origin, mailbox), domain, "domainHash");
        vm.assertEq(checkpoints.digest(domain, root, index), digest, "digest");
        vm.assertEq(
            checkpoints.signedDigest(domain, root, index),
            keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", digest)),
            "EIP-191"
        );
    }

    function test_checkpoint_packsToSixtyEightBytes() public view {
        // domainHash ‖ root ‖ uint32 index: 32 + 32 + 4 bytes, not three words.
        bytes32 digest = checkpoints.digest(bytes32(uint256(1)), bytes32(uint256(2)), 3);
        vm.assertEq(digest, keccak256(abi.encodePacked(uint256(1), uint256(2), uint32(3))), "68 bytes");
        vm.assertNotEq(digest, keccak256(abi.encode(uint256(1), uint256(2), uint256(3))), "not abi.encode");
    }

    function _roundTrip(MessageHarness.Fields memory f) internal view {
        bytes memory expected =
            abi.encodePacked(f.version, f.nonce, f.origin, f.sender, f.destination, f.recipient, f.body);
        bytes memory message = messages.format(f);
        vm.assertEq(message, expected, "packed layout");
        vm.assertEq(message.length, 77 + f.body.length, "77-byte header");
        (MessageHarness.Fields memory g, bytes32 id) = messages.parse(message);
        vm.assertEq(id, keccak256(expected), "id");
        vm.assertEq(g.version, f.version, "version");
        vm.assertEq(g.nonce, f.nonce, "nonce");
        vm.assertEq(g.origin, f.origin, "origin");
        vm.assertEq(g.sender, f.sender, "sender");
        vm.assertEq(g.destination, f.destination, "destination");
        vm.assertEq(g.recipient, f.recipient, "recipient");
        vm.assertEq(g.body, f.body, "body");
    }
}
