// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {BaseTest} from "./BaseTest.sol";
import {RecordingMailbox} from "./RecordingMailbox.sol";
import {IdentityRegistry} from "../../src/IdentityRegistry.sol";
import {SecurityToken} from "../../src/SecurityToken.sol";
import {TokenRules} from "../../src/TokenRules.sol";
import {IMailbox} from "../../src/interfaces/IMailbox.sol";

/// @notice A home registry (over a recording mailbox, no remotes) and a SecurityToken with
/// its roles handed out, plus helpers to onboard investors and expect restrictions.
abstract contract TokenFixture is BaseTest {
    uint16 constant DE = 276;
    uint16 constant FR = 250;
    uint16 constant KP = 408;
    uint256 constant T0 = 1_700_000_000;

    RecordingMailbox mailbox;
    IdentityRegistry registry;
    SecurityToken token;

    address admin = makeAddr("admin");
    address agent = makeAddr("agent");
    address bridge = makeAddr("bridge");
    address vault = makeAddr("vault"); // a custodian (stands for the bridge escrow or the timelock)
    address alice = makeAddr("alice");
    address bob = makeAddr("bob");
    address carol = makeAddr("carol");
    address stranger = makeAddr("stranger"); // never onboarded
    uint64 expiry;

    function setUp() public virtual {
        vm.warp(T0);
        expiry = uint64(T0 + 365 days);
        mailbox = new RecordingMailbox(1);
        registry = new IdentityRegistry(IMailbox(address(mailbox)), admin);
        token = new SecurityToken("Acme Shares", "ACME", 0, registry, admin);
        vm.startPrank(admin);
        registry.grantRole(registry.AGENT_ROLE(), agent);
        token.grantRole(token.AGENT_ROLE(), agent);
        token.grantRole(token.BRIDGE_ROLE(), bridge);
        token.setCustodian(vault, true);
        vm.stopPrank();
        _onboard(alice, DE);
        _onboard(bob, FR);
        _onboard(carol, DE);
    }

    function _onboard(address wallet, uint16 country) internal {
        vm.prank(agent);
        registry.setRecord(wallet, keccak256(abi.encode(wallet)), country, expiry, 0);
    }

    function _mint(address to, uint256 amount) internal {
        vm.prank(agent);
        token.mint(to, amount);
    }

    function _expectRestricted(uint8 code, address from, address to, uint256 amount) internal {
        vm.expectRevert(abi.encodeWithSelector(TokenRules.TransferRestricted.selector, code, from, to, amount));
    }

    function _expectUnauthorized(address account, bytes32 role) internal {
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, account, role));
    }

    function _transfer(address from, address to, uint256 amount) internal {
        vm.prank(from);
        token.transfer(to, amount);
    }
}
