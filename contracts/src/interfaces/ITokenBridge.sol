// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice Lock-and-mint bridge for security tokens; see TokenBridge.
interface ITokenBridge {
    /// @notice A transfer left this chain (locked or burned) as message `id`.
    event TransferSent(
        bytes32 indexed id, address indexed homeToken, uint32 indexed destination, address sender, address recipient, uint256 amount
    );
    /// @notice A transfer arrived and was minted or unlocked to `recipient`.
    event TransferReceived(
        bytes32 indexed transferId, address indexed homeToken, uint32 indexed origin, address recipient, uint256 amount
    );
    /// @notice A transfer the recipient may not receive was sent back as message `returnId`.
    event Bounced(
        bytes32 indexed transferId, bytes32 indexed returnId, uint32 indexed origin, address sender, uint256 amount, uint8 reason
    );
    /// @notice A bounced transfer's tokens were given back to its sender.
    event Returned(bytes32 indexed transferId, address indexed homeToken, address recipient, uint256 amount, uint8 reason);
    /// @notice The bridge of a remote domain was enrolled (address 0: removed).
    event RemoteEnrolled(uint32 indexed domain, address bridge);
    /// @notice A canonical token was mapped to its token on this chain.
    event TokenRegistered(address indexed homeToken, address indexed localToken);
    /// @notice A lane's bucket for a token was set.
    event RateLimitSet(address indexed homeToken, uint32 indexed domain, bool inbound, uint128 capacity, uint128 ratePerSecond);
    /// @notice The guardian changed.
    event GuardianSet(address guardian);
    /// @notice A lane was paused.
    event LanePaused(uint32 indexed domain, address by);
    /// @notice A lane was resumed.
    event LaneUnpaused(uint32 indexed domain);
    /// @notice `account` on `domain` was marked (or unmarked) a custodian: a contract that holds
    /// tokens only inside its own books (a timelock, a bridge's escrow, a mailbox, a registry),
    /// so the bridge never delivers a transfer to it.
    event CustodianSet(uint32 indexed domain, address indexed account, bool custodian);

    /// @notice A zero address where one is needed, or a zero recipient.
    error ZeroAddress();
    /// @notice Nothing to send.
    error ZeroAmount();
    /// @notice The token is not registered on this bridge (also: address 0, or no code).
    error UnknownToken(address token);
    /// @notice No bridge is enrolled for the domain.
    error UnknownDomain(uint32 domain);
    /// @notice The domain is this chain's own.
    error LocalDomain(uint32 domain);
    /// @notice The lane is paused by the guardian or the owner.
    error LaneIsPaused(uint32 domain);
    /// @notice The token's rules say the recipient may not receive it.
    error RecipientNotEligible(address recipient);
    /// @notice The recipient is a custodian contract on the destination (a timelock, a bridge,
    /// escrow, the mailbox, a registry): tokens delivered to it would sit outside its books,
    /// and only a forced transfer could get them out. Send to the investor's own wallet.
    error CustodianRecipient(uint32 destination, address recipient);
    /// @notice The lane's bucket holds less than the amount; retry after `retryAfter` seconds.
    error RateLimited(
        address homeToken, uint32 domain, bool inbound, uint256 requested, uint256 available, uint256 retryAfter
    );
    /// @notice The amount is above the bucket's capacity: split it.
    error AmountAboveCapacity(address homeToken, uint32 domain, uint256 amount, uint256 capacity);
    /// @notice Only the guardian or the owner may pause.
    error NotGuardian(address caller);
    /// @notice `handle` was called by someone other than the mailbox.
    error NotMailbox(address caller);
    /// @notice The message does not come from the bridge enrolled for its origin.
    error UnknownSender(uint32 origin, bytes32 sender);
    /// @notice The body is not a Transfer or a Return.
    error UnknownKind(uint256 kind);
    /// @notice The body has the wrong length for its kind.
    error MalformedBody(uint256 length);

    /// @notice Sends `amount` of `token` to `recipient` on `destination`: locks it here (home
    /// chain) or burns it (remote chain). Returns the message id.
    function send(address token, uint32 destination, address recipient, uint256 amount) external returns (bytes32 id);
}
