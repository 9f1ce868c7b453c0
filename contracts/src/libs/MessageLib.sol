// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice The packed message of docs/protocol.md ("Message"): a 77-byte header, then the body.
///
///     offset  size  field
///          0     1  version       (always 1)
///          1     4  nonce         (leaf index in the origin's tree)
///          5     4  origin        (origin domain = its chain id)
///          9    32  sender        (dispatching app, left-padded address)
///         41     4  destination
///         45    32  recipient     (handling app, left-padded address)
///         77     -  body
///
/// Readers take the message from calldata and never copy it, except to hash it. They assume
/// the caller has checked `message.length >= HEADER_LENGTH`; past the end of a shorter
/// message `calldataload` would read whatever calldata follows.
library MessageLib {
    /// @notice The only message version this code speaks.
    uint8 internal constant VERSION = 1;
    /// @notice Bytes before the body.
    uint256 internal constant HEADER_LENGTH = 77;

    uint256 private constant NONCE_OFFSET = 1;
    uint256 private constant ORIGIN_OFFSET = 5;
    uint256 private constant SENDER_OFFSET = 9;
    uint256 private constant DESTINATION_OFFSET = 41;
    uint256 private constant RECIPIENT_OFFSET = 45;
    /// @dev IMessageRecipient.handle.selector: bytes4(keccak256("handle(uint32,bytes32,bytes)")),
    /// a number for assembly (MailboxRecipients.t.sol checks the calldata a recipient receives).
    uint256 private constant HANDLE_SELECTOR = 0x56d5d475;

    /// @notice The packed message: abi.encodePacked of the fields in protocol order.
    function format(
        uint8 version_,
        uint32 nonce_,
        uint32 origin_,
        bytes32 sender_,
        uint32 destination_,
        bytes32 recipient_,
        bytes calldata body_
    ) internal pure returns (bytes memory) {
        return abi.encodePacked(version_, nonce_, origin_, sender_, destination_, recipient_, body_);
    }

    /// @notice keccak256 of the message, hashed straight from calldata.
    function id(bytes calldata message) internal pure returns (bytes32 result) {
        assembly ("memory-safe") {
            // Scratch copy past the free memory pointer; the pointer is not moved, so the
            // next copy reuses the same memory and a batch pays for memory growth only once.
            let ptr := mload(0x40)
            calldatacopy(ptr, message.offset, message.length)
            result := keccak256(ptr, message.length)
        }
    }

    /// @notice Whether `message` holds a whole header of version 1 with these nonce, origin
    /// and destination: the batch fast path, one pass over two calldata words.
    function matches(bytes calldata message, uint256 nonce_, uint32 origin_, uint32 destination_)
        internal
        pure
        returns (bool ok)
    {
        assembly ("memory-safe") {
            let word := calldataload(message.offset) // version ‖ nonce ‖ origin ‖ sender[0..22]
            ok := iszero(lt(message.length, HEADER_LENGTH))
            ok := and(ok, eq(shr(248, word), VERSION))
            ok := and(ok, eq(and(shr(216, word), 0xffffffff), nonce_))
            ok := and(ok, eq(and(shr(184, word), 0xffffffff), origin_))
            ok := and(ok, eq(shr(224, calldataload(add(message.offset, DESTINATION_OFFSET))), destination_))
        }
    }

    /// @notice Calls IMessageRecipient(target).handle(origin, sender, body) of `message`
    /// with `gasLimit`; returns whether it succeeded (its revert data is left in returndata).
    /// The calldata is written at the free memory pointer without moving it, so every call of
    /// a batch reuses the same memory: selector, origin, sender, the offset of body (0x60),
    /// body length, body bytes zero-padded to a multiple of 32. Nothing but `handle` is ever
    /// called: the selector is a constant.
    function callHandle(bytes calldata message, address target, uint32 origin_, uint256 gasLimit)
        internal
        returns (bool ok)
    {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            let bodyLength := sub(message.length, HEADER_LENGTH)
            let padded := and(add(bodyLength, 31), not(31))
            mstore(add(ptr, add(0x64, padded)), 0) // last body word: its padding (the length word if empty)
            mstore(ptr, shl(224, HANDLE_SELECTOR))
            mstore(add(ptr, 0x04), origin_)
            mstore(add(ptr, 0x24), calldataload(add(message.offset, SENDER_OFFSET)))
            mstore(add(ptr, 0x44), 0x60)
            mstore(add(ptr, 0x64), bodyLength)
            calldatacopy(add(ptr, 0x84), add(message.offset, HEADER_LENGTH), bodyLength)
            ok := call(gasLimit, target, 0, ptr, add(0x84, padded), 0, 0)
        }
    }

    /// @notice Byte 0.
    function version(bytes calldata message) internal pure returns (uint8 result) {
        assembly ("memory-safe") {
            result := shr(248, calldataload(message.offset))
        }
    }

    /// @notice Bytes 1..4.
    function nonce(bytes calldata message) internal pure returns (uint32 result) {
        assembly ("memory-safe") {
            result := shr(224, calldataload(add(message.offset, NONCE_OFFSET)))
        }
    }

    /// @notice Bytes 5..8.
    function origin(bytes calldata message) internal pure returns (uint32 result) {
        assembly ("memory-safe") {
            result := shr(224, calldataload(add(message.offset, ORIGIN_OFFSET)))
        }
    }

    /// @notice Bytes 9..40.
    function sender(bytes calldata message) internal pure returns (bytes32 result) {
        assembly ("memory-safe") {
            result := calldataload(add(message.offset, SENDER_OFFSET))
        }
    }

    /// @notice Bytes 41..44.
    function destination(bytes calldata message) internal pure returns (uint32 result) {
        assembly ("memory-safe") {
            result := shr(224, calldataload(add(message.offset, DESTINATION_OFFSET)))
        }
    }

    /// @notice Bytes 45..76.
    function recipient(bytes calldata message) internal pure returns (bytes32 result) {
        assembly ("memory-safe") {
            result := calldataload(add(message.offset, RECIPIENT_OFFSET))
        }
    }

    /// @notice Bytes 77.. as a calldata slice (no copy).
    function body(bytes calldata message) internal pure returns (bytes calldata) {
        return message[HEADER_LENGTH:];
    }
}
