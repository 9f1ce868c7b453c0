// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IVoteManager, VoteRoot, KIND_VOTE_TALLY} from "./interfaces/IVotes.sol";
import {IMailbox} from "./interfaces/IMailbox.sol";
import {IMessageRecipient} from "./interfaces/IMessageRecipient.sol";
import {VoteLib} from "./libs/VoteLib.sol";
import {Ballot} from "./Ballot.sol";

/// @title VoteManager
/// @notice The home chain's record of holder votes: opens a vote (record date, deadline,
/// options, the question's hash), commits one root of voting power per chain, and adds up
/// each chain's tally once: a remote chain's as a proven message from its enrolled Ballot
/// (kind 6), the home chain's from the local Ballot directly. The final tally is the sum.
contract VoteManager is IVoteManager, IMessageRecipient, AccessControl {
    /// @notice The issuer's agent: opens votes and commits their roots.
    bytes32 public constant AGENT_ROLE = keccak256("AGENT_ROLE");

    IMailbox public immutable mailbox;
    uint32 public immutable localDomain;

    struct Vote {
        address homeToken;
        uint64 recordDate;
        uint64 closes;
        uint8 options;
        bytes32 question;
        uint256 totalPower;
        uint32 chains; // roots committed
        uint32 reported; // tallies received
    }

    uint64 public count;
    mapping(uint64 id => Vote) private _votes;
    mapping(uint64 id => uint256[]) private _totals;
    mapping(uint64 id => mapping(uint32 domain => bytes32)) public rootOf;
    mapping(uint64 id => mapping(uint32 domain => bool)) public tallied;
    mapping(uint32 domain => address) public ballotOf;

    constructor(IMailbox mailbox_, address admin) {
        if (address(mailbox_) == address(0) || admin == address(0)) revert ZeroAddress();
        mailbox = mailbox_;
        localDomain = mailbox_.localDomain();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    function enrollBallot(uint32 domain, address ballot) external onlyRole(DEFAULT_ADMIN_ROLE) {
        ballotOf[domain] = ballot;
        emit BallotEnrolled(domain, ballot);
    }

    /// @inheritdoc IVoteManager
    function open(address homeToken, uint64 recordDate, uint64 closes, uint8 options, bytes32 question)
        external
        onlyRole(AGENT_ROLE)
        returns (uint64 id)
    {
        if (homeToken == address(0)) revert ZeroAddress();
        if (recordDate >= block.timestamp || closes <= block.timestamp || options < 2) {
            revert BadVote(recordDate, closes, options);
        }
        id = ++count;
        _votes[id] = Vote(homeToken, recordDate, closes, options, question, 0, 0, 0);
        _totals[id] = new uint256[](options);
        emit VoteOpened(id, homeToken, recordDate, closes, options, question);
    }

    /// @inheritdoc IVoteManager
    function commitRoot(uint64 id, uint32 domain, bytes32 root, uint256 totalPower)
        external
        onlyRole(AGENT_ROLE)
        returns (bytes32 messageId)
    {
        Vote storage v = _votes[id];
        if (v.homeToken == address(0)) revert UnknownVote(id);
        if (rootOf[id][domain] != bytes32(0)) revert AlreadyCommitted(id, domain);
        if (root == bytes32(0)) revert ZeroAddress();
        address ballot = ballotOf[domain];
        if (ballot == address(0)) revert NoBallot(domain);
        rootOf[id][domain] = root;
        v.totalPower += totalPower;
        ++v.chains;
        VoteRoot memory r = VoteRoot(id, v.closes, v.options, totalPower, root);
        if (domain == localDomain) {
            Ballot(ballot).openLocal(r);
        } else {
            messageId = mailbox.dispatch(domain, bytes32(uint256(uint160(ballot))), VoteLib.encodeRoot(r));
        }
        emit VoteRootCommitted(id, domain, root, totalPower, messageId);
    }

    /// @inheritdoc IMessageRecipient
    function handle(uint32 origin, bytes32 sender, bytes calldata body) external {
        if (msg.sender != address(mailbox)) revert NotMailbox(msg.sender);
        if (origin == localDomain || sender != bytes32(uint256(uint160(ballotOf[origin]))) || sender == bytes32(0)) {
            revert NotBallot(origin, sender);
        }
        if (body.length < 32 || uint256(bytes32(body[:32])) != KIND_VOTE_TALLY) revert MalformedBody(body.length);
        (uint64 id, uint256[] memory tally) = VoteLib.decodeTally(body);
        _record(id, origin, tally);
    }

    /// @notice The home chain's ballot reports its tally.
    function recordLocal(uint64 id, uint256[] calldata tally) external {
        if (msg.sender != ballotOf[localDomain] || msg.sender == address(0)) {
            revert NotBallot(localDomain, bytes32(uint256(uint160(msg.sender))));
        }
        _record(id, localDomain, tally);
    }

    function _record(uint64 id, uint32 domain, uint256[] memory tally) private {
        Vote storage v = _votes[id];
        if (v.homeToken == address(0) || rootOf[id][domain] == bytes32(0)) revert UnknownVote(id);
        if (tally.length != v.options) revert MalformedBody(tally.length);
        if (tallied[id][domain]) revert AlreadyTallied(id, domain);
        tallied[id][domain] = true;
        ++v.reported;
        uint256[] storage sums = _totals[id];
        for (uint256 i; i < tally.length; ++i) {
            sums[i] += tally[i];
        }
        emit TallyReceived(id, domain, tally);
    }

    /// @notice A vote as opened, with its total power and how many chains committed and reported.
    function voteOf(uint64 id) external view returns (Vote memory) {
        return _votes[id];
    }

    /// @notice The tally so far: the sum of the chains that reported (final when all have).
    function totals(uint64 id) external view returns (uint256[] memory) {
        return _totals[id];
    }
}
