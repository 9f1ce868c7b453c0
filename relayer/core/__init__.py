"""Pure protocol logic shared with the contracts: messages, the Merkle tree, checkpoints.

Nothing here does I/O. Every function is checked against the vectors the Solidity
side writes to tests/vectors/ (see docs/protocol.md).
"""
