// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ISecurityToken, Restriction} from "./interfaces/ISecurityToken.sol";

/// @title HashedTimelock
/// @notice One leg of a cross-chain delivery-versus-payment: tokens locked for a receiver
/// under sha256(preimage) until an expiry. Anyone may claim with the 32-byte preimage
/// before the expiry (the tokens go to the receiver) and anyone may refund at or after it
/// (they go back to the sender); each lock ends exactly once.
///
/// Security tokens (marked by the owner) must have made this contract a custodian: a lock
/// toward a receiver who could not receive is refused, and a refund goes through
/// `release`, so an investor revoked in the meantime still gets their tokens back.
/// Tokens that deliver less than asked (fee-on-transfer) are refused, so a lock always
/// holds exactly its `amount`; rebasing tokens are not supported.
contract HashedTimelock is Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Life of a lock: None (unknown id) -> Locked -> Claimed | Refunded.
    enum State {
        None,
        Locked,
        Claimed,
        Refunded
    }

    /// @notice A lock as stored.
    struct Lock {
        address token;
        uint64 expiry;
        State state;
        bool securityToken; // refund through `release` (snapshot at lock time)
        address sender;
        address receiver;
        bytes32 hashlock;
        uint256 amount;
    }

    /// @notice Tokens locked by the owner as security tokens.
    mapping(address token => bool) public isSecurityToken;
    /// @notice Locks created so far; part of every lock id.
    uint256 public lockCount;

    mapping(bytes32 lockId => Lock) private _locks;

    /// @notice `sender` locked `amount` of `token` for `receiver` until `expiry`.
    event Locked(
        bytes32 indexed lockId,
        bytes32 indexed hashlock,
        address token,
        address sender,
        address receiver,
        uint256 amount,
        uint64 expiry
    );
    /// @notice The lock was claimed with `preimage` (the secret the other leg needs).
    event Claimed(bytes32 indexed lockId, bytes32 indexed hashlock, bytes32 preimage);
    /// @notice The lock was refunded to its sender.
    event Refunded(bytes32 indexed lockId, bytes32 indexed hashlock);
    /// @notice The owner marked or unmarked `token` as a security token.
    event SecurityTokenSet(address indexed token, bool isSecurity);

    /// @notice Zero amount.
    error ZeroAmount();
    /// @notice Zero hashlock (no preimage is known to hash to it, but it is surely a mistake).
    error ZeroHashlock();
    /// @notice Zero token (or zero address where the owner names a token).
    error ZeroAddress();
    /// @notice The receiver is zero or this contract (the tokens could never leave).
    error InvalidReceiver(address receiver);
    /// @notice The expiry is not in the future.
    error ExpiryInPast(uint64 expiry, uint64 now_);
    /// @notice The security token refuses the receiver; `code` is its ERC-1404 restriction.
    error ReceiverRestricted(address token, address receiver, uint8 code);
    /// @notice The security token does not hold this contract as a custodian, so a refund could fail.
    error NotTokenCustodian(address token);
    /// @notice The token delivered a different amount than asked (fee-on-transfer).
    error AmountNotReceived(uint256 expected, uint256 received);
    /// @notice The lock is not open: unknown (None), or already Claimed or Refunded.
    error LockNotOpen(bytes32 lockId, State state);
    /// @notice The preimage does not hash to the lock's hashlock.
    error WrongPreimage(bytes32 lockId);
    /// @notice Claim at or after expiry.
    error TimelockExpired(bytes32 lockId, uint64 expiresAt, uint64 now_);
    /// @notice Refund before expiry.
    error TimelockNotExpired(bytes32 lockId, uint64 expiresAt, uint64 now_);

    /// @param owner_ May mark security tokens; hands over in two steps (the new owner accepts).
    constructor(address owner_) Ownable(owner_) {}

    /// @notice Marks `token` as a security token (eligibility check at lock, refund by
    /// `release`), or unmarks it. Existing locks keep the marking they were made with.
    function setSecurityToken(address token, bool isSecurity) external onlyOwner {
        if (token == address(0)) revert ZeroAddress();
        isSecurityToken[token] = isSecurity;
        emit SecurityTokenSet(token, isSecurity);
    }

    /// @notice Pulls `amount` of `token` from the caller (approve first) and locks it for
    /// `receiver` under `hashlock` = sha256(preimage) until `expiry`.
    /// @return lockId keccak256(chainid, this, sender, lockCount): unique per lock, so two
    /// identical trades never collide.
    function lock(address token, address receiver, uint256 amount, bytes32 hashlock, uint64 expiry)
        external
        nonReentrant
        returns (bytes32 lockId)
    {
        if (token == address(0)) revert ZeroAddress();
        if (receiver == address(0) || receiver == address(this)) revert InvalidReceiver(receiver);
        if (amount == 0) revert ZeroAmount();
        if (hashlock == bytes32(0)) revert ZeroHashlock();
        if (expiry <= block.timestamp) revert ExpiryInPast(expiry, uint64(block.timestamp));
        bool security = isSecurityToken[token];
        if (security) _checkEligible(ISecurityToken(token), receiver, amount);

        address sender = msg.sender;
        lockId = keccak256(abi.encode(block.chainid, address(this), sender, lockCount++));
        _locks[lockId] = Lock(token, expiry, State.Locked, security, sender, receiver, hashlock, amount);
        emit Locked(lockId, hashlock, token, sender, receiver, amount, expiry);

        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received != amount) revert AmountNotReceived(amount, received);
    }

    /// @notice Pays the lock to its receiver; anyone may call before expiry with the preimage.
    function claim(bytes32 lockId, bytes32 preimage) external nonReentrant {
        Lock storage l = _open(lockId);
        if (block.timestamp >= l.expiry) revert TimelockExpired(lockId, l.expiry, uint64(block.timestamp));
        if (sha256(abi.encodePacked(preimage)) != l.hashlock) revert WrongPreimage(lockId);
        emit Claimed(lockId, l.hashlock, preimage);
        _settle(lockId, State.Claimed);
    }

    /// @notice Gives the lock back to its sender; anyone may call at or after expiry.
    function refund(bytes32 lockId) external nonReentrant {
        Lock storage l = _open(lockId);
        if (block.timestamp < l.expiry) revert TimelockNotExpired(lockId, l.expiry, uint64(block.timestamp));
        emit Refunded(lockId, l.hashlock);
        _settle(lockId, State.Refunded);
    }

    /// @notice The lock `lockId` (all zero, state None, when unknown).
    function getLock(bytes32 lockId) external view returns (Lock memory) {
        return _locks[lockId];
    }

    /// @dev The one way out of a lock: state is written (and the caller emitted its event)
    /// before any token moves.
    function _settle(bytes32 lockId, State outcome) private {
        Lock storage l = _locks[lockId];
        l.state = outcome;
        (address token, uint256 amount) = (l.token, l.amount);
        if (outcome == State.Claimed) {
            IERC20(token).safeTransfer(l.receiver, amount);
        } else if (l.securityToken) {
            ISecurityToken(token).release(l.sender, amount);
        } else {
            IERC20(token).safeTransfer(l.sender, amount);
        }
    }

    function _open(bytes32 lockId) private view returns (Lock storage l) {
        l = _locks[lockId];
        if (l.state != State.Locked) revert LockNotOpen(lockId, l.state);
    }

    function _checkEligible(ISecurityToken token, address receiver, uint256 amount) private view {
        if (!token.isCustodian(address(this))) revert NotTokenCustodian(address(token));
        uint8 code = token.detectTransferRestriction(address(this), receiver, amount);
        if (code != Restriction.SUCCESS) revert ReceiverRestricted(address(token), receiver, code);
    }
}
