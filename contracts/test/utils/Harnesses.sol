// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MerkleLib} from "../../src/libs/MerkleLib.sol";
import {MessageLib} from "../../src/libs/MessageLib.sol";
import {CheckpointLib} from "../../src/libs/CheckpointLib.sol";

/// @notice MerkleLib behind external functions, so tests and the vector writer run the
/// library's own code with calldata proofs, as the mailbox does.
contract MerkleHarness {
    MerkleLib.Tree private _tree;

    function insert(bytes32 leaf) external returns (uint256) {
        return MerkleLib.insert(_tree, leaf);
    }

    function root() external view returns (bytes32) {
        return MerkleLib.root(_tree);
    }

    function count() external view returns (uint256) {
        return _tree.count;
    }

    function rangeRoot(bytes32[] calldata leaves, uint256 start, uint256 index, bytes32[] calldata proof)
        external
        pure
        returns (bytes32)
    {
        return MerkleLib.rangeRoot(leaves, start, index, proof);
    }

    function zeroHashes() external pure returns (bytes32[32] memory) {
        return MerkleLib.zeroHashes();
    }
}

/// @notice MessageLib behind external functions (calldata messages, as the mailbox reads them).
contract MessageHarness {
    struct Fields {
        uint8 version;
        uint32 nonce;
        uint32 origin;
        bytes32 sender;
        uint32 destination;
        bytes32 recipient;
        bytes body;
    }

    function format(Fields calldata f) external pure returns (bytes memory) {
        return MessageLib.format(f.version, f.nonce, f.origin, f.sender, f.destination, f.recipient, f.body);
    }

    function parse(bytes calldata message) external pure returns (Fields memory f, bytes32 id) {
        f = Fields(
            MessageLib.version(message),
            MessageLib.nonce(message),
            MessageLib.origin(message),
            MessageLib.sender(message),
            MessageLib.destination(message),
            MessageLib.recipient(message),
            MessageLib.body(message)
        );
        id = MessageLib.id(message);
    }
}

/// @notice CheckpointLib's digests behind external functions.
contract CheckpointHarness {
    function domainHash(uint32 origin, bytes32 originMailbox) external pure returns (bytes32) {
        return CheckpointLib.domainHash(origin, originMailbox);
    }

    function digest(bytes32 domainHash_, bytes32 root, uint32 index) external pure returns (bytes32) {
        return CheckpointLib.digest(domainHash_, root, index);
    }

    function signedDigest(bytes32 domainHash_, bytes32 root, uint32 index) external pure returns (bytes32) {
        return CheckpointLib.signedDigest(domainHash_, root, index);
    }
}
