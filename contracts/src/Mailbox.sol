// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IMailbox, Checkpoint} from "./interfaces/IMailbox.sol";
import {ValidatorSets} from "./ValidatorSets.sol";
import {MessageLib} from "./libs/MessageLib.sol";
import {MerkleLib} from "./libs/MerkleLib.sol";
import {DeliveryBitmap} from "./libs/DeliveryBitmap.sol";

/// @notice The messaging layer of docs/protocol.md. Outbox: every dispatched message id goes
/// into this chain's depth-32 Merkle tree. Inbox: messages of an origin are delivered when
/// proven (one range proof for a run of consecutive nonces) against a checkpoint of the
/// origin's tree signed by at least the threshold of the origin's validators (ValidatorSets).
///
/// Decisions beyond the interface (docs/mailbox.md):
/// - `dispatch` refuses this chain's own domain as destination: nothing could deliver it.
/// - Every handler runs with at least HANDLER_GAS: exactly HANDLER_GAS in a batch, all the
///   gas left in `process`. When the transaction cannot give that much, the call reverts
///   (InsufficientGas). So a message's outcome never depends on the gas its submitter chose:
///   nobody can starve a handler into failing, and a handler that burns all its gas fails
///   alone in a batch (ProcessFailed) instead of sinking it.
/// - A recipient must be a contract here (no bits above 160, and code): a message to anything
///   else fails (InvalidRecipient) and stays undelivered.
/// - A batch marks all its undelivered messages before it calls the first handler, so a
///   handler that calls back into the mailbox finds them delivered.
/// - Ownership moves in two steps (Ownable2Step, through ValidatorSets): a new owner must
///   accept, so a mistyped address never takes over the trust configuration.
contract Mailbox is Ownable2Step, ValidatorSets {
    using MerkleLib for MerkleLib.Tree;
    using DeliveryBitmap for mapping(uint256 => uint256);

    /// @notice Gas every handler gets: exactly this in a batch, at least this in `process`.
    uint256 public constant HANDLER_GAS = 500_000;
    /// @notice Bytes of a failing handler's revert data kept in ProcessFailed.
    uint256 public constant MAX_REASON_LENGTH = 256;
    /// @notice Gas that must be left when a handler is about to be called: HANDLER_GAS, the
    /// 1/64 that EIP-150 keeps back from a call (HANDLER_GAS * 64 / 63 = 507,937), and room
    /// for the call and for recording its outcome. A literal: a constant expression would be
    /// computed on every use.
    uint256 public constant GAS_BEFORE_HANDLER = 540_000;

    /// @notice This chain's domain, its chain id.
    uint32 public immutable localDomain;

    MerkleLib.Tree private _tree;
    mapping(uint256 key => uint256 bits) private _delivered;
    /// @dev The message whose handler runs; saved and restored around each call, so a
    /// handler that delivers other messages sees its own id again afterwards.
    bytes32 private transient _current;

    /// @notice The chain id does not fit a uint32 domain.
    error ChainIdTooLarge(uint256 chainId);
    /// @notice `dispatch` to this chain's own domain.
    error LocalDestination(uint32 destination);
    /// @notice The message is shorter than its 77-byte header.
    error MessageTooShort(uint256 length);
    /// @notice The message's origin is not the checkpoint's.
    error OriginMismatch(uint32 messageOrigin, uint32 checkpointOrigin);
    /// @notice The recipient is not a contract on this chain (bits above 160, or no code).
    error InvalidRecipient(bytes32 recipient);
    /// @notice Too little gas left to give the handler of `nonce` its HANDLER_GAS.
    error InsufficientGas(uint32 nonce, uint256 gasLeft);

    constructor(address owner_) Ownable(owner_) {
        if (block.chainid > type(uint32).max) revert ChainIdTooLarge(block.chainid);
        localDomain = uint32(block.chainid);
    }

    // ----------------------------------------------------------------------------- outbox

    /// @inheritdoc IMailbox
    function dispatch(uint32 destination, bytes32 recipient, bytes calldata body) external returns (bytes32 id) {
        if (destination == localDomain) revert LocalDestination(destination);
        uint32 nonce = uint32(_tree.count); // insert refuses a full tree, so the count fits
        bytes memory message = MessageLib.format(
            MessageLib.VERSION, nonce, localDomain, bytes32(uint256(uint160(msg.sender))), destination, recipient, body
        );
        id = keccak256(message);
        _tree.insert(id);
        emit Dispatch(id, destination, nonce, message);
    }

    /// @inheritdoc IMailbox
    function count() external view returns (uint32) {
        return uint32(_tree.count);
    }

    /// @notice The root of this chain's tree (of the empty tree before the first message).
    function root() external view returns (bytes32) {
        return _tree.root();
    }

    /// @inheritdoc IMailbox
    function latestCheckpoint() external view returns (bytes32 root_, uint32 index) {
        uint256 size = _tree.count;
        if (size == 0) revert EmptyTree();
        // forge-lint: disable-next-line(unsafe-typecast) size <= MAX_LEAVES = 2^32 - 1
        return (_tree.root(), uint32(size - 1));
    }

    // ------------------------------------------------------------------------------ inbox

    /// @inheritdoc IMailbox
    function currentMessageId() external view returns (bytes32) {
        return _current;
    }

    /// @inheritdoc IMailbox
    function delivered(uint32 origin, uint32 nonce) external view returns (bool) {
        return _delivered.isSet(origin, nonce);
    }

    /// @inheritdoc IMailbox
    function deliveredWord(uint32 origin, uint32 wordIndex) external view returns (uint256) {
        return _delivered.wordAt(origin, wordIndex);
    }

    /// @inheritdoc IMailbox
    function process(
        Checkpoint calldata checkpoint,
        bytes calldata signatures,
        bytes calldata message,
        bytes32[] calldata proof
    ) external {
        uint32 origin = checkpoint.origin;
        (bytes32 id, uint32 nonce) = _checkMessage(message, origin);
        if (_delivered.isSet(origin, nonce)) revert AlreadyDelivered(origin, nonce);
        _verifyCheckpoint(checkpoint, signatures);
        uint32 index = checkpoint.index;
        if (nonce > index) revert NonceBeyondCheckpoint(nonce, index);
        bytes32[] memory leaves = new bytes32[](1);
        leaves[0] = id;
        if (MerkleLib.rangeRoot(leaves, nonce, index, proof) != checkpoint.root) revert InvalidProof();

        bytes32 recipient = MessageLib.recipient(message);
        if (!_isContract(recipient)) revert InvalidRecipient(recipient);
        _delivered.set(origin, nonce);
        if (gasleft() < GAS_BEFORE_HANDLER) revert InsufficientGas(nonce, gasleft());
        bytes32 outer = _current;
        _current = id;
        if (!MessageLib.callHandle(message, address(uint160(uint256(recipient))), origin, gasleft())) {
            _bubbleRevert();
        }
        _current = outer;
        emit Process(id, origin, nonce);
    }

    /// @inheritdoc IMailbox
    function processBatch(
        Checkpoint calldata checkpoint,
        bytes calldata signatures,
        bytes[] calldata messages,
        bytes32[] calldata proof
    ) external {
        uint32 origin = checkpoint.origin;
        (bytes32[] memory ids, uint32 first) = _checkBatch(messages, origin);
        _verifyCheckpoint(checkpoint, signatures);
        uint32 index = checkpoint.index;
        if (uint256(first) + ids.length - 1 > index) {
            revert NonceBeyondCheckpoint(first > index ? first : index + 1, index);
        }
        if (MerkleLib.rangeRoot(ids, first, index, proof) != checkpoint.root) revert InvalidProof();
        uint256[] memory before = _delivered.claim(origin, first, ids.length);
        _deliverBatch(origin, first, ids, messages, before);
    }

    // -------------------------------------------------------------------- message checks

    /// @dev The header checks, in protocol order: length, version, destination, then the
    /// origin against the checkpoint's. Returns the id and the nonce.
    function _checkMessage(bytes calldata message, uint32 origin) private view returns (bytes32 id, uint32 nonce) {
        if (message.length < MessageLib.HEADER_LENGTH) revert MessageTooShort(message.length);
        uint8 version = MessageLib.version(message);
        if (version != MessageLib.VERSION) revert WrongVersion(version);
        uint32 destination = MessageLib.destination(message);
        if (destination != localDomain) revert WrongDestination(destination);
        uint32 messageOrigin = MessageLib.origin(message);
        if (messageOrigin != origin) revert OriginMismatch(messageOrigin, origin);
        return (MessageLib.id(message), MessageLib.nonce(message));
    }

    /// @dev The header checks of every message of a batch, and that the nonces follow each
    /// other. Returns the ids and the first nonce. The fast path (MessageLib.matches) checks
    /// each message in one pass; the first one it refuses goes through _checkMessage, which
    /// reverts with the precise error, or else is out of sequence.
    function _checkBatch(bytes[] calldata messages, uint32 origin)
        private
        view
        returns (bytes32[] memory ids, uint32 first)
    {
        uint256 n = messages.length;
        if (n == 0) revert NotContiguous(0);
        ids = new bytes32[](n);
        (ids[0], first) = _checkMessage(_at(messages, 0), origin);
        for (uint256 i = 1; i < n; ++i) {
            bytes calldata message = _at(messages, i);
            if (!MessageLib.matches(message, uint256(first) + i, origin, localDomain)) {
                _checkMessage(message, origin);
                revert NotContiguous(i);
            }
            bytes32 id = MessageLib.id(message);
            assembly ("memory-safe") {
                mstore(add(ids, shl(5, add(i, 1))), id) // ids[i] = id, i < n
            }
        }
    }

    /// @dev messages[i] for i < messages.length (the callers' loops), with the checks the ABI
    /// decoder makes on an element: it lies inside the calldata (else a revert without data,
    /// as the decoder's).
    function _at(bytes[] calldata messages, uint256 i) private pure returns (bytes calldata message) {
        assembly ("memory-safe") {
            let relative := calldataload(add(messages.offset, shl(5, i)))
            let head := add(messages.offset, relative)
            let length := calldataload(head)
            let outside := or(gt(relative, 0xffffffffffffffff), gt(length, 0xffffffffffffffff))
            if or(outside, gt(add(add(head, 0x20), length), calldatasize())) { revert(0, 0) }
            message.offset := add(head, 0x20)
            message.length := length
        }
    }

    /// @dev messages[i] once _checkBatch has checked every element with _at.
    function _atChecked(bytes[] calldata messages, uint256 i) private pure returns (bytes calldata message) {
        assembly ("memory-safe") {
            let head := add(messages.offset, calldataload(add(messages.offset, shl(5, i))))
            message.offset := add(head, 0x20)
            message.length := calldataload(head)
        }
    }

    // ------------------------------------------------------------------------- delivery

    /// @dev Calls the handler of every message the batch claimed (not delivered before it),
    /// each with exactly HANDLER_GAS. A message whose handler fails, or whose recipient is
    /// not a contract, is unmarked again and reported with ProcessFailed.
    function _deliverBatch(
        uint32 origin,
        uint32 first,
        bytes32[] memory ids,
        bytes[] calldata messages,
        uint256[] memory before
    ) private {
        address known; // the last recipient found to be a contract: a run of messages to one app checks it once
        uint256 n = ids.length;
        for (uint256 i; i < n; ++i) {
            uint32 nonce;
            bytes32 id;
            assembly ("memory-safe") {
                nonce := add(first, i) // <= the checkpoint index: fits 32 bits
                id := mload(add(ids, shl(5, add(i, 1)))) // ids[i], i < n
            }
            if (DeliveryBitmap.wasSet(before, first, nonce)) continue;
            known = _deliverClaimed(origin, nonce, id, _atChecked(messages, i), known);
        }
    }

    /// @dev Handles one claimed message of a batch with exactly HANDLER_GAS. `known` is a
    /// recipient already found to be a contract (0: none yet); returns the one to remember.
    function _deliverClaimed(uint32 origin, uint32 nonce, bytes32 id, bytes calldata message, address known)
        private
        returns (address)
    {
        bytes32 to = MessageLib.recipient(message);
        address recipient = address(uint160(uint256(to)));
        bool seen = known != address(0) && to == bytes32(uint256(uint160(known)));
        if (!seen && !_isContract(to)) {
            _fail(origin, nonce, id, abi.encodeWithSelector(InvalidRecipient.selector, to));
            return known;
        }
        if (gasleft() < GAS_BEFORE_HANDLER) revert InsufficientGas(nonce, gasleft());
        bytes32 outer = _current;
        _current = id;
        bool ok = MessageLib.callHandle(message, recipient, origin, HANDLER_GAS);
        _current = outer;
        if (ok) {
            emit Process(id, origin, nonce);
        } else {
            _fail(origin, nonce, id, _revertReason());
        }
        return recipient;
    }

    /// @dev A message of a batch that was not handled: unmark it, report why.
    function _fail(uint32 origin, uint32 nonce, bytes32 id, bytes memory reason) private {
        _delivered.clear(origin, nonce);
        emit ProcessFailed(id, origin, nonce, reason);
    }

    /// @dev Whether a message's recipient is a contract here: no bits above 160, and code.
    function _isContract(bytes32 recipient) private view returns (bool) {
        return uint256(recipient) >> 160 == 0 && address(uint160(uint256(recipient))).code.length != 0;
    }

    /// @dev Reverts with the last call's revert data, whole.
    function _bubbleRevert() private pure {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            returndatacopy(ptr, 0, returndatasize())
            revert(ptr, returndatasize())
        }
    }

    /// @dev The last call's revert data, cut to MAX_REASON_LENGTH bytes (a handler cannot
    /// make the mailbox copy more).
    function _revertReason() private pure returns (bytes memory reason) {
        uint256 length;
        assembly ("memory-safe") {
            length := returndatasize()
        }
        if (length > MAX_REASON_LENGTH) length = MAX_REASON_LENGTH;
        reason = new bytes(length);
        assembly ("memory-safe") {
            returndatacopy(add(reason, 0x20), 0, length)
        }
    }
}
