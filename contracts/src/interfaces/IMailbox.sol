// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice A checkpoint of an origin chain's message tree: the root of the tree
/// holding leaves 0..index. Validators sign
/// toEthSignedMessageHash(keccak256(abi.encodePacked(domainHash, root, index)))
/// with domainHash = keccak256(abi.encodePacked(origin, originMailbox, "STBRIDGE")).
struct Checkpoint {
    uint32 origin;
    bytes32 root;
    uint32 index;
}

/// @notice The messaging layer: an outbox (an incremental Merkle tree of
/// dispatched message ids) and an inbox that delivers messages proven against
/// an m-of-n signed checkpoint of the origin's tree.
interface IMailbox {
    /// @notice A message was added to this chain's tree at leaf `nonce`.
    event Dispatch(bytes32 indexed id, uint32 indexed destination, uint32 nonce, bytes message);
    /// @notice A message was delivered and its handler succeeded.
    event Process(bytes32 indexed id, uint32 indexed origin, uint32 nonce);
    /// @notice In a batch, a message's handler reverted; the message stays undelivered.
    event ProcessFailed(bytes32 indexed id, uint32 indexed origin, uint32 nonce, bytes reason);
    /// @notice The validator set of an origin was (re)configured.
    event OriginConfigured(uint32 indexed origin, bytes32 mailbox, address[] validators, uint8 threshold);

    /// @notice The message's version is not the one this mailbox speaks.
    error WrongVersion(uint8 version);
    /// @notice The message is for another chain.
    error WrongDestination(uint32 destination);
    /// @notice The message (origin, nonce) was delivered already.
    error AlreadyDelivered(uint32 origin, uint32 nonce);
    /// @notice The checkpoint root is zero.
    error ZeroRoot();
    /// @notice No validator set is configured for this origin.
    error UnknownOrigin(uint32 origin);
    /// @notice Fewer valid signatures than the origin's threshold.
    error BelowThreshold(uint256 valid, uint256 threshold);
    /// @notice A signature is malformed, malleable (high s) or does not recover.
    error InvalidSignature(uint256 position);
    /// @notice Signers are not strictly ascending (so a duplicate is refused too).
    error SignersNotAscending(uint256 position);
    /// @notice A signer is not a validator of the origin.
    error NotValidator(address signer);
    /// @notice The proof does not lead to the checkpoint root.
    error InvalidProof();
    /// @notice A message's nonce is beyond the checkpoint index.
    error NonceBeyondCheckpoint(uint32 nonce, uint32 index);
    /// @notice Messages of a batch are not at consecutive nonces, or the batch is empty.
    error NotContiguous(uint256 position);
    /// @notice A validator set with a zero threshold, a threshold above its size, or a zero/duplicate validator.
    error InvalidValidatorSet();
    /// @notice The tree has no leaves yet.
    error EmptyTree();
    /// @notice The tree is full (2^32 - 1 leaves).
    error TreeFull();

    /// @notice This chain's domain (its chain id).
    function localDomain() external view returns (uint32);

    /// @notice Adds a message for `destination` to the tree; returns its id.
    function dispatch(uint32 destination, bytes32 recipient, bytes calldata body) external returns (bytes32 id);

    /// @notice Delivers one message proven against a signed checkpoint; reverts with the handler's error if it fails.
    function process(
        Checkpoint calldata checkpoint,
        bytes calldata signatures,
        bytes calldata message,
        bytes32[] calldata proof
    ) external;

    /// @notice Delivers messages at consecutive nonces with one range proof and one set of
    /// signatures. Already-delivered messages are skipped; a failing handler fails alone.
    function processBatch(
        Checkpoint calldata checkpoint,
        bytes calldata signatures,
        bytes[] calldata messages,
        bytes32[] calldata proof
    ) external;

    /// @notice Whether the message at `nonce` of `origin`'s tree was delivered here.
    function delivered(uint32 origin, uint32 nonce) external view returns (bool);

    /// @notice The delivery marks of `origin`'s nonces 256 * wordIndex .. 256 * wordIndex + 255,
    /// bit i for nonce 256 * wordIndex + i: a relayer learns 256 answers in one call.
    function deliveredWord(uint32 origin, uint32 wordIndex) external view returns (uint256);

    /// @notice The root and last index of this chain's own tree.
    function latestCheckpoint() external view returns (bytes32 root, uint32 index);

    /// @notice The number of messages dispatched from this chain.
    function count() external view returns (uint32);

    /// @notice The id of the message whose handler is running (zero outside a handler), so a
    /// recipient can name the message it handles (a bounced transfer's Return does).
    function currentMessageId() external view returns (bytes32);
}
