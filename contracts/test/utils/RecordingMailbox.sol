// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMessageRecipient} from "../../src/interfaces/IMessageRecipient.sol";

/// @notice A mailbox double for unit tests: `dispatch` records what an app sends (no tree,
/// no proofs), and `deliver` calls a recipient's `handle` as the mailbox would. Only the
/// outbox half an app talks to (`localDomain`, `dispatch`, `count`) is present; cast it to
/// IMailbox where an app wants one.
contract RecordingMailbox {
    struct Dispatched {
        address sender;
        uint32 destination;
        bytes32 recipient;
        bytes body;
    }

    uint32 public immutable localDomain;
    Dispatched[] private _sent;

    constructor(uint32 localDomain_) {
        localDomain = localDomain_;
    }

    function dispatch(uint32 destination, bytes32 recipient, bytes calldata body) external returns (bytes32 id) {
        _sent.push(Dispatched(msg.sender, destination, recipient, body));
        id = keccak256(abi.encode(_sent.length - 1, msg.sender, destination, recipient, body));
    }

    function count() external view returns (uint32) {
        return uint32(_sent.length);
    }

    function sent(uint256 i) external view returns (Dispatched memory) {
        return _sent[i];
    }

    /// @notice Calls `recipient.handle(origin, sender, body)` with this mailbox as msg.sender.
    function deliver(address recipient, uint32 origin, bytes32 sender, bytes calldata body) external {
        IMessageRecipient(recipient).handle(origin, sender, body);
    }
}
