// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IBallot, VoteRoot, KIND_VOTE_ROOT} from "./interfaces/IVotes.sol";
import {IMailbox} from "./interfaces/IMailbox.sol";
import {IMessageRecipient} from "./interfaces/IMessageRecipient.sol";
import {VoteLib} from "./libs/VoteLib.sol";

/// @notice The part of VoteManager the home chain's ballot reports to directly.
interface ILocalTally {
    function recordLocal(uint64 id, uint256[] calldata tally) external;
}

/// @title Ballot
/// @notice One chain's part of a holder vote. Voting power is the holder's balance on this
/// chain at the record date, committed by the home VoteManager as a Merkle root (a proven
/// message on a remote chain, a direct call at home); nobody else can open a vote. Each
/// holder votes once per vote on this chain, itself or by an EIP-712 signature anyone
/// submits. After the deadline anyone sends the tally home, once. A holder with tokens on two
/// chains votes on each with that chain's part, so no unit of power is counted twice.
contract Ballot is IBallot, IMessageRecipient, AccessControl, EIP712 {
    /// @notice The EIP-712 type a holder signs.
    bytes32 public constant VOTE_TYPEHASH = keccak256("Vote(uint64 id,address holder,uint8 option,uint256 power)");

    IMailbox public immutable mailbox;
    uint32 public immutable localDomain;
    uint32 public immutable homeDomain;
    /// @notice The home VoteManager.
    address public manager;

    struct Poll {
        bytes32 root;
        uint64 closes;
        uint8 options;
        bool tallied;
        uint256 totalPower;
        uint256[] tally;
    }

    mapping(uint64 id => Poll) private _polls;
    mapping(uint64 id => mapping(address holder => bool)) public voted;

    /// @param admin Holds DEFAULT_ADMIN_ROLE: enrolls the manager.
    constructor(IMailbox mailbox_, uint32 homeDomain_, address admin) EIP712("stbridge Ballot", "1") {
        if (address(mailbox_) == address(0) || admin == address(0)) revert ZeroAddress();
        mailbox = mailbox_;
        localDomain = mailbox_.localDomain();
        homeDomain = homeDomain_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    function enrollManager(address manager_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (manager_ == address(0)) revert ZeroAddress();
        manager = manager_;
        emit ManagerEnrolled(manager_);
    }

    /// @inheritdoc IMessageRecipient
    function handle(uint32 origin, bytes32 sender, bytes calldata body) external {
        if (msg.sender != address(mailbox)) revert NotMailbox(msg.sender);
        if (origin != homeDomain || origin == localDomain || sender != bytes32(uint256(uint160(manager)))) {
            revert NotManager(origin, sender);
        }
        if (body.length != VoteLib.ROOT_BODY_LENGTH || uint256(bytes32(body[:32])) != KIND_VOTE_ROOT) {
            revert MalformedBody(body.length);
        }
        _open(VoteLib.decodeRoot(body));
    }

    /// @notice The home manager opens the home chain's root.
    function openLocal(VoteRoot calldata r) external {
        if (localDomain != homeDomain || msg.sender != manager) {
            revert NotManager(localDomain, bytes32(uint256(uint160(msg.sender))));
        }
        _open(r);
    }

    function _open(VoteRoot memory r) private {
        Poll storage p = _polls[r.id];
        if (p.root != bytes32(0) || r.root == bytes32(0)) revert AlreadyOpen(r.id);
        p.root = r.root;
        p.closes = r.closes;
        p.options = r.options;
        p.totalPower = r.totalPower;
        p.tally = new uint256[](r.options);
        emit BallotOpened(r.id, r.closes, r.options, r.totalPower, r.root);
    }

    /// @inheritdoc IBallot
    function vote(uint64 id, uint8 option, uint256 power, bytes32[] calldata proof) external {
        _cast(id, msg.sender, option, power, proof);
    }

    /// @inheritdoc IBallot
    function voteBySig(
        uint64 id,
        address holder,
        uint8 option,
        uint256 power,
        bytes32[] calldata proof,
        bytes calldata signature
    ) external {
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(VOTE_TYPEHASH, id, holder, option, power)));
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != holder) revert BadSignature(holder);
        _cast(id, holder, option, power, proof);
    }

    function _cast(uint64 id, address holder, uint8 option, uint256 power, bytes32[] calldata proof) private {
        Poll storage p = _polls[id];
        if (p.root == bytes32(0)) revert UnknownVote(id);
        if (block.timestamp >= p.closes) revert VoteClosed(id, p.closes);
        if (option >= p.options) revert BadOption(option, p.options);
        if (voted[id][holder]) revert AlreadyVoted(id, holder);
        if (!MerkleProof.verifyCalldata(proof, p.root, VoteLib.leaf(localDomain, id, holder, power))) {
            revert InvalidProof(holder);
        }
        voted[id][holder] = true;
        p.tally[option] += power;
        emit Voted(id, holder, option, power);
    }

    /// @inheritdoc IBallot
    function sendTally(uint64 id) external returns (bytes32 messageId) {
        Poll storage p = _polls[id];
        if (p.root == bytes32(0)) revert UnknownVote(id);
        if (block.timestamp < p.closes) revert StillOpen(id, p.closes);
        if (p.tallied) revert TallyAlreadySent(id);
        p.tallied = true;
        if (localDomain == homeDomain) {
            ILocalTally(manager).recordLocal(id, p.tally);
        } else {
            messageId = mailbox.dispatch(homeDomain, bytes32(uint256(uint160(manager))), VoteLib.encodeTally(id, p.tally));
        }
        emit TallySent(id, p.tally, messageId);
    }

    /// @notice A vote on this chain: root, deadline, options, total power, tally so far, and whether it was sent.
    function poll(uint64 id) external view returns (Poll memory) {
        return _polls[id];
    }

    /// @notice The EIP-712 digest `holder` signs to vote `option` with `power`.
    function voteDigest(uint64 id, address holder, uint8 option, uint256 power) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOTE_TYPEHASH, id, holder, option, power)));
    }
}
