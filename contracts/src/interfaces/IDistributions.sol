// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

// Message kind of the distribution channel (home DistributionManager to each chain's Distributor).
uint8 constant KIND_DISTRIBUTION_ROOT = 4;

/// @notice What the home chain commits for one chain of one distribution: the Merkle root of
/// that chain's entitlements, their sum, the payment token on that chain and the claim deadline.
struct DistributionRoot {
    uint64 id; // the distribution, numbered by the home manager from 1
    address paymentToken; // on the chain of the distributor
    uint256 total; // sum of the gross amounts of the root's leaves
    uint64 claimUntil; // unix seconds; no payment at or after it
    bytes32 root; // sorted-pair Merkle root of DistributionLib.leaf(...)
}

/// @notice The home chain's side: declares distributions fixed by a record date and commits
/// one root per chain, the home chain's to the local distributor, every other chain's through
/// the mailbox to the distributor enrolled for it.
interface IDistributionManager {
    /// @notice A distribution was declared.
    event Declared(uint64 indexed id, address indexed homeToken, uint64 recordDate, uint256 amount, uint64 claimUntil);
    /// @notice A chain's root was committed (dispatched, or opened locally when `domain` is home).
    event RootCommitted(uint64 indexed id, uint32 indexed domain, bytes32 root, uint256 total, bytes32 messageId);
    /// @notice The distributor of a domain was enrolled (address 0: removed).
    event DistributorEnrolled(uint32 indexed domain, address distributor);

    /// @notice An address argument is zero.
    error ZeroAddress();
    /// @notice The record date is not in the past, or the claim deadline is not after now.
    error BadDates(uint64 recordDate, uint64 claimUntil);
    /// @notice A declared amount of zero.
    error ZeroAmount();
    /// @notice No distribution with this id.
    error UnknownDistribution(uint64 id);
    /// @notice The roots committed would exceed the declared amount.
    error OverCommitted(uint64 id, uint256 committed, uint256 amount);
    /// @notice This chain's root of the distribution was committed already.
    error AlreadyCommitted(uint64 id, uint32 domain);
    /// @notice No distributor is enrolled for the domain.
    error NoDistributor(uint32 domain);

    /// @notice Declares a distribution of `amount` (in payment-token units) on `homeToken`'s
    /// holders at `recordDate`, payable until `claimUntil`.
    function declare(address homeToken, uint64 recordDate, uint256 amount, uint64 claimUntil)
        external
        returns (uint64 id);

    /// @notice Commits `domain`'s root: opened on the local distributor for the home domain,
    /// dispatched to the enrolled distributor for any other.
    function commitRoot(uint64 id, uint32 domain, address paymentToken, bytes32 root, uint256 total)
        external
        returns (bytes32 messageId);
}

/// @notice One per chain: holds the roots home committed and pays each leaf once.
interface IDistributor {
    /// @notice A distribution's root was accepted on this chain.
    event Opened(uint64 indexed id, address paymentToken, uint256 total, uint64 claimUntil, bytes32 root);
    /// @notice Payment tokens were added to a distribution's funds.
    event Funded(uint64 indexed id, address indexed from, uint256 amount);
    /// @notice A holder was paid: `net` to the holder, `withheld` to the tax account.
    event Paid(uint64 indexed id, address indexed holder, uint256 gross, uint256 withheld, uint256 net);
    /// @notice A holder revoked or frozen at payment time: the gross amount stays reserved.
    event Reserved(uint64 indexed id, address indexed holder, uint256 gross, uint256 withheld);
    /// @notice A reserved amount was given back to the issuer (`to`).
    event Reclaimed(uint64 indexed id, address indexed holder, address to, uint256 gross);
    /// @notice After the deadline, what was neither paid nor reserved went back to `to`.
    event Closed(uint64 indexed id, address to, uint256 unclaimed);
    /// @notice The manager the distributor accepts roots from was enrolled.
    event ManagerEnrolled(address manager);
    /// @notice The account withheld tax is paid to was set.
    event TaxAccountSet(address taxAccount);

    /// @notice An address argument is zero.
    error ZeroAddress();
    /// @notice `handle` was called by someone other than the mailbox.
    error NotMailbox(address caller);
    /// @notice The message or call does not come from the home manager.
    error NotManager(uint32 origin, bytes32 sender);
    /// @notice The body is not a distribution root, or is malformed.
    error MalformedBody(uint256 length);
    /// @notice A distribution with this id was opened already.
    error AlreadyOpen(uint64 id);
    /// @notice No distribution with this id is open here.
    error UnknownDistribution(uint64 id);
    /// @notice The proof does not lead to the distribution's root.
    error InvalidProof(address holder);
    /// @notice The holder was paid, reserved or settled already.
    error AlreadySettled(uint64 id, address holder);
    /// @notice The claim deadline has passed.
    error ClaimClosed(uint64 id, uint64 claimUntil);
    /// @notice The deadline has not passed yet.
    error StillOpen(uint64 id, uint64 claimUntil);
    /// @notice The distribution holds less than the payment needs.
    error FundsShort(uint64 id, uint256 needed, uint256 available);
    /// @notice Funding beyond the distribution's total.
    error OverFunded(uint64 id, uint256 funded, uint256 total);
    /// @notice Only the holder may claim (anyone may push with `pay`).
    error NotHolder(address caller, address holder);
    /// @notice Withholding larger than the gross amount.
    error BadLeaf(uint256 gross, uint256 withheld);
    /// @notice The holder has no reserved amount.
    error NotReserved(uint64 id, address holder);
    /// @notice The holder is still revoked or frozen.
    error HolderBlocked(address holder);
    /// @notice No tax account while a leaf withholds.
    error NoTaxAccount();

    /// @notice A payment: one leaf of a distribution's tree.
    struct Payment {
        address holder;
        uint256 gross;
        uint256 withheld;
        bytes32[] proof;
    }

    /// @notice A distribution's accounts on this chain (all in payment-token units, gross).
    struct Accounts {
        address paymentToken;
        uint64 claimUntil;
        bool closed;
        bytes32 root;
        uint256 total;
        uint256 funded;
        uint256 paid;
        uint256 reserved;
        uint256 reclaimed;
    }

    /// @notice Pulls `amount` of the payment token from the caller into the distribution.
    function fund(uint64 id, uint256 amount) external;

    /// @notice The holder claims its leaf.
    function claim(uint64 id, uint256 gross, uint256 withheld, bytes32[] calldata proof) external;

    /// @notice Anyone pays a batch of leaves; leaves settled already are skipped, so a batch can be resent.
    function pay(uint64 id, Payment[] calldata payments) external returns (uint256 paidCount, uint256 reservedCount);

    /// @notice The issuer pays a reserved holder who is no longer revoked or frozen.
    function release(uint64 id, address holder) external;

    /// @notice The issuer takes a reserved amount back.
    function reclaim(uint64 id, address holder, address to) external;

    /// @notice After the deadline, sends what is neither paid nor reserved to `to`.
    function close(uint64 id, address to) external;
}
