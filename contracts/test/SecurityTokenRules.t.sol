// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {TokenFixture} from "./utils/TokenFixture.sol";
import {Restriction} from "../src/interfaces/ISecurityToken.sol";
import {TokenRules} from "../src/TokenRules.sol";

/// Every transfer rule, each with an attempt to get past it (and the pre-checks agreeing).
contract SecurityTokenRulesTest is TokenFixture {
    function setUp() public override {
        super.setUp();
        _mint(alice, 1000);
    }

    /// The pre-checks and the transfer agree on `code` for alice -> `to`.
    function _assertRefused(address from, address to, uint256 amount, uint8 code) internal {
        assertEq(token.detectTransferRestriction(from, to, amount), code, "detectTransferRestriction");
        assertFalse(token.canTransfer(from, to, amount), "canTransfer");
        _expectRestricted(code, from, to, amount);
        _transfer(from, to, amount);
    }

    function _assertAllowed(address from, address to, uint256 amount) internal {
        assertEq(token.detectTransferRestriction(from, to, amount), 0, "detectTransferRestriction");
        assertTrue(token.canTransfer(from, to, amount), "canTransfer");
        uint256 before = token.balanceOf(to);
        _transfer(from, to, amount);
        assertEq(token.balanceOf(to), before + amount, "received");
    }

    // ------------------------------------------------------------------ recipient verified

    function test_recipient_withoutRecord_refused() public {
        _assertRefused(alice, stranger, 1, Restriction.RECIPIENT_NOT_VERIFIED);
        assertFalse(token.canReceive(stranger), "canReceive");
        // through an allowance, too
        vm.prank(alice);
        token.approve(bob, 10);
        _expectRestricted(Restriction.RECIPIENT_NOT_VERIFIED, alice, stranger, 1);
        vm.prank(bob);
        token.transferFrom(alice, stranger, 1);
        // and a zero-value transfer is no way around it
        _assertRefused(alice, stranger, 0, Restriction.RECIPIENT_NOT_VERIFIED);
    }

    function test_recipient_revoked_refused() public {
        vm.prank(agent);
        registry.revoke(bob);
        _assertRefused(alice, bob, 1, Restriction.RECIPIENT_NOT_VERIFIED);
        _onboard(bob, FR); // re-onboarded
        _assertAllowed(alice, bob, 1);
    }

    function test_recipient_registryFrozen_refused() public {
        vm.prank(agent);
        registry.freeze(bob);
        _assertRefused(alice, bob, 1, Restriction.RECIPIENT_FROZEN);
        vm.prank(agent);
        registry.unfreeze(bob);
        _assertAllowed(alice, bob, 1);
    }

    function test_recipient_expired_refused_atExpiry() public {
        // alice's own record expires at the same time; give her a longer one
        vm.prank(agent);
        registry.setRecord(alice, keccak256("alice"), DE, expiry + 10 days, 0);
        vm.warp(expiry - 1);
        _assertAllowed(alice, bob, 1);
        vm.warp(expiry);
        _assertRefused(alice, bob, 1, Restriction.RECIPIENT_NOT_VERIFIED);
    }

    function test_mint_toUnverified_refused() public {
        assertEq(token.detectTransferRestriction(address(0), stranger, 5), Restriction.RECIPIENT_NOT_VERIFIED, "detect");
        _expectRestricted(Restriction.RECIPIENT_NOT_VERIFIED, address(0), stranger, 5);
        _mint(stranger, 5);
    }

    // ------------------------------------------------------------------ sender verified

    function test_sender_revoked_cannotSend() public {
        vm.prank(agent);
        registry.revoke(alice);
        assertFalse(token.canSend(alice), "canSend");
        _assertRefused(alice, bob, 1, Restriction.SENDER_NOT_VERIFIED);
    }

    function test_sender_registryFrozen_cannotSend() public {
        vm.prank(agent);
        registry.freeze(alice);
        _assertRefused(alice, bob, 1, Restriction.SENDER_FROZEN);
    }

    function test_sender_expired_cannotSend() public {
        vm.warp(expiry);
        _assertRefused(alice, bob, 1, Restriction.SENDER_NOT_VERIFIED);
    }

    // ------------------------------------------------------------------ countries

    function test_denyList_refusesCountry() public {
        _onboard(carol, KP);
        uint16[] memory list = new uint16[](1);
        list[0] = KP;
        vm.prank(agent);
        token.setCountriesDenied(list, true);
        assertTrue(token.countryDenied(KP), "denied");
        assertFalse(token.canReceive(carol), "canReceive");
        _assertRefused(alice, carol, 1, Restriction.COUNTRY_NOT_ALLOWED);
        _expectRestricted(Restriction.COUNTRY_NOT_ALLOWED, address(0), carol, 1);
        _mint(carol, 1);
        vm.prank(agent);
        token.setCountriesDenied(list, false);
        _assertAllowed(alice, carol, 1);
    }

    function test_denyList_doesNotTrapHolders() public {
        _transfer(alice, bob, 10);
        uint16[] memory list = new uint16[](1);
        list[0] = FR;
        vm.prank(agent);
        token.setCountriesDenied(list, true);
        // bob (FR) may sell out to an eligible buyer, not buy more
        _assertAllowed(bob, carol, 10);
        _assertRefused(alice, bob, 1, Restriction.COUNTRY_NOT_ALLOWED);
    }

    function test_allowList_onlyListedCountriesReceive() public {
        uint16[] memory list = new uint16[](1);
        list[0] = DE;
        vm.prank(agent);
        token.setCountriesAllowed(list, true);
        _assertAllowed(alice, bob, 1); // the list is not enabled yet
        vm.prank(agent);
        token.setAllowListEnabled(true);
        assertTrue(token.allowListEnabled(), "enabled");
        _assertRefused(alice, bob, 1, Restriction.COUNTRY_NOT_ALLOWED); // FR not listed
        _assertAllowed(alice, carol, 1); // DE listed
        vm.prank(agent);
        token.setCountriesAllowed(list, false);
        _assertRefused(alice, carol, 1, Restriction.COUNTRY_NOT_ALLOWED);
    }

    function test_denyList_winsOverAllowList() public {
        uint16[] memory list = new uint16[](1);
        list[0] = DE;
        vm.startPrank(agent);
        token.setCountriesAllowed(list, true);
        token.setAllowListEnabled(true);
        token.setCountriesDenied(list, true);
        vm.stopPrank();
        _assertRefused(alice, carol, 1, Restriction.COUNTRY_NOT_ALLOWED);
    }

    function test_countryLists_refuseInvalidCodes() public {
        uint16[] memory list = new uint16[](2);
        list[0] = DE;
        list[1] = 1000;
        vm.startPrank(agent);
        vm.expectRevert(abi.encodeWithSelector(TokenRules.InvalidCountry.selector, uint16(1000)));
        token.setCountriesDenied(list, true);
        list[1] = 0;
        vm.expectRevert(abi.encodeWithSelector(TokenRules.InvalidCountry.selector, uint16(0)));
        token.setCountriesAllowed(list, true);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ address freeze

    function test_addressFrozen_sender() public {
        vm.prank(agent);
        token.setAddressFrozen(alice, true);
        assertTrue(token.isAddressFrozen(alice), "isAddressFrozen");
        assertFalse(token.canSend(alice), "canSend");
        _assertRefused(alice, bob, 1, Restriction.SENDER_FROZEN);
        // an approved spender cannot move a frozen holder's tokens either
        vm.prank(alice);
        token.approve(carol, 10);
        _expectRestricted(Restriction.SENDER_FROZEN, alice, bob, 1);
        vm.prank(carol);
        token.transferFrom(alice, bob, 1);
        vm.prank(agent);
        token.setAddressFrozen(alice, false);
        _assertAllowed(alice, bob, 1);
    }

    function test_addressFrozen_recipient() public {
        vm.prank(agent);
        token.setAddressFrozen(bob, true);
        assertFalse(token.canReceive(bob), "canReceive");
        _assertRefused(alice, bob, 1, Restriction.RECIPIENT_FROZEN);
        _expectRestricted(Restriction.RECIPIENT_FROZEN, address(0), bob, 1);
        _mint(bob, 1);
    }

    // ------------------------------------------------------------------ partial freeze (ERC-7943)

    function test_partialFreeze_onlyUnfrozenMoves() public {
        vm.prank(agent);
        token.setFrozenTokens(alice, 600);
        assertEq(token.getFrozenTokens(alice), 600, "frozen");
        _assertRefused(alice, bob, 1000, Restriction.INSUFFICIENT_UNFROZEN_BALANCE); // the whole balance
        _assertRefused(alice, bob, 401, Restriction.INSUFFICIENT_UNFROZEN_BALANCE);
        _assertAllowed(alice, bob, 400); // exactly the unfrozen part
        _assertRefused(alice, bob, 1, Restriction.INSUFFICIENT_UNFROZEN_BALANCE);
    }

    function test_partialFreeze_aboveBalance_freezesFutureTokens() public {
        vm.prank(agent);
        token.setFrozenTokens(alice, 5000);
        _assertRefused(alice, bob, 1, Restriction.INSUFFICIENT_UNFROZEN_BALANCE);
        _mint(alice, 4500); // balance 5500, 500 unfrozen
        _assertRefused(alice, bob, 501, Restriction.INSUFFICIENT_UNFROZEN_BALANCE);
        _assertAllowed(alice, bob, 500);
    }

    /// Beyond the whole balance it is ERC-20's own error (ERC-7943), not a restriction.
    function test_aboveBalance_isErc20Error() public {
        vm.prank(agent);
        token.setFrozenTokens(alice, 600);
        assertEq(token.detectTransferRestriction(alice, bob, 1001), 0, "not a rule");
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, alice, 1000, 1001));
        _transfer(alice, bob, 1001);
    }

    function test_fuzz_partialFreeze(uint256 frozen, uint256 amount) public {
        frozen = bound(frozen, 0, 3000);
        amount = bound(amount, 0, 1000);
        vm.prank(agent);
        token.setFrozenTokens(alice, frozen);
        uint256 unfrozen = frozen >= 1000 ? 0 : 1000 - frozen;
        vm.prank(alice);
        (bool ok,) = address(token).call(abi.encodeCall(token.transfer, (bob, amount)));
        assertEq(ok, amount <= unfrozen, "moves iff within the unfrozen part");
        assertTrue(token.balanceOf(alice) >= (frozen < 1000 ? frozen : 1000) || !ok, "frozen tokens stayed");
    }

    // ------------------------------------------------------------------ maximum holders

    function test_maxHolders_refusesNewHolderBeyond() public {
        _transfer(alice, bob, 100); // holders: alice, bob
        vm.prank(agent);
        token.setMaxHolders(2);
        assertEq(token.holderCount(), 2, "two holders");
        _assertRefused(alice, carol, 1, Restriction.MAX_HOLDERS_REACHED);
        _expectRestricted(Restriction.MAX_HOLDERS_REACHED, address(0), carol, 1);
        _mint(carol, 1);
        _assertAllowed(alice, bob, 5); // existing holders trade freely
        _assertAllowed(bob, vault, 1); // custodians do not count
        vm.prank(agent);
        token.setMaxHolders(3);
        _assertAllowed(alice, carol, 1); // boundary: the third holder fits
        assertEq(token.holderCount(), 3, "three holders");
    }

    function test_maxHolders_sellingEverythingFreesTheSeat() public {
        _transfer(alice, bob, 100);
        vm.prank(agent);
        token.setMaxHolders(2);
        // bob leaves as carol joins: the count stays 2
        _assertAllowed(bob, carol, 100);
        assertEq(token.holderCount(), 2, "still two");
        assertEq(token.balanceOf(bob), 0, "bob left");
    }

    function test_maxHolders_loweredBelowCount_keepsHolders() public {
        _transfer(alice, bob, 100);
        vm.prank(agent);
        token.setMaxHolders(1);
        _assertAllowed(alice, bob, 1);
        _assertRefused(alice, carol, 1, Restriction.MAX_HOLDERS_REACHED);
        // even a swap of seats must not create a holder beyond the maximum
        _assertRefused(bob, carol, 101, Restriction.MAX_HOLDERS_REACHED);
    }

    // ------------------------------------------------------------------ maximum balance

    function test_maxBalance_perWallet() public {
        vm.prank(agent);
        token.setMaxBalance(500);
        _assertRefused(alice, bob, 501, Restriction.MAX_BALANCE_EXCEEDED);
        _assertAllowed(alice, bob, 500); // boundary: exactly the maximum
        _assertRefused(alice, bob, 1, Restriction.MAX_BALANCE_EXCEEDED);
        _expectRestricted(Restriction.MAX_BALANCE_EXCEEDED, address(0), bob, 1);
        _mint(bob, 1);
        _assertAllowed(alice, vault, 500); // custodians are not bound
        // alice already holds more than the maximum (minted before it was set): she may sell
        assertEq(token.balanceOf(alice), 0, "alice sold out");
    }

    function test_maxBalance_holderAboveMaximum_cannotReceiveMore() public {
        vm.prank(agent);
        token.setMaxBalance(100);
        _mint(bob, 100);
        _assertRefused(alice, bob, 1, Restriction.MAX_BALANCE_EXCEEDED);
        // alice holds 1000, above the maximum: she may not receive more, only sell
        _assertRefused(bob, alice, 1, Restriction.MAX_BALANCE_EXCEEDED);
        _assertAllowed(bob, alice, 0); // a zero transfer adds nothing
        _assertAllowed(alice, carol, 100);
    }

    function test_fuzz_maxBalance(uint128 max, uint256 amount) public {
        max = uint128(bound(max, 1, 2000));
        amount = bound(amount, 0, 1000);
        vm.prank(agent);
        token.setMaxBalance(max);
        vm.prank(alice);
        (bool ok,) = address(token).call(abi.encodeCall(token.transfer, (bob, amount)));
        assertEq(ok, amount <= max, "transfer allowed iff the new balance is within the maximum");
        assertTrue(token.balanceOf(bob) <= max, "bob within the maximum");
    }

    function test_selfTransfer_changesNothing_evenAtTheLimits() public {
        vm.startPrank(agent);
        token.setMaxBalance(500); // alice holds 1000, above it
        token.setMaxHolders(1);
        vm.stopPrank();
        assertTrue(token.canTransfer(alice, alice, 600), "canTransfer");
        _transfer(alice, alice, 600);
        assertEq(token.balanceOf(alice), 1000, "balance");
        assertEq(token.holderCount(), 1, "holders");
        // the identity rules still apply to both sides
        vm.prank(agent);
        token.setAddressFrozen(alice, true);
        _assertRefused(alice, alice, 1, Restriction.SENDER_FROZEN);
    }

    // ------------------------------------------------------------------ lock-up

    function test_lockup_investorsMayNotSend() public {
        vm.prank(agent);
        token.setLockupUntil(uint64(T0 + 30 days));
        assertFalse(token.canSend(alice), "canSend");
        _assertRefused(alice, bob, 1, Restriction.LOCKED_UP);
        // not into custody either (an HTLC lock or a bridge send is a disposal)
        _assertRefused(alice, vault, 1, Restriction.LOCKED_UP);
        // mints and agent actions still work
        _mint(bob, 10);
        vm.prank(agent);
        token.forcedTransfer(alice, carol, 5);
        assertEq(token.balanceOf(carol), 5, "forced transfer during lock-up");
        vm.warp(T0 + 30 days - 1);
        _assertRefused(alice, bob, 1, Restriction.LOCKED_UP);
        vm.warp(T0 + 30 days); // boundary: free at lockupUntil
        _assertAllowed(alice, bob, 1);
    }

    function test_lockup_doesNotBindCustodians() public {
        _assertAllowed(alice, vault, 100);
        vm.prank(agent);
        token.setLockupUntil(uint64(T0 + 30 days));
        vm.prank(vault);
        token.transfer(bob, 10);
        assertEq(token.balanceOf(bob), 10, "custodian delivered during lock-up");
    }

    // ------------------------------------------------------------------ pause

    function test_pause_stopsTransfersAndMints() public {
        vm.prank(agent);
        token.pause();
        _assertRefused(alice, bob, 1, Restriction.PAUSED);
        _expectRestricted(Restriction.PAUSED, address(0), bob, 1);
        _mint(bob, 1);
        vm.prank(agent);
        token.unpause();
        _assertAllowed(alice, bob, 1);
    }

    // ------------------------------------------------------------------ custodians

    function test_fromCustodian_checksOnlyRecipient() public {
        _assertAllowed(alice, vault, 100);
        // the custodian needs no identity to send, but the recipient must be eligible
        _assertRefused(vault, stranger, 1, Restriction.RECIPIENT_NOT_VERIFIED);
        vm.prank(agent);
        token.setMaxBalance(5);
        _assertRefused(vault, bob, 6, Restriction.MAX_BALANCE_EXCEEDED);
        _assertAllowed(vault, bob, 5);
    }

    function test_toCustodian_checksOnlySender() public {
        assertEq(registry.recordOf(vault).version, 0, "custodian has no identity");
        assertTrue(token.canReceive(vault), "custodian can receive");
        vm.prank(agent);
        token.setAddressFrozen(alice, true);
        _assertRefused(alice, vault, 1, Restriction.SENDER_FROZEN);
        vm.prank(agent);
        token.setAddressFrozen(alice, false);
        _assertAllowed(alice, vault, 1000);
        assertEq(token.holderCount(), 0, "custodian not counted");
    }

    /// Custodians skip identity rules, not the token's own freezes.
    function test_frozenCustodian_isStopped() public {
        _assertAllowed(alice, vault, 100);
        vm.prank(agent);
        token.setAddressFrozen(vault, true);
        assertFalse(token.canSend(vault), "canSend");
        assertFalse(token.canReceive(vault), "canReceive");
        _assertRefused(vault, bob, 1, Restriction.SENDER_FROZEN);
        _assertRefused(alice, vault, 1, Restriction.RECIPIENT_FROZEN);
        vm.prank(vault);
        _expectRestricted(Restriction.SENDER_FROZEN, vault, bob, 1);
        token.release(bob, 1);
        vm.prank(agent);
        token.setAddressFrozen(vault, false);
        vm.prank(agent);
        token.setFrozenTokens(vault, 60);
        _assertRefused(vault, bob, 41, Restriction.INSUFFICIENT_UNFROZEN_BALANCE);
        _assertAllowed(vault, bob, 40);
    }

    function test_custodian_doesNotCountAsHolder() public {
        _transfer(alice, vault, 400);
        assertEq(token.holderCount(), 1, "alice only");
        vm.prank(admin);
        token.setCustodian(vault, false);
        assertEq(token.holderCount(), 2, "unmarked custodian with a balance counts");
        vm.prank(admin);
        token.setCustodian(vault, true);
        assertEq(token.holderCount(), 1, "marked again");
    }

    // ------------------------------------------------------------------ ERC-1404 texts and ERC-165

    function test_messages_distinctPerCode() public view {
        bytes32[12] memory seen;
        for (uint8 code = 0; code <= 11; ++code) {
            seen[code] = keccak256(bytes(token.messageForTransferRestriction(code)));
            for (uint8 j = 0; j < code; ++j) {
                assertTrue(seen[j] != seen[code], "two codes share a message");
            }
        }
        assertEq(
            keccak256(bytes(token.messageForTransferRestriction(11))), keccak256("Unknown restriction code"), "unknown"
        );
        assertEq(keccak256(bytes(token.messageForTransferRestriction(0))), keccak256("No restriction"), "success");
    }

    function test_supportsErc7943Interface() public view {
        assertTrue(token.supportsInterface(0x3edbb4c4), "ERC-7943 fungible");
        assertTrue(token.supportsInterface(0x01ffc9a7), "ERC-165");
        assertFalse(token.supportsInterface(0xffffffff), "0xffffffff");
    }

    function test_metadata() public view {
        assertEq(token.decimals(), 0, "decimals");
        assertEq(address(token.identityRegistry()), address(registry), "registry");
    }
}
