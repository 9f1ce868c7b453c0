// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Mailbox} from "../../src/Mailbox.sol";
import {IMailbox, Checkpoint} from "../../src/interfaces/IMailbox.sol";
import {MerkleReference} from "./MerkleReference.sol";
import {BridgeVm, BVM} from "./BridgeVm.sol";
import {Vm} from "./Vm.sol";

/// @notice What a delivery sends to a destination mailbox.
struct Delivery {
    Checkpoint checkpoint;
    bytes signatures;
    bytes[] messages;
    bytes32[] proof;
}

/// @notice A relayer for tests, over real mailboxes on several domains. It reads the
/// `Dispatch` logs of every mailbox it knows (vm.recordLogs / vm.getRecordedLogs), keeps
/// each origin's messages and ids by nonce, and delivers them on their destination with a
/// real checkpoint of the origin's tree, signed with vm.sign by the validator keys it was
/// given, and a range proof built by MerkleReference. It also counts the `Process` logs of
/// each (origin, nonce), so a test can see that no message is handled twice.
///
/// Logs of reverted calls are recorded by forge too. A Dispatch of a reverted call names a
/// nonce that the next real dispatch takes again (it then replaces it), or one past the
/// mailbox's count (it is dropped); `sync` ends with every origin's list exactly as long as
/// its mailbox's count. `process` emits `Process` last, so one that reverts leaves none; a
/// batch emits them as it goes, and only one that reverted whole after handling some (out of
/// gas: InsufficientGas) would leave some behind.
///
/// `sync` consumes the recorded logs, which a revert would not give back: call it on its
/// own, never inside a call that may revert. The delivery functions do not sync.
contract Relay {
    BridgeVm internal constant vm = BVM;

    mapping(uint32 domain => Mailbox) public mailboxOf;
    mapping(address mailbox => uint32) private _domainOf;
    uint32[] private _domains;
    mapping(uint32 origin => bytes[]) private _messages;
    mapping(uint32 origin => bytes32[]) private _ids;
    /// @notice How many `Process` logs were seen for a message.
    mapping(uint32 origin => mapping(uint32 nonce => uint256)) public processed;
    uint256[] private _keys;
    mapping(uint32 origin => uint32) private _forged;

    /// @notice The domain has no mailbox here.
    error UnknownChain(uint32 domain);
    /// @notice A Dispatch log skipped a nonce, or the logs miss messages the mailbox holds.
    error MissedDispatch(uint32 origin, uint256 recorded, uint256 count);
    /// @notice A Dispatch log whose message does not hash to its id.
    error WrongId(uint32 origin, uint32 nonce);

    /// @notice Follows `mailbox` (its domain is its localDomain).
    function addChain(Mailbox mailbox) external {
        uint32 domain = mailbox.localDomain();
        mailboxOf[domain] = mailbox;
        _domainOf[address(mailbox)] = domain;
        _domains.push(domain);
    }

    /// @notice The keys that sign checkpoints, ascending by address.
    function useSigners(uint256[] calldata keys) external {
        _keys = keys;
    }

    /// @notice Starts recording logs (drops whatever was recorded before).
    function record() external {
        vm.recordLogs();
    }

    /// @notice Reads the logs recorded since the last sync: messages and deliveries.
    function sync() external {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            uint32 domain = _domainOf[logs[i].emitter];
            if (domain == 0 || logs[i].topics.length == 0) continue;
            bytes32 topic = logs[i].topics[0];
            if (topic == IMailbox.Dispatch.selector) {
                _onDispatch(domain, logs[i].topics[1], logs[i].data);
            } else if (topic == IMailbox.Process.selector) {
                uint32 origin = uint32(uint256(logs[i].topics[2]));
                processed[origin][abi.decode(logs[i].data, (uint32))] += 1;
            }
        }
        for (uint256 d; d < _domains.length; ++d) {
            uint32 origin = _domains[d];
            uint256 dispatched = mailboxOf[origin].count();
            while (_messages[origin].length > dispatched) {
                _messages[origin].pop();
                _ids[origin].pop();
            }
            if (_messages[origin].length != dispatched) {
                revert MissedDispatch(origin, _messages[origin].length, dispatched);
            }
        }
    }

    // ------------------------------------------------------------------------ reading

    /// @notice Messages dispatched on `origin` so far (as of the last sync).
    function count(uint32 origin) external view returns (uint32) {
        return uint32(_messages[origin].length);
    }

    /// @notice The message at `nonce` of `origin`.
    function message(uint32 origin, uint32 nonce) external view returns (bytes memory) {
        return _messages[origin][nonce];
    }

    /// @notice The id of the message at `nonce` of `origin`.
    function idAt(uint32 origin, uint32 nonce) external view returns (bytes32) {
        return _ids[origin][nonce];
    }

    /// @notice Whether the message at `nonce` of `origin` was delivered on its destination.
    function isDelivered(uint32 origin, uint32 nonce) public view returns (bool) {
        return _destination(_messages[origin][nonce]).delivered(origin, nonce);
    }

    /// @notice The latest checkpoint of `origin`, signed; messages start..end; their proof.
    function delivery(uint32 origin, uint32 start, uint32 end) public view returns (Delivery memory d) {
        (bytes32 root, uint32 index) = mailboxOf[origin].latestCheckpoint();
        d.checkpoint = Checkpoint(origin, root, index);
        d.signatures = sign(d.checkpoint);
        d.messages = new bytes[](end - start + 1);
        for (uint256 i; i < d.messages.length; ++i) {
            d.messages[i] = _messages[origin][start + i];
        }
        d.proof = MerkleReference.rangeProof(_ids[origin], start, end, index);
    }

    /// @notice The signatures of `cp` by the signing keys (docs/protocol.md "Checkpoint").
    function sign(Checkpoint memory cp) public view returns (bytes memory sigs) {
        bytes32 originMailbox = bytes32(uint256(uint160(address(mailboxOf[cp.origin]))));
        bytes32 domainHash = keccak256(abi.encodePacked(cp.origin, originMailbox, "STBRIDGE"));
        bytes32 digest = keccak256(abi.encodePacked(domainHash, cp.root, cp.index));
        bytes32 signed = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", digest));
        for (uint256 i; i < _keys.length; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(_keys[i], signed);
            sigs = bytes.concat(sigs, r, s, bytes1(v));
        }
    }

    // ----------------------------------------------------------------------- delivering

    /// @notice Delivers message `nonce` of `origin` alone with `process` (reverts as it does).
    function process(uint32 origin, uint32 nonce) external {
        Delivery memory d = delivery(origin, nonce, nonce);
        _destination(d.messages[0]).process(d.checkpoint, d.signatures, d.messages[0], d.proof);
    }

    /// @notice Delivers messages start..end of `origin` in one `processBatch`.
    function processBatch(uint32 origin, uint32 start, uint32 end) external {
        Delivery memory d = delivery(origin, start, end);
        _destination(d.messages[0]).processBatch(d.checkpoint, d.signatures, d.messages, d.proof);
    }

    /// @notice Delivers every undelivered message of `origin`: one batch per run of
    /// consecutive messages for the same destination that holds an undelivered one.
    /// Handlers that fail leave their messages undelivered (ProcessFailed).
    function deliverAll(uint32 origin) external {
        uint256 n = _messages[origin].length;
        uint256 start;
        while (start < n) {
            Mailbox destination = _destination(_messages[origin][start]);
            uint256 end = start;
            bool pending = !destination.delivered(origin, uint32(start));
            while (end + 1 < n && _destination(_messages[origin][end + 1]) == destination) {
                ++end;
                if (!pending) pending = !destination.delivered(origin, uint32(end));
            }
            if (pending) {
                Delivery memory d = delivery(origin, uint32(start), uint32(end));
                destination.processBatch(d.checkpoint, d.signatures, d.messages, d.proof);
            }
            start = end + 1;
        }
    }

    /// @notice What a fallen committee could deliver: a message `origin`'s mailbox never
    /// dispatched, under a checkpoint of a tree that has it as its last leaf, signed by the
    /// validators. Each forgery takes a fresh nonce past the real messages (the leaves in
    /// between are zero), so forgeries never collide with each other.
    function forge(uint32 origin, uint32 destination, bytes32 sender, bytes32 recipient, bytes memory body)
        external
        returns (Delivery memory d)
    {
        uint32 real = uint32(_ids[origin].length);
        uint32 nonce = real + _forged[origin]++;
        bytes memory forged = abi.encodePacked(uint8(1), nonce, origin, sender, destination, recipient, body);
        bytes32[] memory leaves = new bytes32[](uint256(nonce) + 1);
        for (uint256 i; i < real; ++i) {
            leaves[i] = _ids[origin][i];
        }
        leaves[nonce] = keccak256(forged);
        d.checkpoint = Checkpoint(origin, MerkleReference.root(leaves, nonce), nonce);
        d.signatures = sign(d.checkpoint);
        d.messages = new bytes[](1);
        d.messages[0] = forged;
        d.proof = MerkleReference.rangeProof(leaves, nonce, nonce, nonce);
    }

    // ------------------------------------------------------------------------ internals

    function _onDispatch(uint32 origin, bytes32 id, bytes memory data) private {
        (uint32 nonce, bytes memory dispatched) = abi.decode(data, (uint32, bytes));
        if (keccak256(dispatched) != id) revert WrongId(origin, nonce);
        uint256 length = _messages[origin].length;
        if (nonce < length) {
            // an earlier log at this nonce came from a call that reverted
            _messages[origin][nonce] = dispatched;
            _ids[origin][nonce] = id;
        } else if (nonce == length) {
            _messages[origin].push(dispatched);
            _ids[origin].push(id);
        } else {
            revert MissedDispatch(origin, length, nonce);
        }
    }

    /// @dev The mailbox of a message's destination (header bytes 41..44).
    function _destination(bytes memory m) private view returns (Mailbox mailbox) {
        uint32 domain;
        assembly ("memory-safe") {
            domain := shr(224, mload(add(m, 73))) // 32 (length word) + 41
        }
        mailbox = mailboxOf[domain];
        if (address(mailbox) == address(0)) revert UnknownChain(domain);
    }
}
