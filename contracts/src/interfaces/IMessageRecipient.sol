// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice An application that receives messages from the mailbox. It must accept a
/// call only from its mailbox and only from the app enrolled for `origin`.
interface IMessageRecipient {
    function handle(uint32 origin, bytes32 sender, bytes calldata body) external;
}
