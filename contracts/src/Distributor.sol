// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IDistributor, DistributionRoot, KIND_DISTRIBUTION_ROOT} from "./interfaces/IDistributions.sol";
import {IIdentityRegistry, FLAG_REVOKED, FLAG_FROZEN} from "./interfaces/IIdentityRegistry.sol";
import {IMailbox} from "./interfaces/IMailbox.sol";
import {IMessageRecipient} from "./interfaces/IMessageRecipient.sol";
import {DistributionLib} from "./libs/DistributionLib.sol";

/// @title Distributor
/// @notice Pays one chain's part of the distributions the home chain declared. A root is
/// accepted only from the home DistributionManager: through a proven mailbox message on a
/// remote chain, by a direct call on the home chain. Nothing else (the owner and the relayer
/// included) can open a distribution, so nobody can make this contract pay what home did not
/// commit. Each leaf (holder, gross, withheld) is settled once: paid (net to the holder,
/// withheld to the tax account) or, when the holder is revoked or frozen in this chain's
/// registry at payment time, reserved until the issuer releases or reclaims it.
contract Distributor is IDistributor, IMessageRecipient, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The issuer's agent: releases and reclaims reserved amounts, closes after the deadline.
    bytes32 public constant AGENT_ROLE = keccak256("AGENT_ROLE");

    /// @notice This chain's mailbox: the only caller of `handle`.
    IMailbox public immutable mailbox;
    /// @notice This chain's domain.
    uint32 public immutable localDomain;
    /// @notice The home chain's domain.
    uint32 public immutable homeDomain;
    /// @notice This chain's identity registry (the home registry or its mirror): read at payment time.
    IIdentityRegistry public immutable registry;

    /// @notice The home DistributionManager, the only source of roots.
    address public manager;
    /// @notice Receives the withheld part of every payment.
    address public taxAccount;

    uint8 private constant NONE = 0;
    uint8 private constant PAID = 1;
    uint8 private constant RESERVED = 2;
    uint8 private constant RECLAIMED = 3;

    struct Reserve {
        uint8 state;
        uint256 gross;
        uint256 withheld;
    }

    mapping(uint64 id => Accounts) private _accounts;
    mapping(uint64 id => mapping(address holder => Reserve)) private _settled;

    /// @param mailbox_ This chain's mailbox.
    /// @param homeDomain_ The home chain's domain (may be this chain's).
    /// @param registry_ This chain's identity registry.
    /// @param admin Holds DEFAULT_ADMIN_ROLE: enrolls the manager, sets the tax account, grants AGENT_ROLE.
    constructor(IMailbox mailbox_, uint32 homeDomain_, IIdentityRegistry registry_, address admin) {
        if (address(mailbox_) == address(0) || address(registry_) == address(0) || admin == address(0)) {
            revert ZeroAddress();
        }
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        mailbox = mailbox_;
        localDomain = mailbox_.localDomain();
        homeDomain = homeDomain_;
        registry = registry_;
    }

    // ------------------------------------------------------------------ configuration

    /// @notice Enrolls the home DistributionManager (its address on the home chain).
    function enrollManager(address manager_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (manager_ == address(0)) revert ZeroAddress();
        manager = manager_;
        emit ManagerEnrolled(manager_);
    }

    /// @notice Sets the account withheld tax is paid to on this chain.
    function setTaxAccount(address taxAccount_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (taxAccount_ == address(0)) revert ZeroAddress();
        taxAccount = taxAccount_;
        emit TaxAccountSet(taxAccount_);
    }

    // ------------------------------------------------------------------ roots

    /// @inheritdoc IMessageRecipient
    function handle(uint32 origin, bytes32 sender, bytes calldata body) external {
        if (msg.sender != address(mailbox)) revert NotMailbox(msg.sender);
        if (origin != homeDomain || origin == localDomain || sender != bytes32(uint256(uint160(manager)))) {
            revert NotManager(origin, sender);
        }
        if (body.length != DistributionLib.ROOT_BODY_LENGTH || uint256(bytes32(body[:32])) != KIND_DISTRIBUTION_ROOT) {
            revert MalformedBody(body.length);
        }
        _open(DistributionLib.decodeRoot(body));
    }

    /// @notice The home manager opens the home chain's root (no message: same chain).
    function openLocal(DistributionRoot calldata r) external {
        if (localDomain != homeDomain || msg.sender != manager) {
            revert NotManager(localDomain, bytes32(uint256(uint160(msg.sender))));
        }
        _open(r);
    }

    function _open(DistributionRoot memory r) private {
        Accounts storage a = _accounts[r.id];
        if (a.root != bytes32(0) || r.root == bytes32(0)) revert AlreadyOpen(r.id);
        if (r.paymentToken == address(0)) revert ZeroAddress();
        a.paymentToken = r.paymentToken;
        a.claimUntil = r.claimUntil;
        a.root = r.root;
        a.total = r.total;
        emit Opened(r.id, r.paymentToken, r.total, r.claimUntil, r.root);
    }

    // ------------------------------------------------------------------ funds

    /// @inheritdoc IDistributor
    function fund(uint64 id, uint256 amount) external nonReentrant {
        Accounts storage a = _open_(id);
        if (a.closed) revert ClaimClosed(id, a.claimUntil);
        uint256 funded = a.funded + amount;
        if (funded > a.total) revert OverFunded(id, funded, a.total);
        a.funded = funded;
        IERC20(a.paymentToken).safeTransferFrom(msg.sender, address(this), amount);
        emit Funded(id, msg.sender, amount);
    }

    // ------------------------------------------------------------------ payments

    /// @inheritdoc IDistributor
    function claim(uint64 id, uint256 gross, uint256 withheld, bytes32[] calldata proof) external nonReentrant {
        Accounts storage a = _payable(id);
        if (_settled[id][msg.sender].state != NONE) revert AlreadySettled(id, msg.sender);
        _verify(id, a.root, msg.sender, gross, withheld, proof);
        _settle(id, a, msg.sender, gross, withheld);
    }

    /// @inheritdoc IDistributor
    function pay(uint64 id, Payment[] calldata payments)
        external
        nonReentrant
        returns (uint256 paidCount, uint256 reservedCount)
    {
        Accounts storage a = _payable(id);
        for (uint256 i; i < payments.length; ++i) {
            Payment calldata p = payments[i];
            if (_settled[id][p.holder].state != NONE) continue;
            _verify(id, a.root, p.holder, p.gross, p.withheld, p.proof);
            if (_settle(id, a, p.holder, p.gross, p.withheld)) ++paidCount;
            else ++reservedCount;
        }
    }

    /// @inheritdoc IDistributor
    function release(uint64 id, address holder) external onlyRole(AGENT_ROLE) nonReentrant {
        Accounts storage a = _open_(id);
        Reserve storage r = _settled[id][holder];
        if (r.state != RESERVED) revert NotReserved(id, holder);
        if (_blocked(holder)) revert HolderBlocked(holder);
        r.state = PAID;
        a.reserved -= r.gross;
        a.paid += r.gross;
        _transfer(a, holder, r.gross, r.withheld);
        emit Paid(id, holder, r.gross, r.withheld, r.gross - r.withheld);
    }

    /// @inheritdoc IDistributor
    function reclaim(uint64 id, address holder, address to) external onlyRole(AGENT_ROLE) nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        Accounts storage a = _open_(id);
        Reserve storage r = _settled[id][holder];
        if (r.state != RESERVED) revert NotReserved(id, holder);
        r.state = RECLAIMED;
        a.reserved -= r.gross;
        a.reclaimed += r.gross;
        IERC20(a.paymentToken).safeTransfer(to, r.gross);
        emit Reclaimed(id, holder, to, r.gross);
    }

    /// @inheritdoc IDistributor
    function close(uint64 id, address to) external onlyRole(AGENT_ROLE) nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        Accounts storage a = _open_(id);
        if (block.timestamp < a.claimUntil) revert StillOpen(id, a.claimUntil);
        if (a.closed) revert ClaimClosed(id, a.claimUntil);
        a.closed = true;
        // What is held for this distribution: funded, less paid, reserved and reclaimed.
        uint256 unclaimed = a.funded - a.paid - a.reserved - a.reclaimed;
        a.reclaimed += unclaimed;
        if (unclaimed != 0) IERC20(a.paymentToken).safeTransfer(to, unclaimed);
        emit Closed(id, to, unclaimed);
    }

    // ------------------------------------------------------------------ views

    /// @notice A distribution's accounts on this chain.
    function accounts(uint64 id) external view returns (Accounts memory) {
        return _accounts[id];
    }

    /// @notice 0 unsettled, 1 paid, 2 reserved, 3 reclaimed; and the leaf amounts if reserved or later.
    function settlement(uint64 id, address holder) external view returns (uint8 state, uint256 gross, uint256 withheld) {
        Reserve storage r = _settled[id][holder];
        return (r.state, r.gross, r.withheld);
    }

    /// @notice The leaf of `holder` in this chain's tree of distribution `id`.
    function leafOf(uint64 id, address holder, uint256 gross, uint256 withheld) external view returns (bytes32) {
        return DistributionLib.leaf(localDomain, id, holder, gross, withheld);
    }

    // ------------------------------------------------------------------ internals

    function _open_(uint64 id) private view returns (Accounts storage a) {
        a = _accounts[id];
        if (a.root == bytes32(0)) revert UnknownDistribution(id);
    }

    function _payable(uint64 id) private view returns (Accounts storage a) {
        a = _open_(id);
        if (block.timestamp >= a.claimUntil || a.closed) revert ClaimClosed(id, a.claimUntil);
    }

    function _verify(uint64 id, bytes32 root, address holder, uint256 gross, uint256 withheld, bytes32[] calldata proof)
        private
        view
    {
        if (withheld > gross) revert BadLeaf(gross, withheld);
        bytes32 leaf = DistributionLib.leaf(localDomain, id, holder, gross, withheld);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof(holder);
    }

    /// @return paid False when the holder was blocked and the amount reserved.
    function _settle(uint64 id, Accounts storage a, address holder, uint256 gross, uint256 withheld)
        private
        returns (bool paid)
    {
        uint256 available = a.funded - a.paid - a.reserved - a.reclaimed;
        if (available < gross) revert FundsShort(id, gross, available);
        Reserve storage r = _settled[id][holder];
        if (_blocked(holder)) {
            r.state = RESERVED;
            r.gross = gross;
            r.withheld = withheld;
            a.reserved += gross;
            emit Reserved(id, holder, gross, withheld);
            return false;
        }
        r.state = PAID;
        a.paid += gross;
        _transfer(a, holder, gross, withheld);
        emit Paid(id, holder, gross, withheld, gross - withheld);
        return true;
    }

    function _transfer(Accounts storage a, address holder, uint256 gross, uint256 withheld) private {
        IERC20 token = IERC20(a.paymentToken);
        if (withheld != 0) {
            address tax = taxAccount;
            if (tax == address(0)) revert NoTaxAccount();
            token.safeTransfer(tax, withheld);
        }
        if (gross != withheld) token.safeTransfer(holder, gross - withheld);
    }

    function _blocked(address holder) private view returns (bool) {
        (,, uint32 flags,) = registry.statusOf(holder);
        return flags & (FLAG_REVOKED | FLAG_FROZEN) != 0;
    }
}
