// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {TokenFixture} from "./utils/TokenFixture.sol";
import {Cheats} from "./utils/BaseTest.sol";
import {Restriction} from "../src/interfaces/ISecurityToken.sol";
import {IERC7943Fungible} from "../src/interfaces/IERC7943.sol";
import {TokenRules} from "../src/TokenRules.sol";

/// Roles, and the privileged movers: mint, burn, forcedTransfer, bridgeMint, bridgeBurn,
/// restoreMint, release.
contract SecurityTokenPrivilegedTest is TokenFixture {
    function setUp() public override {
        super.setUp();
        _mint(alice, 1000);
    }

    // ------------------------------------------------------------------ roles

    function test_agentFunctions_refuseOthers() public {
        bytes32 role = token.AGENT_ROLE();
        address[3] memory others = [stranger, bridge, admin];
        uint16[] memory list = new uint16[](1);
        list[0] = DE;
        for (uint256 i = 0; i < others.length; ++i) {
            address who = others[i];
            vm.startPrank(who);
            _expectUnauthorized(who, role);
            token.mint(who, 1);
            _expectUnauthorized(who, role);
            token.burn(alice, 1);
            _expectUnauthorized(who, role);
            token.forcedTransfer(alice, who, 1);
            _expectUnauthorized(who, role);
            token.setFrozenTokens(alice, 1);
            _expectUnauthorized(who, role);
            token.setAddressFrozen(alice, true);
            _expectUnauthorized(who, role);
            token.pause();
            _expectUnauthorized(who, role);
            token.setCountriesDenied(list, true);
            _expectUnauthorized(who, role);
            token.setCountriesAllowed(list, true);
            _expectUnauthorized(who, role);
            token.setAllowListEnabled(true);
            _expectUnauthorized(who, role);
            token.setMaxHolders(1);
            _expectUnauthorized(who, role);
            token.setMaxBalance(1);
            _expectUnauthorized(who, role);
            token.setLockupUntil(uint64(block.timestamp + 1));
            vm.stopPrank();
        }
        vm.prank(agent);
        token.pause();
        _expectUnauthorized(stranger, role);
        vm.prank(stranger);
        token.unpause();
        assertEq(token.balanceOf(alice), 1000, "nothing moved");
    }

    function test_bridgeFunctions_refuseOthers() public {
        bytes32 role = token.BRIDGE_ROLE();
        address[3] memory others = [stranger, agent, admin];
        for (uint256 i = 0; i < others.length; ++i) {
            address who = others[i];
            vm.startPrank(who);
            _expectUnauthorized(who, role);
            token.bridgeMint(bob, 1);
            _expectUnauthorized(who, role);
            token.bridgeBurn(alice, 1);
            _expectUnauthorized(who, role);
            token.restoreMint(bob, 1);
            vm.stopPrank();
        }
        assertEq(token.totalSupply(), 1000, "supply unchanged");
    }

    function test_release_onlyCustodians() public {
        // alice holds tokens but is no custodian; neither is the bridge role
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(TokenRules.NotCustodian.selector, alice));
        token.release(bob, 1);
        vm.prank(bridge);
        vm.expectRevert(abi.encodeWithSelector(TokenRules.NotCustodian.selector, bridge));
        token.release(bob, 1);
    }

    function test_setCustodian_onlyAdmin() public {
        _expectUnauthorized(agent, token.DEFAULT_ADMIN_ROLE());
        vm.prank(agent);
        token.setCustodian(stranger, true);
        assertFalse(token.isCustodian(stranger), "not a custodian");
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSignature("ZeroAddress()"));
        token.setCustodian(address(0), true);
    }

    // ------------------------------------------------------------------ bridge

    function test_bridgeMint_appliesRecipientRules() public {
        _expectRestricted(Restriction.RECIPIENT_NOT_VERIFIED, address(0), stranger, 5);
        vm.prank(bridge);
        token.bridgeMint(stranger, 5);
        vm.prank(agent);
        token.setMaxBalance(5);
        _expectRestricted(Restriction.MAX_BALANCE_EXCEEDED, address(0), bob, 6);
        vm.prank(bridge);
        token.bridgeMint(bob, 6);
        vm.prank(bridge);
        token.bridgeMint(bob, 5);
        assertEq(token.balanceOf(bob), 5, "minted");
        vm.prank(agent);
        token.pause();
        _expectRestricted(Restriction.PAUSED, address(0), carol, 1);
        vm.prank(bridge);
        token.bridgeMint(carol, 1);
    }

    function test_bridgeBurn_appliesSenderRules() public {
        vm.prank(agent);
        token.setFrozenTokens(alice, 900);
        _expectRestricted(Restriction.INSUFFICIENT_UNFROZEN_BALANCE, alice, address(0), 101);
        vm.prank(bridge);
        token.bridgeBurn(alice, 101);
        vm.prank(agent);
        token.setAddressFrozen(alice, true);
        _expectRestricted(Restriction.SENDER_FROZEN, alice, address(0), 1);
        vm.prank(bridge);
        token.bridgeBurn(alice, 1);
        vm.prank(agent);
        token.setAddressFrozen(alice, false);
        vm.prank(agent);
        token.setLockupUntil(uint64(block.timestamp + 1 days));
        _expectRestricted(Restriction.LOCKED_UP, alice, address(0), 1);
        vm.prank(bridge);
        token.bridgeBurn(alice, 1);
        vm.warp(block.timestamp + 1 days);
        assertEq(token.detectTransferRestriction(alice, address(0), 100), 0, "detect for a burn");
        vm.prank(bridge);
        token.bridgeBurn(alice, 100);
        assertEq(token.balanceOf(alice), 900, "burned");
        assertEq(token.totalSupply(), 900, "supply");
    }

    function test_restoreMint_skipsRecipientRules_respectsPause() public {
        vm.startPrank(agent);
        registry.revoke(bob);
        token.setMaxHolders(1);
        token.setMaxBalance(1);
        vm.stopPrank();
        vm.prank(bridge);
        token.restoreMint(bob, 50); // revoked, beyond the holder and balance limits: still restored
        assertEq(token.balanceOf(bob), 50, "restored");
        assertEq(token.holderCount(), 2, "bob counted");
        // but freezes bind afterwards: bob cannot move them
        assertFalse(token.canTransfer(bob, alice, 1), "bob stuck until re-verified");
        vm.prank(agent);
        token.pause();
        _expectRestricted(Restriction.PAUSED, address(0), bob, 1);
        vm.prank(bridge);
        token.restoreMint(bob, 1);
    }

    // ------------------------------------------------------------------ custodian release

    function test_release_skipsRecipientRules_respectsPause() public {
        _transfer(alice, vault, 300);
        vm.prank(agent);
        registry.revoke(alice);
        // a plain transfer back would be refused...
        _expectRestricted(Restriction.RECIPIENT_NOT_VERIFIED, vault, alice, 100);
        _transfer(vault, alice, 100);
        // ...release gives it back anyway
        vm.prank(vault);
        token.release(alice, 100);
        assertEq(token.balanceOf(alice), 800, "released");
        vm.prank(vault);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, vault, 200, 201));
        token.release(alice, 201);
        vm.prank(agent);
        token.pause();
        _expectRestricted(Restriction.PAUSED, vault, alice, 1);
        vm.prank(vault);
        token.release(alice, 1);
    }

    // ------------------------------------------------------------------ agent mint and burn

    function test_mint_respectsRecipientRules_custodianNeedsNoIdentity() public {
        _expectRestricted(Restriction.RECIPIENT_NOT_VERIFIED, address(0), stranger, 1);
        _mint(stranger, 1);
        _mint(vault, 7); // custodians need no identity
        assertEq(token.balanceOf(vault), 7, "minted to custodian");
    }

    function test_burn_takesFrozenTokens_andUnfreezesFirst() public {
        vm.prank(agent);
        token.setFrozenTokens(alice, 800);
        vm.recordLogs();
        vm.prank(agent);
        token.burn(alice, 500); // 200 unfrozen + 300 frozen
        assertEq(token.getFrozenTokens(alice), 500, "frozen shrank by the frozen part burned");
        assertEq(token.balanceOf(alice), 500, "balance");
        Cheats.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs[0].topics[0], IERC7943Fungible.Frozen.selector, "Frozen first");
        assertEq(logs[1].topics[0], IERC20.Transfer.selector, "then Transfer");
    }

    function test_burn_worksWhilePaused() public {
        vm.startPrank(agent);
        token.pause();
        token.burn(alice, 10);
        vm.stopPrank();
        assertEq(token.balanceOf(alice), 990, "burned");
    }

    // ------------------------------------------------------------------ forced transfer

    function test_forcedTransfer_movesFrozenTokens_ERC7943() public {
        vm.startPrank(agent);
        token.setFrozenTokens(alice, 800);
        token.setAddressFrozen(alice, true);
        registry.revoke(alice);
        token.pause();
        token.setLockupUntil(uint64(block.timestamp + 1 days));
        vm.recordLogs();
        assertTrue(token.forcedTransfer(alice, bob, 500), "returns true");
        vm.stopPrank();
        assertEq(token.balanceOf(bob), 500, "moved despite freeze, revocation, pause, lock-up");
        assertEq(token.getFrozenTokens(alice), 500, "frozen reduced by the frozen part moved (300)");
        Cheats.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 3, "three events");
        assertEq(logs[0].topics[0], IERC7943Fungible.Frozen.selector, "Frozen first");
        assertEq(logs[1].topics[0], IERC20.Transfer.selector, "Transfer second");
        assertEq(logs[2].topics[0], IERC7943Fungible.ForcedTransfer.selector, "ForcedTransfer last");
    }

    function test_forcedTransfer_unfrozenPartNeedsNoUnfreeze() public {
        vm.startPrank(agent);
        token.setFrozenTokens(alice, 300);
        token.forcedTransfer(alice, bob, 700);
        vm.stopPrank();
        assertEq(token.getFrozenTokens(alice), 300, "untouched");
    }

    function test_forcedTransfer_frozenAboveBalance_keepsFutureFreeze() public {
        vm.startPrank(agent);
        token.setFrozenTokens(alice, 1500); // 1000 held, 500 of future tokens withheld
        token.forcedTransfer(alice, bob, 400);
        vm.stopPrank();
        assertEq(token.getFrozenTokens(alice), 1100, "only the 400 moved are unfrozen");
    }

    function test_forcedTransfer_recipientMustBeAbleToReceive() public {
        vm.startPrank(agent);
        _expectRestricted(Restriction.RECIPIENT_NOT_VERIFIED, alice, stranger, 1);
        token.forcedTransfer(alice, stranger, 1);
        token.setAddressFrozen(bob, true);
        _expectRestricted(Restriction.RECIPIENT_FROZEN, alice, bob, 1);
        token.forcedTransfer(alice, bob, 1);
        uint16[] memory list = new uint16[](1);
        list[0] = DE;
        token.setCountriesDenied(list, true);
        _expectRestricted(Restriction.COUNTRY_NOT_ALLOWED, alice, carol, 1);
        token.forcedTransfer(alice, carol, 1);
        // but not the holder or balance limits
        token.setCountriesDenied(list, false);
        token.setMaxHolders(1);
        token.setMaxBalance(1);
        token.forcedTransfer(alice, carol, 10);
        // and a custodian can take seized tokens
        token.forcedTransfer(alice, vault, 10);
        vm.stopPrank();
        assertEq(token.balanceOf(carol), 10, "beyond the limits");
        assertEq(token.balanceOf(vault), 10, "to custody");
    }

    function test_forcedTransfer_aboveBalance_isErc20Error() public {
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, alice, 1000, 1001));
        token.forcedTransfer(alice, bob, 1001);
    }

    function test_setFrozenTokens_emits_andRefusesZero() public {
        vm.expectEmit(true, false, false, true, address(token));
        emit IERC7943Fungible.Frozen(alice, 42);
        vm.prank(agent);
        token.setFrozenTokens(alice, 42);
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSignature("ZeroAddress()"));
        token.setFrozenTokens(address(0), 1);
    }

    // ------------------------------------------------------------------ account-level pre-checks

    function test_canSendCanReceive() public {
        assertTrue(token.canSend(alice), "alice sends");
        assertTrue(token.canReceive(bob), "bob receives");
        assertFalse(token.canSend(stranger), "stranger");
        assertFalse(token.canReceive(stranger), "stranger");
        assertTrue(token.canSend(vault), "custodian sends");
        assertTrue(token.canReceive(vault), "custodian receives");
        vm.prank(agent);
        registry.freeze(bob);
        assertFalse(token.canSend(bob), "registry-frozen");
        assertFalse(token.canReceive(bob), "registry-frozen");
    }
}
