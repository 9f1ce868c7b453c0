// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice The Foundry cheatcodes the mailbox tests use (forge-std is not available here).
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    struct Gas {
        uint64 gasLimit;
        uint64 gasTotalUsed;
        uint64 gasMemoryUsed;
        int64 gasRefunded;
        uint64 gasRemaining;
    }

    // environment
    function prank(address sender) external;
    function chainId(uint256 id) external;
    function store(address target, bytes32 slot, bytes32 value) external;
    function load(address target, bytes32 slot) external view returns (bytes32);
    function etch(address target, bytes calldata code) external;
    function cool(address target) external;
    function assume(bool condition) external pure;

    // keys
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);

    // expectations
    function expectRevert() external;
    function expectRevert(bytes4 selector) external;
    function expectRevert(bytes calldata revertData) external;
    function expectPartialRevert(bytes4 selector) external;
    function expectEmit(address emitter) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
    function lastCallGas() external view returns (Gas memory);
    function pauseGasMetering() external;
    function resumeGasMetering() external;
    function snapshotGasLastCall(string calldata group, string calldata name) external returns (uint256 gasUsed);
    function snapshotValue(string calldata group, string calldata name, uint256 value) external;

    // assertions
    function assertTrue(bool condition, string calldata err) external pure;
    function assertFalse(bool condition, string calldata err) external pure;
    function assertEq(uint256 left, uint256 right, string calldata err) external pure;
    function assertEq(address left, address right, string calldata err) external pure;
    function assertEq(bytes32 left, bytes32 right, string calldata err) external pure;
    function assertEq(bytes calldata left, bytes calldata right, string calldata err) external pure;
    function assertNotEq(bytes32 left, bytes32 right, string calldata err) external pure;
    function assertLe(uint256 left, uint256 right, string calldata err) external pure;

    // files and JSON
    function writeFile(string calldata path, string calldata data) external;
    function readFile(string calldata path) external view returns (string memory);
    function writeJson(string calldata json, string calldata path) external;
    function serializeUint(string calldata key, string calldata field, uint256 value) external returns (string memory);
    function serializeBytes32(string calldata key, string calldata field, bytes32 value)
        external
        returns (string memory);
    function serializeBytes32(string calldata key, string calldata field, bytes32[] calldata value)
        external
        returns (string memory);
    function serializeBytes(string calldata key, string calldata field, bytes calldata value)
        external
        returns (string memory);
    function serializeBytes(string calldata key, string calldata field, bytes[] calldata value)
        external
        returns (string memory);
    function serializeString(string calldata key, string calldata field, string calldata value)
        external
        returns (string memory);
    function serializeString(string calldata key, string calldata field, string[] calldata value)
        external
        returns (string memory);
    function toString(uint256 value) external pure returns (string memory);
    function toString(bytes calldata value) external pure returns (string memory);
    function toString(bytes32 value) external pure returns (string memory);
}

// The cheatcode address.
Vm constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
