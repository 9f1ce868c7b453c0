// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

// Message kinds of the vote channel: the home VoteManager sends each chain's root to its
// Ballot (5); each remote Ballot sends its tally home (6).
uint8 constant KIND_VOTE_ROOT = 5;
uint8 constant KIND_VOTE_TALLY = 6;

/// @notice What the home chain commits for one chain of one vote.
struct VoteRoot {
    uint64 id; // the vote, numbered by the home manager from 1
    uint64 closes; // unix seconds; no vote at or after it
    uint8 options; // options are numbered 0 .. options - 1
    uint256 totalPower; // sum of the powers of the root's leaves
    bytes32 root; // sorted-pair Merkle root of VoteLib.leaf(...)
}

/// @notice The home chain's side of a holder vote: opens it (record date, deadline, options),
/// commits one root of voting power per chain, and adds up the tallies each chain sends home.
interface IVoteManager {
    /// @notice A vote was opened.
    event VoteOpened(uint64 indexed id, address indexed homeToken, uint64 recordDate, uint64 closes, uint8 options, bytes32 question);
    /// @notice A chain's root of voting power was committed.
    event VoteRootCommitted(uint64 indexed id, uint32 indexed domain, bytes32 root, uint256 totalPower, bytes32 messageId);
    /// @notice A chain's tally arrived (remote: as a proven message) and was added.
    event TallyReceived(uint64 indexed id, uint32 indexed domain, uint256[] tally);
    /// @notice The ballot of a domain was enrolled.
    event BallotEnrolled(uint32 indexed domain, address ballot);

    /// @notice An address argument is zero.
    error ZeroAddress();
    /// @notice The record date is not in the past, or the deadline not after now, or fewer than two options.
    error BadVote(uint64 recordDate, uint64 closes, uint8 options);
    /// @notice No vote with this id.
    error UnknownVote(uint64 id);
    /// @notice This chain's root of the vote was committed already.
    error AlreadyCommitted(uint64 id, uint32 domain);
    /// @notice No ballot is enrolled for the domain.
    error NoBallot(uint32 domain);
    /// @notice `handle` was called by someone other than the mailbox.
    error NotMailbox(address caller);
    /// @notice The tally does not come from the ballot enrolled for its domain.
    error NotBallot(uint32 domain, bytes32 sender);
    /// @notice The chain's tally was counted already.
    error AlreadyTallied(uint64 id, uint32 domain);
    /// @notice The body is not a tally, or has the wrong number of options.
    error MalformedBody(uint256 length);

    function open(address homeToken, uint64 recordDate, uint64 closes, uint8 options, bytes32 question)
        external
        returns (uint64 id);

    function commitRoot(uint64 id, uint32 domain, bytes32 root, uint256 totalPower)
        external
        returns (bytes32 messageId);
}

/// @notice One per chain: holders vote with the power of their leaf in this chain's root.
interface IBallot {
    /// @notice A vote's root was accepted on this chain.
    event BallotOpened(uint64 indexed id, uint64 closes, uint8 options, uint256 totalPower, bytes32 root);
    /// @notice A holder voted (directly, or by a signature someone submitted).
    event Voted(uint64 indexed id, address indexed holder, uint8 option, uint256 power);
    /// @notice This chain's tally left for home (`messageId` zero on the home chain).
    event TallySent(uint64 indexed id, uint256[] tally, bytes32 messageId);
    /// @notice The manager the ballot accepts roots from was enrolled.
    event ManagerEnrolled(address manager);

    /// @notice An address argument is zero.
    error ZeroAddress();
    /// @notice `handle` was called by someone other than the mailbox.
    error NotMailbox(address caller);
    /// @notice The message or call does not come from the home manager.
    error NotManager(uint32 origin, bytes32 sender);
    /// @notice The body is not a vote root.
    error MalformedBody(uint256 length);
    /// @notice A vote with this id was opened already.
    error AlreadyOpen(uint64 id);
    /// @notice No vote with this id is open here.
    error UnknownVote(uint64 id);
    /// @notice The holder voted already on this chain.
    error AlreadyVoted(uint64 id, address holder);
    /// @notice The proof does not lead to the vote's root.
    error InvalidProof(address holder);
    /// @notice The option does not exist.
    error BadOption(uint8 option, uint8 options);
    /// @notice The vote has closed.
    error VoteClosed(uint64 id, uint64 closes);
    /// @notice The vote is still open: no tally yet.
    error StillOpen(uint64 id, uint64 closes);
    /// @notice The tally was sent already.
    error TallyAlreadySent(uint64 id);
    /// @notice The signature is not the holder's.
    error BadSignature(address holder);

    function vote(uint64 id, uint8 option, uint256 power, bytes32[] calldata proof) external;

    function voteBySig(
        uint64 id,
        address holder,
        uint8 option,
        uint256 power,
        bytes32[] calldata proof,
        bytes calldata signature
    ) external;

    function sendTally(uint64 id) external returns (bytes32 messageId);
}
