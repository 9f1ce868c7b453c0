// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Mailbox} from "../src/Mailbox.sol";
import {Checkpoint} from "../src/interfaces/IMailbox.sol";
import {MerkleHarness, MessageHarness, CheckpointHarness} from "./utils/Harnesses.sol";
import {MailboxFixture} from "./utils/MailboxFixture.sol";
import {MerkleReference} from "./utils/MerkleReference.sol";
import {TestRecipient} from "./utils/Recipients.sol";
import {VectorBodies} from "./utils/VectorBodies.sol";
import {SortedTree} from "./utils/SortedTree.sol";
import {DistributionLib} from "../src/libs/DistributionLib.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @notice Writes tests/vectors/{messages,merkle,checkpoints}.json (formats in docs/protocol.md
/// "Shared vectors") from the real code: messages dispatched by real mailboxes, roots of
/// MerkleLib's incremental tree, digests from CheckpointLib, and every proof and checkpoint
/// accepted by MerkleLib / a real inbox before it is written; bodies.json from VectorBodies.
/// Fixed inputs only, so a rerun writes the same bytes (`make vectors`).
contract VectorsTest is MailboxFixture, VectorBodies {
    string internal constant DIR = "../tests/vectors/";
    /// @dev Devnet keys of the "test test ... junk" mnemonic (accounts 1, 2, 3): public test keys.
    uint256 internal constant KEY1 = 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d;
    uint256 internal constant KEY2 = 0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a;
    uint256 internal constant KEY3 = 0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6;
    uint32 internal constant HOME = 1; // origin of the ordinary messages
    uint32 internal constant REMOTE = 10; // where they go
    address internal constant TO = 0x1111111111111111111111111111111111111111;
    address internal constant FROM = 0x70997970C51812dc3A010C7d01b50e0d17dc79C8;

    uint256 internal constant NO_DELIVERY = type(uint256).max;

    MessageHarness internal codec = new MessageHarness();
    CheckpointHarness internal digests = new CheckpointHarness();
    Mailbox internal checkpointHome; // on HOME, for test_writeCheckpoints
    Mailbox internal inbox; // on REMOTE, for test_writeCheckpoints
    bytes[] internal homeMessages;
    bytes32[] internal homeIds;
    bytes32[] internal homeRoots;

    // ---------------------------------------------------------------------- messages

    function test_writeMessages() public {
        Mailbox home = _outbox(HOME);
        string[] memory out = new string[](10);
        out[0] = _dispatch(home, FROM, REMOTE, _b32(TO), "");
        out[1] = _dispatch(home, FROM, REMOTE, _b32(TO), "hello");
        out[2] = _dispatch(home, FROM, REMOTE, _b32(TO), _pattern(31));
        out[3] = _dispatch(home, FROM, REMOTE, _b32(TO), _pattern(32));
        out[4] = _dispatch(home, FROM, REMOTE, _b32(TO), _pattern(33));
        out[5] = _dispatch(home, FROM, REMOTE, _b32(TO), _pattern(1024));
        out[6] = _dispatch(home, FROM, REMOTE, _b32(TO), _transferBody());
        // Largest destination, a recipient that is no EVM address, the smallest sender; a zero recipient.
        out[7] = _dispatch(home, address(1), type(uint32).max, bytes32(type(uint256).max), "max");
        out[8] = _dispatch(home, FROM, REMOTE, bytes32(0), "");
        // Largest origin, the largest nonce a tree can hand out (2^32 - 2), largest sender.
        Mailbox top = _outbox(type(uint32).max);
        _dispatch(top, FROM, 0, _b32(TO), "filler");
        vm.store(address(top), _countSlot(top), bytes32(uint256(type(uint32).max) - 1));
        out[9] = _dispatch(top, address(type(uint160).max), 0, _b32(TO), "last leaf");
        vm.writeJson(_array(out, 9), string.concat(DIR, "messages.json"));
    }

    /// @notice Dispatches through the real outbox, reads the message back with MessageLib
    /// and returns its JSON object.
    function _dispatch(Mailbox box, address app, uint32 destination, bytes32 to, bytes memory body)
        internal
        returns (string memory)
    {
        vm.recordLogs();
        vm.prank(app);
        bytes32 id = box.dispatch(destination, to, body);
        (, bytes memory message) = abi.decode(vm.getRecordedLogs()[0].data, (uint32, bytes));
        (MessageHarness.Fields memory f, bytes32 parsedId) = codec.parse(message);
        vm.assertEq(parsedId, id, "id");
        vm.assertEq(f.destination, destination, "destination");
        vm.assertEq(f.recipient, to, "recipient");
        vm.assertEq(f.body, body, "body");
        vm.assertEq(codec.format(f), message, "format(parse(m)) == m");
        string memory k = vm.toString(id);
        vm.serializeUint(k, "version", f.version);
        vm.serializeUint(k, "nonce", f.nonce);
        vm.serializeUint(k, "origin", f.origin);
        vm.serializeBytes32(k, "sender", f.sender);
        vm.serializeUint(k, "destination", f.destination);
        vm.serializeBytes32(k, "recipient", f.recipient);
        vm.serializeBytes(k, "body", f.body);
        vm.serializeBytes(k, "message", message);
        return vm.serializeBytes32(k, "id", id);
    }

    // ------------------------------------------------------------------------ merkle

    function test_writeMerkle() public {
        uint256[7] memory counts = [uint256(1), 2, 3, 7, 8, 33, 100];
        string[] memory trees = new string[](counts.length);
        for (uint256 t; t < counts.length; ++t) {
            trees[t] = _tree(counts[t]);
        }
        bytes32[32] memory z = new MerkleHarness().zeroHashes();
        bytes32[] memory zeros = new bytes32[](32);
        for (uint256 h; h < 32; ++h) {
            zeros[h] = z[h];
        }
        vm.serializeBytes32("merkle", "zeroHashes", zeros);
        string memory json = vm.serializeString("merkle", "trees", trees);
        vm.writeJson(json, string.concat(DIR, "merkle.json"));
    }

    function _tree(uint256 count) internal returns (string memory) {
        MerkleHarness tree = new MerkleHarness();
        bytes32[] memory leafs = new bytes32[](count);
        bytes32[] memory rootAt = new bytes32[](count); // rootAt[i]: root once leaves 0..i are in
        for (uint256 i; i < count; ++i) {
            leafs[i] = keccak256(abi.encode("stbridge.vector.leaf", count, i));
            tree.insert(leafs[i]);
            rootAt[i] = tree.root();
        }
        uint256[3][] memory ranges = _rangesFor(count);
        string[] memory out = new string[](ranges.length);
        for (uint256 r; r < ranges.length; ++r) {
            (uint256 s, uint256 e, uint256 idx) = (ranges[r][0], ranges[r][1], ranges[r][2]);
            bytes32[] memory proof = MerkleReference.rangeProof(leafs, s, e, idx);
            vm.assertEq(tree.rangeRoot(MerkleReference.slice(leafs, s, e), s, idx, proof), rootAt[idx], "MerkleLib");
            string memory k = string.concat("range", vm.toString(count), "_", vm.toString(r));
            vm.serializeUint(k, "start", s);
            vm.serializeUint(k, "end", e);
            vm.serializeUint(k, "index", idx);
            vm.serializeBytes32(k, "root", rootAt[idx]);
            out[r] = vm.serializeBytes32(k, "proof", proof);
        }
        string memory key = string.concat("tree", vm.toString(count));
        vm.serializeBytes32(key, "leaves", leafs);
        vm.serializeUint(key, "count", count);
        vm.serializeBytes32(key, "root", rootAt[count - 1]);
        return vm.serializeString(key, "ranges", out);
    }

    /// @notice Single leaves (first, last, middle), the whole tree, inner ranges, whole
    /// power-of-two subtrees, and checkpoints below the last leaf: (start, end, index).
    function _rangesFor(uint256 count) internal pure returns (uint256[3][] memory r) {
        uint256 last = count - 1;
        uint256 mid = last / 2;
        r = new uint256[3][](10);
        uint256 n;
        r[n++] = [uint256(0), 0, last];
        if (count >= 2) {
            r[n++] = [last, last, last];
            r[n++] = [uint256(0), last, last];
            r[n++] = [uint256(0), mid, mid]; // a checkpoint below the last leaf
        }
        if (count >= 3) {
            r[n++] = [mid, mid, last];
            r[n++] = [uint256(1), last - 1, last];
        }
        if (count >= 33) {
            r[n++] = [uint256(4), 7, last];
            r[n++] = [uint256(16), 31, last];
            r[n++] = [uint256(0), 31, 31];
            r[n++] = [uint256(10), 20, last - 3];
        }
        assembly {
            mstore(r, n)
        }
    }

    // ------------------------------------------------------------------- checkpoints

    function test_writeCheckpoints() public {
        checkpointHome = _outbox(HOME);
        vm.chainId(REMOTE);
        inbox = new Mailbox(address(this));
        vm.etch(TO, address(new TestRecipient(address(inbox))).code);
        for (uint256 i; i < 7; ++i) {
            (bytes memory message, bytes32 id) =
                _dispatchRaw(checkpointHome, REMOTE, _b32(TO), abi.encode("checkpoint", i));
            homeMessages.push(message);
            homeIds.push(id);
            homeRoots.push(checkpointHome.root());
        }
        string[] memory out = new string[](3);
        out[0] = _checkpointVector(checkpointHome, Checkpoint(HOME, homeRoots[6], 6), _keys(1), 6);
        out[1] = _checkpointVector(checkpointHome, Checkpoint(HOME, homeRoots[3], 3), _keys(3), 1);
        // Largest origin and index (not delivered: that tree holds one real leaf).
        Mailbox top = _outbox(type(uint32).max);
        _dispatchRaw(top, REMOTE, _b32(TO), "filler");
        vm.store(address(top), _countSlot(top), bytes32(uint256(type(uint32).max) - 1));
        _dispatchRaw(top, REMOTE, _b32(TO), "last leaf");
        (bytes32 root, uint32 index) = top.latestCheckpoint();
        out[2] = _checkpointVector(top, Checkpoint(type(uint32).max, root, index), _keys(2), NO_DELIVERY);
        vm.writeJson(_array(out, 2), string.concat(DIR, "checkpoints.json"));
    }

    /// @notice Signs `cp` of `origin`'s mailbox with `keys` (ascending signers); unless
    /// `deliver` is NO_DELIVERY, checks the signatures by delivering home message `deliver`
    /// through a real inbox configured with exactly these signers. Returns the JSON object.
    function _checkpointVector(Mailbox origin, Checkpoint memory cp, uint256[] memory keys, uint256 deliver)
        internal
        returns (string memory)
    {
        bytes32 domain = digests.domainHash(cp.origin, _b32(address(origin)));
        (address[] memory signers, bytes[] memory signatures, bytes memory packed) =
            _signAll(keys, digests.signedDigest(domain, cp.root, cp.index));
        if (deliver != NO_DELIVERY) _deliverHome(cp, signers, packed, deliver);
        string memory k = string.concat("checkpoint", vm.toString(cp.origin), "_", vm.toString(cp.index));
        vm.serializeUint(k, "origin", cp.origin);
        vm.serializeBytes32(k, "mailbox", _b32(address(origin)));
        vm.serializeBytes32(k, "root", cp.root);
        vm.serializeUint(k, "index", cp.index);
        vm.serializeBytes32(k, "domainHash", domain);
        vm.serializeBytes32(k, "digest", digests.digest(domain, cp.root, cp.index));
        vm.serializeBytes32(k, "signedDigest", digests.signedDigest(domain, cp.root, cp.index));
        vm.serializeString(k, "signers", _addresses(signers));
        return vm.serializeBytes(k, "signatures", signatures);
    }

    function _deliverHome(Checkpoint memory cp, address[] memory signers, bytes memory packed, uint256 nonce) internal {
        inbox.setOrigin(HOME, _b32(address(checkpointHome)), signers, uint8(signers.length));
        inbox.process(cp, packed, homeMessages[nonce], MerkleReference.rangeProof(homeIds, nonce, nonce, cp.index));
        vm.assertTrue(inbox.delivered(HOME, uint32(nonce)), "the real inbox accepts the vector");
    }

    /// @notice Each key's signature (r ‖ s ‖ v) over `signed`, and all of them concatenated.
    function _signAll(uint256[] memory keys, bytes32 signed)
        internal
        pure
        returns (address[] memory signers, bytes[] memory signatures, bytes memory packed)
    {
        signers = new address[](keys.length);
        signatures = new bytes[](keys.length);
        for (uint256 i; i < keys.length; ++i) {
            signers[i] = vm.addr(keys[i]);
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[i], signed);
            signatures[i] = abi.encodePacked(r, s, v);
            packed = bytes.concat(packed, signatures[i]);
        }
    }

    // ------------------------------------------------------------------------ bodies

    /// @notice tests/vectors/distribution.json: leaves of DistributionLib and trees of them
    /// (SortedTree, as relayer/distribution/merkle.py builds them), every proof checked by
    /// OpenZeppelin's MerkleProof (what the Distributor runs) before it is written.
    function test_writeDistribution() public {
        uint256[5] memory counts = [uint256(1), 2, 3, 7, 10];
        string[] memory trees = new string[](counts.length);
        for (uint256 t; t < counts.length; ++t) {
            uint256 n = counts[t];
            bytes32[] memory leafs = new bytes32[](n);
            string[] memory rows = new string[](n);
            for (uint256 i; i < n; ++i) {
                address holder = address(uint160(uint256(keccak256(abi.encode("holder", n, i)))));
                uint256 gross = (i + 1) * 1_000_003 * n;
                uint256 withheld = gross * (i % 3) / 10;
                uint32 domain = i % 2 == 0 ? REMOTE : HOME;
                leafs[i] = DistributionLib.leaf(domain, uint64(n), holder, gross, withheld);
                string memory k = string.concat("leaf", vm.toString(n), "_", vm.toString(i));
                vm.serializeUint(k, "domain", domain);
                vm.serializeUint(k, "id", n);
                vm.serializeString(k, "holder", _addr(holder));
                vm.serializeString(k, "gross", vm.toString(gross));
                vm.serializeString(k, "withheld", vm.toString(withheld));
                rows[i] = vm.serializeBytes32(k, "leaf", leafs[i]);
            }
            bytes32 root = SortedTree.root(leafs);
            string[] memory proofs = new string[](n);
            for (uint256 i; i < n; ++i) {
                bytes32[] memory proof = SortedTree.proof(leafs, i);
                vm.assertTrue(MerkleProof.verify(proof, root, leafs[i]), "MerkleProof");
                string memory k = string.concat("proof", vm.toString(n), "_", vm.toString(i));
                proofs[i] = vm.serializeBytes32(k, "proof", proof);
            }
            string memory key = string.concat("dtree", vm.toString(n));
            vm.serializeString(key, "leaves", rows);
            vm.serializeString(key, "proofs", proofs);
            trees[t] = vm.serializeBytes32(key, "root", root);
        }
        vm.writeJson(_array(trees, trees.length - 1), string.concat(DIR, "distribution.json"));
    }

    function test_writeBodies() public {
        vm.writeJson(_bodiesJson(), string.concat(DIR, "bodies.json"));
    }

    // ----------------------------------------------------------------------- helpers

    function _outbox(uint32 domain) internal returns (Mailbox box) {
        vm.chainId(domain);
        box = new Mailbox(address(this));
    }

    function _dispatchRaw(Mailbox box, uint32 destination, bytes32 to, bytes memory body)
        internal
        returns (bytes memory message, bytes32 id)
    {
        vm.recordLogs();
        vm.prank(FROM);
        id = box.dispatch(destination, to, body);
        (, message) = abi.decode(vm.getRecordedLogs()[0].data, (uint32, bytes));
    }

    /// @notice The first `n` devnet keys, ascending by address.
    function _keys(uint256 n) internal pure returns (uint256[] memory keys) {
        uint256[3] memory all = [KEY1, KEY2, KEY3];
        keys = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            keys[i] = all[i];
        }
        for (uint256 i = 1; i < n; ++i) {
            for (uint256 j = i; j > 0 && vm.addr(keys[j]) < vm.addr(keys[j - 1]); --j) {
                (keys[j], keys[j - 1]) = (keys[j - 1], keys[j]);
            }
        }
    }

    /// @notice `n` bytes 0x00, 0x01, ... (wrapping at 256).
    function _pattern(uint256 n) internal pure returns (bytes memory out) {
        out = new bytes(n);
        for (uint256 i; i < n; ++i) {
            out[i] = bytes1(uint8(i));
        }
    }
}
