// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Vm, VM} from "./Vm.sol";

/// @notice The cheatcodes of Vm.sol plus the few more the bridge tests use (time, pranks
/// over several calls, call expectations, ordering assertions). forge-std is not available.
interface BridgeVm is Vm {
    function warp(uint256 timestamp) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function label(address account, string calldata name) external;
    /// @notice Expects exactly `count` calls to `callee` whose calldata starts with `data`.
    function expectCall(address callee, bytes calldata data, uint64 count) external;
    function assertGt(uint256 left, uint256 right, string calldata err) external pure;
    function assertGe(uint256 left, uint256 right, string calldata err) external pure;
    function assertLt(uint256 left, uint256 right, string calldata err) external pure;
    function assertNotEq(uint256 left, uint256 right, string calldata err) external pure;
    function assertEq(bool left, bool right, string calldata err) external pure;
}

// The cheatcode address, with the wider interface.
BridgeVm constant BVM = BridgeVm(address(VM));
