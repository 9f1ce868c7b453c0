// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMessageRecipient} from "../../src/interfaces/IMessageRecipient.sol";

/// @notice The cheapest honest recipient: accepts calls from its mailbox only, does nothing.
/// The gas test uses it so the figures are the mailbox's own.
contract MinimalRecipient is IMessageRecipient {
    address public immutable mailbox;

    /// @notice Called by someone other than the mailbox.
    error NotMailbox(address caller);

    constructor(address mailbox_) {
        mailbox = mailbox_;
    }

    function handle(uint32, bytes32, bytes calldata) external view {
        if (msg.sender != mailbox) revert NotMailbox(msg.sender);
    }
}

/// @notice A recipient for the mailbox tests: counts deliveries per body, and on request
/// refuses a body, burns all its gas on it, or calls the mailbox again from inside `handle`.
contract TestRecipient is IMessageRecipient {
    /// @notice The body was marked to be refused.
    error Refused(bytes32 bodyHash);
    /// @notice The reentrant call failed and the recipient was told to fail with it.
    error ReentryFailed(bytes reason);

    address public immutable mailbox;
    mapping(bytes32 bodyHash => uint256) public handled;
    mapping(bytes32 bodyHash => bool) public refuse;
    mapping(bytes32 bodyHash => bool) public burn;
    mapping(bytes32 bodyHash => uint256) public revertBytes;
    uint256 public total;
    uint32 public lastOrigin;
    bytes32 public lastSender;
    uint256 public lastGas;

    bytes32 public reenterOn;
    bytes public reentryCall;
    bool public revertAfterReentry;
    bool public reentryOk;
    bytes public reentryResult;

    event Handled(uint32 origin, bytes32 sender, bytes body);

    constructor(address mailbox_) {
        mailbox = mailbox_;
    }

    function setRefuse(bytes32 bodyHash, bool on) external {
        refuse[bodyHash] = on;
    }

    function setBurn(bytes32 bodyHash, bool on) external {
        burn[bodyHash] = on;
    }

    /// @notice Revert with `length` bytes of revert data (0xab each) on this body.
    function setRevertBytes(bytes32 bodyHash, uint256 length) external {
        revertBytes[bodyHash] = length;
    }

    /// @notice When handling the body with hash `bodyHash`, call the mailbox with `data`;
    /// then revert if `revertAfter`.
    function setReentry(bytes32 bodyHash, bytes calldata data, bool revertAfter) external {
        reenterOn = bodyHash;
        reentryCall = data;
        revertAfterReentry = revertAfter;
    }

    function handle(uint32 origin, bytes32 sender, bytes calldata body) external {
        lastGas = gasleft();
        bytes32 h = keccak256(body);
        if (refuse[h]) revert Refused(h);
        uint256 loud = revertBytes[h];
        if (loud != 0) {
            bytes memory data = new bytes(loud);
            for (uint256 i; i < loud; ++i) {
                data[i] = 0xab;
            }
            assembly {
                revert(add(data, 0x20), loud)
            }
        }
        if (burn[h]) {
            while (true) {
                total += 1;
            }
        }
        handled[h] += 1;
        total += 1;
        lastOrigin = origin;
        lastSender = sender;
        emit Handled(origin, sender, body);
        if (h == reenterOn && reentryCall.length != 0) {
            (bool ok, bytes memory result) = mailbox.call(reentryCall);
            reentryOk = ok;
            reentryResult = result;
            if (revertAfterReentry) revert ReentryFailed(result);
        }
    }
}

/// @notice Records the raw calldata it receives; has no `handle`, only a fallback, to show
/// exactly what the mailbox sends.
contract CalldataRecorder {
    bytes public lastCall;
    uint256 public calls;

    fallback() external {
        lastCall = msg.data;
        calls += 1;
    }
}

/// @notice An Ownable contract whose owner is the mailbox, with an admin function: the
/// Poly Network shape (a bridge that owns something a message could reach).
contract OwnedVault {
    address public immutable owner;
    address public drainedTo;

    /// @notice The caller is not the owner.
    error NotOwner(address caller);

    constructor(address owner_) {
        owner = owner_;
    }

    function drain(address to) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        drainedTo = to;
    }
}
