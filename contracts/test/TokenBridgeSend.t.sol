// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {SecurityToken} from "../src/SecurityToken.sol";
import {ITokenBridge} from "../src/interfaces/ITokenBridge.sol";
import {Restriction} from "../src/interfaces/ISecurityToken.sol";
import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {FeeOnTransferSecurityToken} from "./utils/BridgeDoubles.sol";

/// @notice What `send` refuses before anything leaves: bad arguments, tokens it does not
/// know (Qubit), recipients the token refuses, senders the token stops (lock-up, freezes),
/// and a lock that did not receive the full amount. A refused send dispatches nothing.
contract TokenBridgeSendTest is BridgeFixture {
    uint32 internal homeCount;
    uint32 internal remoteCount;

    function setUp() public override {
        super.setUp();
        _sendHome(alice, bob, 5_000);
        _relayAll(HOME); // bob holds 5,000 on the remote chain
        vm.prank(alice);
        homeToken.approve(address(homeBridge), type(uint256).max);
        homeCount = homeMailbox.count();
        remoteCount = remoteMailbox.count();
    }

    // ------------------------------------------------------------------ arguments

    function test_send_zeroAmount() public {
        vm.expectRevert(ITokenBridge.ZeroAmount.selector);
        _homeSend(alice, address(homeToken), REMOTE, bob, 0);
        vm.expectRevert(ITokenBridge.ZeroAmount.selector);
        _remoteSend(bob, address(remoteToken), HOME, alice, 0);
        _assertNothingDispatched();
    }

    function test_send_zeroRecipient() public {
        vm.expectRevert(ITokenBridge.ZeroAddress.selector);
        _homeSend(alice, address(homeToken), REMOTE, address(0), 10);
        vm.expectRevert(ITokenBridge.ZeroAddress.selector);
        _remoteSend(bob, address(remoteToken), HOME, address(0), 10);
        _assertNothingDispatched();
    }

    function test_send_unknownDestination() public {
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownDomain.selector, uint32(8453)));
        _homeSend(alice, address(homeToken), 8453, bob, 10);
        // its own domain is never enrolled (enrollRemote refuses it)
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownDomain.selector, HOME));
        _homeSend(alice, address(homeToken), HOME, bob, 10);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.LocalDomain.selector, HOME));
        homeBridge.enrollRemote(HOME, address(remoteBridge));
        // a remote bridge talks to the home chain only
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownDomain.selector, uint32(8453)));
        _remoteSend(bob, address(remoteToken), 8453, alice, 10);
        _assertNothingDispatched();
    }

    function test_send_unenrolledLane_refused() public {
        vm.prank(owner);
        homeBridge.enrollRemote(REMOTE, address(0));
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownDomain.selector, REMOTE));
        _homeSend(alice, address(homeToken), REMOTE, bob, 10);
        _assertNothingDispatched();
    }

    // ------------------------------------------------------------------ recipients

    function test_send_recipientNotVerified() public {
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.RecipientNotEligible.selector, stranger));
        _homeSend(alice, address(homeToken), REMOTE, stranger, 10);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.RecipientNotEligible.selector, stranger));
        _remoteSend(bob, address(remoteToken), HOME, stranger, 10);
        _assertNothingDispatched();
    }

    function test_send_recipientCountryDenied() public {
        uint16[] memory denied = new uint16[](1);
        denied[0] = FR;
        vm.prank(agent);
        homeToken.setCountriesDenied(denied, true);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.RecipientNotEligible.selector, bob));
        _homeSend(alice, address(homeToken), REMOTE, bob, 10);
        _assertNothingDispatched();
    }

    function test_send_recipientRevokedOrFrozen() public {
        vm.startPrank(agent);
        registry.revoke(carol);
        homeToken.setAddressFrozen(bob, true);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.RecipientNotEligible.selector, carol));
        _homeSend(alice, address(homeToken), REMOTE, carol, 10);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.RecipientNotEligible.selector, bob));
        _homeSend(alice, address(homeToken), REMOTE, bob, 10);
        _relayAll(HOME); // carol's revocation reaches the mirror
        homeCount = homeMailbox.count();
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.RecipientNotEligible.selector, carol));
        _remoteSend(bob, address(remoteToken), HOME, carol, 10);
        _assertNothingDispatched();
    }

    // ------------------------------------------------------------------ senders (the token's rules)

    function test_send_lockedUp_home() public {
        vm.prank(agent);
        homeToken.setLockupUntil(uint64(T0 + 1 days));
        _expectRestricted(Restriction.LOCKED_UP, alice, address(homeBridge), 10);
        _homeSend(alice, address(homeToken), REMOTE, bob, 10);
        _assertNothingDispatched();
        vm.warp(T0 + 1 days); // lock-up over: the same send passes
        _homeSend(alice, address(homeToken), REMOTE, bob, 10);
        vm.assertEq(homeMailbox.count(), homeCount + 1, "dispatched");
    }

    function test_send_lockedUp_remote() public {
        vm.prank(agent);
        remoteToken.setLockupUntil(uint64(T0 + 1 days));
        _expectRestricted(Restriction.LOCKED_UP, bob, address(0), 10);
        _remoteSend(bob, address(remoteToken), HOME, alice, 10);
        _assertNothingDispatched();
    }

    function test_send_frozenSender_home() public {
        vm.prank(agent);
        registry.freeze(alice);
        homeCount = homeMailbox.count(); // the RecordUpdate
        _expectRestricted(Restriction.SENDER_FROZEN, alice, address(homeBridge), 10);
        _homeSend(alice, address(homeToken), REMOTE, bob, 10);
        _assertNothingDispatched();
    }

    function test_send_frozenSender_remote() public {
        vm.prank(agent);
        remoteToken.setAddressFrozen(bob, true);
        _expectRestricted(Restriction.SENDER_FROZEN, bob, address(0), 10);
        _remoteSend(bob, address(remoteToken), HOME, alice, 10);
        _assertNothingDispatched();
    }

    function test_send_partlyFrozenBalance() public {
        vm.prank(agent);
        homeToken.setFrozenTokens(alice, 100_000 - 5_000 - 10); // 10 unfrozen
        _expectRestricted(Restriction.INSUFFICIENT_UNFROZEN_BALANCE, alice, address(homeBridge), 11);
        _homeSend(alice, address(homeToken), REMOTE, bob, 11);
        _homeSend(alice, address(homeToken), REMOTE, bob, 10); // exactly the unfrozen part
        vm.assertEq(homeMailbox.count(), homeCount + 1, "dispatched");
    }

    function test_send_withoutAllowanceOrBalance() public {
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(homeBridge), 0, 10)
        );
        _homeSend(bob, address(homeToken), REMOTE, alice, 10);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, bob, 5_000, 5_001));
        _remoteSend(bob, address(remoteToken), HOME, alice, 5_001);
        _assertNothingDispatched();
    }

    // ------------------------------------------------------------------ tokens (Qubit)

    function test_qubit_tokenZero() public {
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownToken.selector, address(0)));
        _homeSend(alice, address(0), REMOTE, bob, 10);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownToken.selector, address(0)));
        _remoteSend(bob, address(0), HOME, alice, 10);
        _assertNothingDispatched();
    }

    function test_qubit_tokenWithoutCode() public {
        address eoa = _named("eoa");
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownToken.selector, eoa));
        _homeSend(alice, eoa, REMOTE, bob, 10);
        _assertNothingDispatched();
    }

    function test_qubit_unregisteredToken() public {
        SecurityToken other = new SecurityToken("Other", "OTH", 0, registry, owner);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownToken.selector, address(other)));
        _homeSend(alice, address(other), REMOTE, bob, 10);
        // The home token's address means nothing to the remote bridge as a local token.
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownToken.selector, address(homeToken)));
        _remoteSend(bob, address(homeToken), HOME, alice, 10);
        _assertNothingDispatched();
    }

    function test_qubit_registeredTokenWhoseCodeIsGone() public {
        vm.etch(address(remoteToken), "");
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownToken.selector, address(remoteToken)));
        _remoteSend(bob, address(remoteToken), HOME, alice, 10);
        _assertNothingDispatched();
    }

    function test_registerToken_refusesZeroNoCodeAndMismatchOnHome() public {
        SecurityToken other = new SecurityToken("Other", "OTH", 0, registry, owner);
        address eoa = _named("eoa");
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownToken.selector, address(other)));
        homeBridge.registerToken(address(0), address(other));
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownToken.selector, address(0)));
        homeBridge.registerToken(address(other), address(0));
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownToken.selector, eoa));
        remoteBridge.registerToken(address(other), eoa);
        // on home a token maps to itself only
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownToken.selector, address(other)));
        homeBridge.registerToken(address(homeToken), address(other));
        vm.stopPrank();
        vm.assertEq(homeBridge.localTokenOf(address(homeToken)), address(homeToken), "mapping unchanged");
    }

    // ------------------------------------------------------------------ fee on transfer

    function test_feeOnTransfer_lockRefused() public {
        FeeOnTransferSecurityToken fee = new FeeOnTransferSecurityToken(registry);
        vm.prank(owner);
        homeBridge.registerToken(address(fee), address(fee));
        fee.mint(alice, 10_000);
        vm.prank(alice);
        fee.approve(address(homeBridge), type(uint256).max);
        fee.setFee(100); // 1%
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownToken.selector, address(fee)));
        _homeSend(alice, address(fee), REMOTE, bob, 1_000);
        _assertNothingDispatched();
        vm.assertEq(fee.balanceOf(alice), 10_000, "nothing taken");
        // The same token without a fee locks: the check is what refused it.
        fee.setFee(0);
        _homeSend(alice, address(fee), REMOTE, bob, 1_000);
        vm.assertEq(fee.balanceOf(address(homeBridge)), 1_000, "locked");
        vm.assertEq(homeMailbox.count(), homeCount + 1, "dispatched");
    }

    function test_fuzz_feeOnTransfer_anyFeeRefused(uint256 bps, uint256 amount) public {
        bps = _bound(bps, 1, 10_000);
        amount = _bound(amount, (10_000 + bps - 1) / bps, 10_000); // a fee of at least one unit
        FeeOnTransferSecurityToken fee = new FeeOnTransferSecurityToken(registry);
        vm.prank(owner);
        homeBridge.registerToken(address(fee), address(fee));
        fee.mint(alice, 10_000);
        fee.setFee(bps);
        vm.prank(alice);
        fee.approve(address(homeBridge), amount);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.UnknownToken.selector, address(fee)));
        _homeSend(alice, address(fee), REMOTE, bob, amount);
    }

    // ------------------------------------------------------------------ helpers

    function _homeSend(address from, address token, uint32 destination, address to, uint256 amount) internal {
        vm.prank(from);
        homeBridge.send(token, destination, to, amount);
    }

    function _remoteSend(address from, address token, uint32 destination, address to, uint256 amount) internal {
        vm.prank(from);
        remoteBridge.send(token, destination, to, amount);
    }

    function _assertNothingDispatched() internal view {
        vm.assertEq(homeMailbox.count(), homeCount, "nothing dispatched on home");
        vm.assertEq(remoteMailbox.count(), remoteCount, "nothing dispatched on remote");
    }
}
