// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {TokenFixture} from "./utils/TokenFixture.sol";
import {Cheats} from "./utils/BaseTest.sol";
import {Restriction} from "../src/interfaces/ISecurityToken.sol";
import {TokenRules} from "../src/TokenRules.sol";

/// The one-call movers the bridge delivers with: `tryBridgeMint` (BRIDGE_ROLE) and
/// `tryTransferFromCustody` (custodians). Each checks the rules once and either moves, or
/// moves nothing and returns the restriction code, without reverting; everything else
/// (the caller's role or custody, a balance shortfall, a zero recipient) still reverts.
/// Their agreement with detectTransferRestriction over random states is fuzzed in
/// SecurityTokenPrecheck.t.sol.
contract SecurityTokenTryTest is TokenFixture {
    address dave = makeAddr("dave");

    function setUp() public override {
        super.setUp();
        _mint(alice, 1000);
        _mint(vault, 1000);
    }

    // ------------------------------------------------------------------ tryBridgeMint

    function test_tryBridgeMint_mintsWhenAllowed() public {
        uint256 holders = token.holderCount();
        vm.expectEmit(true, true, false, true, address(token));
        emit IERC20.Transfer(address(0), bob, 40);
        assertEq(_tryMint(bob, 40), 0, "code");
        assertEq(token.balanceOf(bob), 40, "minted");
        assertEq(token.totalSupply(), 2040, "supply");
        assertEq(token.holderCount(), holders + 1, "bob counted");
        assertEq(_tryMint(bob, 2), 0, "again");
        assertEq(token.balanceOf(bob), 42, "minted again");
        assertEq(token.holderCount(), holders + 1, "counted once");
    }

    /// Each recipient-side rule and the pause: the code comes back, nothing is minted, no event.
    function test_tryBridgeMint_refusals_returnTheCode_mintNothing() public {
        _onboard(dave, KP);
        uint16[] memory kp = new uint16[](1);
        kp[0] = KP;
        vm.startPrank(agent);
        token.setCountriesDenied(kp, true);
        token.setAddressFrozen(carol, true);
        token.setMaxBalance(1100);
        vm.stopPrank();
        _assertMintRefused(stranger, 1, Restriction.RECIPIENT_NOT_VERIFIED);
        _assertMintRefused(carol, 1, Restriction.RECIPIENT_FROZEN);
        _assertMintRefused(dave, 1, Restriction.COUNTRY_NOT_ALLOWED);
        _assertMintRefused(bob, 1101, Restriction.MAX_BALANCE_EXCEEDED);
        vm.prank(agent);
        registry.freeze(bob);
        _assertMintRefused(bob, 1, Restriction.RECIPIENT_FROZEN);
        vm.startPrank(agent);
        registry.unfreeze(bob);
        token.setMaxHolders(uint32(token.holderCount()));
        vm.stopPrank();
        _assertMintRefused(bob, 1, Restriction.MAX_HOLDERS_REACHED);
        assertEq(_tryMint(alice, 1), 0, "an existing holder may still receive");
        vm.warp(expiry);
        _assertMintRefused(alice, 1, Restriction.RECIPIENT_NOT_VERIFIED);
        vm.warp(T0);
        vm.prank(agent);
        token.pause();
        _assertMintRefused(alice, 1, Restriction.PAUSED);
    }

    function test_tryBridgeMint_onlyBridgeRole() public {
        bytes32 role = token.BRIDGE_ROLE();
        address[4] memory others = [stranger, agent, admin, vault];
        for (uint256 i = 0; i < others.length; ++i) {
            vm.prank(others[i]);
            _expectUnauthorized(others[i], role);
            token.tryBridgeMint(bob, 1);
        }
        assertEq(token.totalSupply(), 2000, "supply unchanged");
    }

    function test_tryBridgeMint_zeroRecipient_reverts() public {
        vm.prank(bridge);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, address(0)));
        token.tryBridgeMint(address(0), 1);
    }

    // ------------------------------------------------------------------ tryTransferFromCustody

    function test_tryTransferFromCustody_movesWhenAllowed_lockupDoesNotBind() public {
        vm.prank(agent);
        token.setLockupUntil(uint64(T0 + 30 days));
        vm.expectEmit(true, true, false, true, address(token));
        emit IERC20.Transfer(vault, bob, 300);
        assertEq(_tryCustody(vault, bob, 300), 0, "code");
        assertEq(token.balanceOf(bob), 300, "bob");
        assertEq(token.balanceOf(vault), 700, "vault");
        assertEq(token.totalSupply(), 2000, "supply unchanged");
    }

    /// Unlike `release`, the recipient's side applies in full; the custodian's own freezes
    /// and the pause too.
    function test_tryTransferFromCustody_refusals_returnTheCode_moveNothing() public {
        vm.prank(agent);
        registry.revoke(bob);
        _assertCustodyRefused(bob, 1, Restriction.RECIPIENT_NOT_VERIFIED);
        _assertCustodyRefused(stranger, 1, Restriction.RECIPIENT_NOT_VERIFIED);
        vm.prank(agent);
        token.setMaxBalance(1500);
        _assertCustodyRefused(alice, 501, Restriction.MAX_BALANCE_EXCEEDED);
        vm.prank(agent);
        token.setFrozenTokens(vault, 900);
        _assertCustodyRefused(carol, 101, Restriction.INSUFFICIENT_UNFROZEN_BALANCE);
        assertEq(_tryCustody(vault, carol, 100), 0, "the unfrozen part moves");
        vm.startPrank(agent);
        token.setFrozenTokens(vault, 0);
        token.setMaxHolders(uint32(token.holderCount()));
        vm.stopPrank();
        _onboard(dave, DE);
        _assertCustodyRefused(dave, 1, Restriction.MAX_HOLDERS_REACHED);
        vm.prank(agent);
        token.setAddressFrozen(vault, true);
        _assertCustodyRefused(alice, 1, Restriction.SENDER_FROZEN);
        vm.startPrank(agent);
        token.setAddressFrozen(vault, false);
        token.pause();
        vm.stopPrank();
        _assertCustodyRefused(alice, 1, Restriction.PAUSED);
    }

    /// Only a custodian may call it: an investor, the bridge role, or a custodian the admin
    /// has unmarked are refused, whatever they hold.
    function test_tryTransferFromCustody_onlyCustodians() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(TokenRules.NotCustodian.selector, alice));
        token.tryTransferFromCustody(bob, 1);
        vm.prank(bridge);
        vm.expectRevert(abi.encodeWithSelector(TokenRules.NotCustodian.selector, bridge));
        token.tryTransferFromCustody(bob, 1);
        vm.prank(admin);
        token.setCustodian(vault, false);
        vm.prank(vault);
        vm.expectRevert(abi.encodeWithSelector(TokenRules.NotCustodian.selector, vault));
        token.tryTransferFromCustody(bob, 1);
        assertEq(token.balanceOf(bob), 0, "nothing moved");
        assertEq(token.balanceOf(alice), 1000, "alice kept hers");
    }

    /// A shortfall is ERC-20's own error, as for `transfer` (not a restriction code).
    function test_tryTransferFromCustody_shortfall_reverts() public {
        vm.prank(vault);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, vault, 1000, 1001));
        token.tryTransferFromCustody(bob, 1001);
    }

    // ------------------------------------------------------------------ helpers

    function _tryMint(address to, uint256 amount) internal returns (uint8) {
        vm.prank(bridge);
        return token.tryBridgeMint(to, amount);
    }

    function _tryCustody(address custodian, address to, uint256 amount) internal returns (uint8) {
        vm.prank(custodian);
        return token.tryTransferFromCustody(to, amount);
    }

    /// @dev The pre-check names `code`, the try mint returns it, and nothing moved or was logged.
    function _assertMintRefused(address to, uint256 amount, uint8 code) internal {
        assertEq(token.detectTransferRestriction(address(0), to, amount), code, "pre-check");
        uint256 supply = token.totalSupply();
        uint256 balance = token.balanceOf(to);
        vm.recordLogs();
        assertEq(_tryMint(to, amount), code, "returned code");
        Cheats.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 0, "no event");
        assertEq(token.totalSupply(), supply, "supply unchanged");
        assertEq(token.balanceOf(to), balance, "nothing minted");
    }

    /// @dev As above, for the vault's transfer out of custody.
    function _assertCustodyRefused(address to, uint256 amount, uint8 code) internal {
        assertEq(token.detectTransferRestriction(vault, to, amount), code, "pre-check");
        uint256 vaultBalance = token.balanceOf(vault);
        uint256 balance = token.balanceOf(to);
        vm.recordLogs();
        assertEq(_tryCustody(vault, to, amount), code, "returned code");
        Cheats.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 0, "no event");
        assertEq(token.balanceOf(vault), vaultBalance, "the vault kept it");
        assertEq(token.balanceOf(to), balance, "nothing received");
    }
}
