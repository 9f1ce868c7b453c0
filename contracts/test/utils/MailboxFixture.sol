// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Mailbox} from "../../src/Mailbox.sol";
import {Checkpoint} from "../../src/interfaces/IMailbox.sol";
import {MerkleReference} from "./MerkleReference.sol";
import {TestRecipient} from "./Recipients.sol";
import {Vm, VM} from "./Vm.sol";

/// @notice Two mailboxes on two domains: `outbox` on ORIGIN sends, `mailbox` on DESTINATION
/// receives from ORIGIN under a 3-of-5 validator set. Messages sent through the real outbox
/// are kept with their ids and the root after each, so tests can sign checkpoints of any
/// index and build proofs with the reference prover.
abstract contract MailboxFixture {
    Vm internal constant vm = VM;

    uint32 internal constant ORIGIN = 1000;
    uint32 internal constant DESTINATION = 2000;
    uint32 internal constant OTHER_ORIGIN = 3000;
    address internal constant APP = address(0xA11CE);
    uint256 internal constant VALIDATOR_COUNT = 5;
    uint8 internal constant THRESHOLD = 3;

    Mailbox internal outbox; // on ORIGIN
    Mailbox internal mailbox; // on DESTINATION
    TestRecipient internal recipient; // on DESTINATION

    uint256[] internal validatorKeys; // ascending by address
    address[] internal validatorAddrs; // ascending

    bytes[] internal sent; // messages dispatched on the outbox, by nonce
    bytes32[] internal leaves; // their ids
    bytes32[] internal roots; // roots[i]: the outbox root once message i was in

    function setUp() public virtual {
        vm.chainId(ORIGIN);
        outbox = new Mailbox(address(this));
        vm.chainId(DESTINATION);
        mailbox = new Mailbox(address(this));
        recipient = new TestRecipient(address(mailbox));
        for (uint256 i; i < VALIDATOR_COUNT; ++i) {
            validatorKeys.push(uint256(keccak256(abi.encode("stbridge.validator", i))));
        }
        _sortKeys(validatorKeys);
        for (uint256 i; i < VALIDATOR_COUNT; ++i) {
            validatorAddrs.push(vm.addr(validatorKeys[i]));
        }
        mailbox.setOrigin(ORIGIN, _b32(address(outbox)), validatorAddrs, THRESHOLD);
    }

    // ------------------------------------------------------------------------- sending

    /// @notice Dispatches `body` from APP to the test recipient on DESTINATION.
    function _send(bytes memory body) internal returns (bytes memory message) {
        return _sendTo(DESTINATION, _b32(address(recipient)), body);
    }

    /// @notice Dispatches from APP through the real outbox; keeps the message, id and root.
    function _sendTo(uint32 destination, bytes32 to, bytes memory body) internal returns (bytes memory message) {
        vm.recordLogs();
        vm.prank(APP);
        bytes32 id = outbox.dispatch(destination, to, body);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        vm.assertEq(logs.length, 1, "one Dispatch log");
        (, message) = abi.decode(logs[0].data, (uint32, bytes));
        vm.assertEq(keccak256(message), id, "Dispatch id is keccak256(message)");
        sent.push(message);
        leaves.push(id);
        roots.push(outbox.root());
    }

    /// @notice Sends `n` messages with bodies _body(k) for k = sent.length ..
    function _sendMany(uint256 n) internal {
        for (uint256 i; i < n; ++i) {
            _send(_body(sent.length));
        }
    }

    /// @notice A message written out field by field (docs/protocol.md), for the tests that
    /// need one the outbox would never send.
    function _encode(
        uint8 version,
        uint32 nonce,
        uint32 origin,
        bytes32 sender,
        uint32 destination,
        bytes32 to,
        bytes memory body
    ) internal pure returns (bytes memory) {
        return abi.encodePacked(version, nonce, origin, sender, destination, to, body);
    }

    function _body(uint256 k) internal pure returns (bytes memory) {
        return abi.encode("transfer", k);
    }

    // ------------------------------------------------------------------- checkpoints

    function _checkpoint(uint32 index) internal view returns (Checkpoint memory) {
        return Checkpoint(ORIGIN, roots[index], index);
    }

    /// @notice The EIP-191 hash validators sign, written out from docs/protocol.md.
    function _signedDigest(uint32 origin, bytes32 originMailbox, bytes32 root, uint32 index)
        internal
        pure
        returns (bytes32)
    {
        bytes32 domain = keccak256(abi.encodePacked(origin, originMailbox, "STBRIDGE"));
        bytes32 digest = keccak256(abi.encodePacked(domain, root, index));
        return keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", digest));
    }

    /// @notice Signatures of `cp` (for the outbox's domain) by `keys`, in the order given.
    function _signWith(Checkpoint memory cp, uint256[] memory keys) internal view returns (bytes memory sigs) {
        return _signDigest(_signedDigest(cp.origin, _b32(address(outbox)), cp.root, cp.index), keys);
    }

    function _signDigest(bytes32 signed, uint256[] memory keys) internal pure returns (bytes memory sigs) {
        for (uint256 i; i < keys.length; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[i], signed);
            sigs = bytes.concat(sigs, r, s, bytes1(v));
        }
    }

    /// @notice The first THRESHOLD validators sign `cp` of the outbox (ascending order).
    function _sign(Checkpoint memory cp) internal view returns (bytes memory) {
        return _signWith(cp, _firstKeys(THRESHOLD));
    }

    function _firstKeys(uint256 k) internal view returns (uint256[] memory keys) {
        keys = new uint256[](k);
        for (uint256 i; i < k; ++i) {
            keys[i] = validatorKeys[i];
        }
    }

    // ------------------------------------------------------------------------- proofs

    function _proof(uint256 start, uint256 end, uint256 index) internal view returns (bytes32[] memory) {
        return MerkleReference.rangeProof(leaves, start, end, index);
    }

    function _messages(uint256 start, uint256 end) internal view returns (bytes[] memory out) {
        out = new bytes[](end - start + 1);
        for (uint256 i; i < out.length; ++i) {
            out[i] = sent[start + i];
        }
    }

    /// @notice Delivers message `nonce` alone against the checkpoint at `index`.
    function _process(uint32 nonce, uint32 index) internal {
        Checkpoint memory cp = _checkpoint(index);
        mailbox.process(cp, _sign(cp), sent[nonce], _proof(nonce, nonce, index));
    }

    /// @notice Delivers start..end in one batch against the checkpoint at `index`.
    function _processBatch(uint32 start, uint32 end, uint32 index) internal {
        Checkpoint memory cp = _checkpoint(index);
        mailbox.processBatch(cp, _sign(cp), _messages(start, end), _proof(start, end, index));
    }

    // -------------------------------------------------------------------------- misc

    /// @notice No storage slot of the mailbox holds the tree's count.
    error SlotNotFound(uint256 count);

    /// @notice The storage slot of a mailbox's tree count, found by its current value.
    function _countSlot(Mailbox box) internal view returns (bytes32) {
        uint256 current = box.count();
        for (uint256 s; s < 128; ++s) {
            if (vm.load(address(box), bytes32(s)) == bytes32(current)) return bytes32(s);
        }
        revert SlotNotFound(current);
    }

    function _b32(address a) internal pure returns (bytes32) {
        return bytes32(uint256(uint160(a)));
    }

    /// @notice Insertion sort of keys by their address.
    function _sortKeys(uint256[] storage keys) internal {
        for (uint256 i = 1; i < keys.length; ++i) {
            for (uint256 j = i; j > 0 && vm.addr(keys[j]) < vm.addr(keys[j - 1]); --j) {
                (keys[j], keys[j - 1]) = (keys[j - 1], keys[j]);
            }
        }
    }

    function _one(uint256 key) internal pure returns (uint256[] memory keys) {
        keys = new uint256[](1);
        keys[0] = key;
    }

    function _bodyHash(uint256 nonce) internal view returns (bytes32) {
        return keccak256(_slice(sent[nonce], 77));
    }

    function _slice(bytes memory data, uint256 from) internal pure returns (bytes memory out) {
        out = new bytes(data.length - from);
        for (uint256 i; i < out.length; ++i) {
            out[i] = data[from + i];
        }
    }
}
