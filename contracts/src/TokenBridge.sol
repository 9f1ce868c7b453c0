// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IIdentityRegistry, IdentityRecord} from "./interfaces/IIdentityRegistry.sol";
import {IMailbox} from "./interfaces/IMailbox.sol";
import {IMessageRecipient} from "./interfaces/IMessageRecipient.sol";
import {ISecurityToken} from "./interfaces/ISecurityToken.sol";
import {ITokenBridge} from "./interfaces/ITokenBridge.sol";

/// @notice The part of MirrorIdentityRegistry the bridge forwards carried records to.
interface IRecordForwarding {
    function applyRecord(address wallet, IdentityRecord calldata record) external returns (bool applied);
}

/// @title TokenBridge
/// @notice Moves security tokens between the home chain, where the canonical token is
/// locked in escrow, and remote chains, where its mirror is minted and burned. A transfer
/// carries the recipient's home identity record, so compliance state travels with
/// ownership; a transfer the destination's rules refuse bounces back to its sender.
/// Per-token, per-lane token buckets bound what a compromised committee could move, and a
/// guardian can pause a lane.
contract TokenBridge is ITokenBridge, IMessageRecipient, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint8 internal constant KIND_TRANSFER = 1;
    uint8 internal constant KIND_RETURN = 2;
    /// @notice Return reason when the destination has no token for the transfer.
    uint8 public constant REASON_UNKNOWN_TOKEN = 255;
    /// @notice Return reason when the recipient is a custodian contract on the destination.
    uint8 public constant REASON_CUSTODIAN = 254;

    /// @notice This chain's mailbox: the only caller of `handle`, the only way out.
    IMailbox public immutable mailbox;
    /// @notice This chain's domain.
    uint32 public immutable localDomain;
    /// @notice The domain where canonical tokens live (locked here if it is this chain).
    uint32 public immutable homeDomain;

    /// @notice May pause lanes (the owner unpauses).
    address public guardian;
    /// @dev The filter of this chain's own listed custodians, as Lane.custodianBits; beside the
    /// guardian in one slot, read cold once per transaction by `handle`.
    uint64 private _localCustodianBits;

    /// @dev One slot per remote domain: its enrolled bridge, whether the lane is paused, and a
    /// filter of the domain's listed custodians (bit `uint160(account) % 64` set for each,
    /// never cleared): an account whose bit is clear is no custodian, known from the slot `send`
    /// reads anyway; only a set bit costs the read of `_custodians`.
    struct Lane {
        address bridge;
        bool paused;
        uint64 custodianBits;
    }

    /// @dev A token bucket: `available` refills at `rate` per second up to `capacity`.
    /// A capacity of zero means no limit is configured.
    struct Bucket {
        uint128 capacity;
        uint128 rate;
        uint128 available;
        uint64 updatedAt;
    }

    mapping(uint32 domain => Lane) private _lanes;
    mapping(address homeToken => address) private _localToken;
    mapping(address localToken => address) private _homeToken;
    mapping(address homeToken => mapping(uint32 domain => mapping(bool inbound => Bucket))) private _buckets;
    /// @dev Custodian contracts per domain (this chain's own under `localDomain`), never
    /// recipients; see `isCustodian` for the ones refused without being listed.
    mapping(uint32 domain => mapping(address account => bool)) private _custodians;

    modifier onlyGuardianOrOwner() {
        if (msg.sender != guardian && msg.sender != owner()) revert NotGuardian(msg.sender);
        _;
    }

    /// @param mailbox_ This chain's mailbox.
    /// @param homeDomain_ The home chain's domain (may be this chain's).
    /// @param owner_ Enrolls remotes, registers tokens, sets limits and the guardian.
    constructor(IMailbox mailbox_, uint32 homeDomain_, address owner_) Ownable(owner_) {
        if (address(mailbox_) == address(0)) revert ZeroAddress();
        mailbox = mailbox_;
        localDomain = mailbox_.localDomain();
        homeDomain = homeDomain_;
    }

    // ------------------------------------------------------------------ configuration

    /// @notice Enrolls (or, with address 0, removes) the bridge of a remote domain.
    function enrollRemote(uint32 domain, address remoteBridge) external onlyOwner {
        if (domain == localDomain) revert LocalDomain(domain);
        _lanes[domain].bridge = remoteBridge;
        emit RemoteEnrolled(domain, remoteBridge);
    }

    /// @notice Maps a canonical token (its home address) to its token on this chain.
    /// On the home chain both are the same; on a remote chain this bridge must hold the
    /// mirror's BRIDGE_ROLE.
    function registerToken(address homeToken, address localToken) external onlyOwner {
        if (homeToken == address(0) || localToken.code.length == 0) revert UnknownToken(localToken);
        if (_isHome() && homeToken != localToken) revert UnknownToken(localToken);
        _localToken[homeToken] = localToken;
        _homeToken[localToken] = homeToken;
        emit TokenRegistered(homeToken, localToken);
    }

    /// @notice Sets the bucket of a token's outbound or inbound flow on a lane. A new bucket
    /// starts full; a changed one keeps what it holds now, cut to the new capacity, so
    /// tightening a limit during an incident never hands out a fresh allowance.
    /// @param capacity Most that can move at once (0 removes the limit).
    /// @param ratePerSecond How fast the capacity refills.
    function setRateLimit(address homeToken, uint32 domain, bool inbound, uint128 capacity, uint128 ratePerSecond)
        external
        onlyOwner
    {
        Bucket memory old = _buckets[homeToken][domain][inbound];
        uint256 held = old.capacity == 0 ? capacity : _refilled(old);
        uint128 available = held > capacity ? capacity : uint128(held);
        _buckets[homeToken][domain][inbound] =
            Bucket({capacity: capacity, rate: ratePerSecond, available: available, updatedAt: uint64(block.timestamp)});
        emit RateLimitSet(homeToken, domain, inbound, capacity, ratePerSecond);
    }

    /// @notice Sets who may pause lanes.
    function setGuardian(address guardian_) external onlyOwner {
        guardian = guardian_;
        emit GuardianSet(guardian_);
    }

    /// @notice Marks (or unmarks) `account` on `domain` as a custodian contract, which no
    /// transfer may name as its recipient: `send` refuses it for that destination, and on this
    /// chain (`domain` = `localDomain`) a transfer that arrives for it bounces back to its
    /// sender. List every chain's timelock, bridge, mailbox and registry.
    function setCustodian(uint32 domain, address account, bool custodian) external onlyOwner {
        if (account == address(0)) revert ZeroAddress();
        _custodians[domain][account] = custodian;
        if (custodian) {
            if (domain == localDomain) _localCustodianBits |= _custodianBit(account);
            else _lanes[domain].custodianBits |= _custodianBit(account);
        }
        emit CustodianSet(domain, account, custodian);
    }

    /// @notice Stops sends to and deliveries from `domain` (deliveries wait and are retried).
    function pauseLane(uint32 domain) external onlyGuardianOrOwner {
        _lanes[domain].paused = true;
        emit LanePaused(domain, msg.sender);
    }

    /// @notice Resumes a paused lane.
    function unpauseLane(uint32 domain) external onlyOwner {
        _lanes[domain].paused = false;
        emit LaneUnpaused(domain);
    }

    // ------------------------------------------------------------------ sending

    /// @inheritdoc ITokenBridge
    function send(address token, uint32 destination, address recipient, uint256 amount)
        external
        nonReentrant
        returns (bytes32 id)
    {
        address homeToken = _homeToken[token];
        if (homeToken == address(0) || token.code.length == 0) revert UnknownToken(token);
        Lane memory lane = _lanes[destination];
        if (lane.bridge == address(0)) revert UnknownDomain(destination);
        if (lane.paused) revert LaneIsPaused(destination);
        if (recipient == address(0)) revert ZeroAddress();
        if (recipient == lane.bridge || _isListed(lane.custodianBits, destination, recipient)) {
            revert CustodianRecipient(destination, recipient);
        }
        if (amount == 0) revert ZeroAmount();
        ISecurityToken st = ISecurityToken(token);
        if (!st.canReceive(recipient)) revert RecipientNotEligible(recipient);
        _consume(homeToken, destination, false, amount);

        IdentityRecord memory record;
        if (_isHome()) {
            record = st.identityRegistry().recordOf(recipient);
            uint256 before = st.balanceOf(address(this));
            IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
            if (st.balanceOf(address(this)) - before != amount) revert UnknownToken(token);
        } else {
            st.bridgeBurn(msg.sender, amount);
        }
        bytes memory body = abi.encode(KIND_TRANSFER, homeToken, msg.sender, recipient, amount, record);
        id = mailbox.dispatch(destination, bytes32(uint256(uint160(lane.bridge))), body);
        emit TransferSent(id, homeToken, destination, msg.sender, recipient, amount);
    }

    // ------------------------------------------------------------------ receiving

    /// @inheritdoc IMessageRecipient
    function handle(uint32 origin, bytes32 sender, bytes calldata body) external nonReentrant {
        if (msg.sender != address(mailbox)) revert NotMailbox(msg.sender);
        Lane memory lane = _lanes[origin];
        if (lane.bridge == address(0) || sender != bytes32(uint256(uint160(lane.bridge)))) {
            revert UnknownSender(origin, sender);
        }
        if (lane.paused) revert LaneIsPaused(origin);
        if (body.length < 32) revert MalformedBody(body.length);
        uint256 kind = uint256(bytes32(body[:32]));
        if (kind == KIND_TRANSFER) {
            _receiveTransfer(origin, lane.bridge, body);
        } else if (kind == KIND_RETURN) {
            _receiveReturn(origin, body);
        } else {
            revert UnknownKind(kind);
        }
    }

    function _receiveTransfer(uint32 origin, address remoteBridge, bytes calldata body) private {
        if (body.length != 320) revert MalformedBody(body.length);
        (, address homeToken, address from, address to, uint256 amount, IdentityRecord memory record) =
            abi.decode(body, (uint8, address, address, address, uint256, IdentityRecord));
        bytes32 transferId = mailbox.currentMessageId();
        address local = _localToken[homeToken];
        if (local == address(0)) {
            _bounce(origin, remoteBridge, transferId, homeToken, from, amount, REASON_UNKNOWN_TOKEN);
            return;
        }
        if (_isLocalCustodian(to)) {
            _bounce(origin, remoteBridge, transferId, homeToken, from, amount, REASON_CUSTODIAN);
            return;
        }
        if (!_isHome() && origin == homeDomain && record.version != 0) {
            IRecordForwarding(address(ISecurityToken(local).identityRegistry())).applyRecord(to, record);
        }
        uint8 code = _deliver(ISecurityToken(local), homeToken, origin, to, amount);
        if (code != 0) {
            _bounce(origin, remoteBridge, transferId, homeToken, from, amount, code);
            return;
        }
        emit TransferReceived(transferId, homeToken, origin, to, amount);
    }

    /// @dev Unlocks (home) or mints (remote) `amount` to `to` if the token's rules allow it,
    /// drawing on the inbound bucket; otherwise moves and draws nothing and returns the
    /// restriction code. The token checks its rules once, in the same call that moves
    /// (`tryTransferFromCustody`, `tryBridgeMint`). The bucket is drawn before that call
    /// (effects before the interaction) and given back on a refusal: the one write after the
    /// call, into this contract's own bucket, under the reentrancy guard. When the bucket
    /// cannot cover the amount, a transfer the rules refuse still bounces at once (waiting
    /// would not change the answer, and it draws nothing) and one they allow reverts with the
    /// bucket's error, to be delivered once it refills; only this rare path asks
    /// `detectTransferRestriction` first.
    /// The token is called plainly, not in a try/catch: a revert inside it, out of gas
    /// included, reverts the handler (the message stays undelivered and is retried) and can
    /// never pass for a refusal, so no submitter can force a bounce by choosing the gas.
    function _deliver(ISecurityToken st, address homeToken, uint32 origin, address to, uint256 amount)
        private
        returns (uint8 code)
    {
        bool home = _isHome();
        if (!_tryTake(homeToken, origin, true, amount)) {
            code = st.detectTransferRestriction(home ? address(this) : address(0), to, amount);
            if (code != 0) return code;
            _revertLimited(homeToken, origin, true, amount);
        }
        code = home ? st.tryTransferFromCustody(to, amount) : st.tryBridgeMint(to, amount);
        if (code != 0) _giveBack(homeToken, origin, true, amount);
    }

    function _bounce(
        uint32 origin,
        address remoteBridge,
        bytes32 transferId,
        address homeToken,
        address from,
        uint256 amount,
        uint8 reason
    ) private {
        bytes memory body = abi.encode(KIND_RETURN, homeToken, from, amount, transferId, reason);
        bytes32 returnId = mailbox.dispatch(origin, bytes32(uint256(uint160(remoteBridge))), body);
        emit Bounced(transferId, returnId, origin, from, amount, reason);
    }

    /// @dev A Return releases from escrow (home) or re-mints (remote) exactly as a Transfer
    /// does, so it draws on the same inbound bucket: otherwise a fallen committee could drain
    /// the escrow with forged Returns, past every rate limit. An honest Return that finds the
    /// bucket empty fails and is delivered again later; nothing is lost.
    function _receiveReturn(uint32 origin, bytes calldata body) private {
        if (body.length != 192) revert MalformedBody(body.length);
        (, address homeToken, address to, uint256 amount, bytes32 transferId, uint8 reason) =
            abi.decode(body, (uint8, address, address, uint256, bytes32, uint8));
        address local = _localToken[homeToken];
        if (local == address(0)) revert UnknownToken(homeToken);
        _consume(homeToken, origin, true, amount);
        if (_isHome()) {
            ISecurityToken(local).release(to, amount);
        } else {
            ISecurityToken(local).restoreMint(to, amount);
        }
        emit Returned(transferId, homeToken, to, amount, reason);
    }

    // ------------------------------------------------------------------ rate limits

    /// @dev Draws `amount` from the bucket, or reverts with why it cannot.
    function _consume(address homeToken, uint32 domain, bool inbound, uint256 amount) private {
        if (!_tryTake(homeToken, domain, inbound, amount)) _revertLimited(homeToken, domain, inbound, amount);
    }

    /// @dev Draws `amount` if the bucket holds it (always true without a bucket); otherwise
    /// changes nothing and returns false.
    function _tryTake(address homeToken, uint32 domain, bool inbound, uint256 amount) private returns (bool) {
        Bucket storage bucket = _buckets[homeToken][domain][inbound];
        Bucket memory b = bucket;
        if (b.capacity == 0) return true;
        uint256 available = _refilled(b);
        if (amount > available) return false;
        bucket.available = uint128(available - amount);
        bucket.updatedAt = uint64(block.timestamp);
        return true;
    }

    /// @dev Gives back what `_tryTake` drew in this transaction (a refused delivery). It drew
    /// from the bucket refilled up to now, so the sum stays within the capacity.
    function _giveBack(address homeToken, uint32 domain, bool inbound, uint256 amount) private {
        Bucket storage bucket = _buckets[homeToken][domain][inbound];
        if (bucket.capacity == 0) return;
        bucket.available += uint128(amount);
    }

    /// @dev Reverts with why the bucket cannot cover `amount`: above its capacity, or not
    /// refilled yet (with the exact wait).
    function _revertLimited(address homeToken, uint32 domain, bool inbound, uint256 amount) private view {
        Bucket memory b = _buckets[homeToken][domain][inbound];
        if (amount > b.capacity) revert AmountAboveCapacity(homeToken, domain, amount, b.capacity);
        uint256 available = _refilled(b);
        uint256 rate = b.rate;
        uint256 wait = rate == 0 ? type(uint256).max : (amount - available + rate - 1) / rate;
        revert RateLimited(homeToken, domain, inbound, amount, available, wait);
    }

    function _refilled(Bucket memory b) private view returns (uint256) {
        uint256 available = uint256(b.available) + (block.timestamp - b.updatedAt) * uint256(b.rate);
        return available > b.capacity ? b.capacity : available;
    }

    // ------------------------------------------------------------------ views

    /// @notice What can move now on a lane, and the bucket's settings.
    function rateLimit(address homeToken, uint32 domain, bool inbound)
        external
        view
        returns (uint256 available, uint256 capacity, uint256 ratePerSecond)
    {
        Bucket memory b = _buckets[homeToken][domain][inbound];
        if (b.capacity == 0) return (type(uint256).max, 0, 0);
        return (_refilled(b), b.capacity, b.rate);
    }

    /// @notice Whether `account` on `domain` is refused as a recipient: listed by the owner
    /// (`setCustodian`), or, without a listing, the bridge enrolled for `domain`, and on this
    /// chain this bridge and its mailbox.
    function isCustodian(uint32 domain, address account) external view returns (bool) {
        if (domain == localDomain) return _isLocalCustodian(account);
        Lane memory lane = _lanes[domain];
        return (account != address(0) && account == lane.bridge) || _isListed(lane.custodianBits, domain, account);
    }

    /// @notice The enrolled bridge of a remote domain and whether the lane is paused.
    function remote(uint32 domain) external view returns (address bridge, bool paused) {
        Lane memory lane = _lanes[domain];
        return (lane.bridge, lane.paused);
    }

    /// @notice This chain's token for a canonical token (zero when unregistered).
    function localTokenOf(address homeToken) external view returns (address) {
        return _localToken[homeToken];
    }

    /// @notice The canonical token of a token on this chain (zero when unregistered).
    function homeTokenOf(address localToken) external view returns (address) {
        return _homeToken[localToken];
    }

    /// @dev This bridge, its mailbox, or a custodian listed for this chain. In a batch the
    /// filter's slot is read cold once; a recipient whose bit is clear costs 100 gas more.
    function _isLocalCustodian(address account) private view returns (bool) {
        if (account == address(this) || account == address(mailbox)) return true;
        return _isListed(_localCustodianBits, localDomain, account);
    }

    /// @dev Listed by the owner for `domain`, whose filter is `bits`: the filter first.
    function _isListed(uint64 bits, uint32 domain, address account) private view returns (bool) {
        return bits & _custodianBit(account) != 0 && _custodians[domain][account];
    }

    function _custodianBit(address account) private pure returns (uint64) {
        return uint64(1) << uint64(uint160(account) & 63);
    }

    function _isHome() private view returns (bool) {
        return localDomain == homeDomain;
    }
}
