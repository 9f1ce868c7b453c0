// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IDistributionManager, DistributionRoot} from "./interfaces/IDistributions.sol";
import {IMailbox} from "./interfaces/IMailbox.sol";
import {DistributionLib} from "./libs/DistributionLib.sol";
import {Distributor} from "./Distributor.sol";

/// @title DistributionManager
/// @notice The home chain's record of distributions: each is declared once (token, record
/// date, amount, claim deadline), then the issuer commits one Merkle root of entitlements per
/// chain; the sum of the committed totals never exceeds the declared amount. A remote chain's
/// root goes to its enrolled Distributor as a mailbox message (kind 4), proven there by the
/// validators' checkpoints like any transfer; the home chain's root opens on the local
/// Distributor directly.
contract DistributionManager is IDistributionManager, AccessControl {
    /// @notice The issuer's agent: declares distributions and commits their roots.
    bytes32 public constant AGENT_ROLE = keccak256("AGENT_ROLE");

    /// @notice This chain's mailbox.
    IMailbox public immutable mailbox;
    /// @notice This chain's (the home) domain.
    uint32 public immutable localDomain;

    struct Declaration {
        address homeToken;
        uint64 recordDate;
        uint64 claimUntil;
        uint256 amount;
        uint256 committed;
    }

    /// @notice The number of distributions declared (the last id).
    uint64 public count;
    mapping(uint64 id => Declaration) private _declarations;
    mapping(uint64 id => mapping(uint32 domain => bytes32 root)) public rootOf;
    mapping(uint32 domain => address) public distributorOf;

    /// @param mailbox_ The home chain's mailbox.
    /// @param admin Holds DEFAULT_ADMIN_ROLE: enrolls distributors, grants AGENT_ROLE.
    constructor(IMailbox mailbox_, address admin) {
        if (address(mailbox_) == address(0) || admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        mailbox = mailbox_;
        localDomain = mailbox_.localDomain();
    }

    /// @notice Enrolls the distributor of `domain` (this chain's own under `localDomain`).
    function enrollDistributor(uint32 domain, address distributor) external onlyRole(DEFAULT_ADMIN_ROLE) {
        distributorOf[domain] = distributor;
        emit DistributorEnrolled(domain, distributor);
    }

    /// @inheritdoc IDistributionManager
    function declare(address homeToken, uint64 recordDate, uint256 amount, uint64 claimUntil)
        external
        onlyRole(AGENT_ROLE)
        returns (uint64 id)
    {
        if (homeToken == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        if (recordDate >= block.timestamp || claimUntil <= block.timestamp) revert BadDates(recordDate, claimUntil);
        id = ++count;
        _declarations[id] = Declaration(homeToken, recordDate, claimUntil, amount, 0);
        emit Declared(id, homeToken, recordDate, amount, claimUntil);
    }

    /// @inheritdoc IDistributionManager
    function commitRoot(uint64 id, uint32 domain, address paymentToken, bytes32 root, uint256 total)
        external
        onlyRole(AGENT_ROLE)
        returns (bytes32 messageId)
    {
        Declaration storage d = _declarations[id];
        if (d.homeToken == address(0)) revert UnknownDistribution(id);
        if (rootOf[id][domain] != bytes32(0)) revert AlreadyCommitted(id, domain);
        if (root == bytes32(0) || paymentToken == address(0)) revert ZeroAddress();
        uint256 committed = d.committed + total;
        if (committed > d.amount) revert OverCommitted(id, committed, d.amount);
        address distributor = distributorOf[domain];
        if (distributor == address(0)) revert NoDistributor(domain);
        d.committed = committed;
        rootOf[id][domain] = root;
        DistributionRoot memory r = DistributionRoot(id, paymentToken, total, d.claimUntil, root);
        if (domain == localDomain) {
            Distributor(distributor).openLocal(r);
        } else {
            messageId = mailbox.dispatch(domain, bytes32(uint256(uint160(distributor))), DistributionLib.encodeRoot(r));
        }
        emit RootCommitted(id, domain, root, total, messageId);
    }

    /// @notice A declared distribution (all zero when unknown).
    function declaration(uint64 id) external view returns (Declaration memory) {
        return _declarations[id];
    }
}
