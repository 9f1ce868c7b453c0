// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SecurityToken} from "../src/SecurityToken.sol";
import {TokenRules} from "../src/TokenRules.sol";
import {IMailbox} from "../src/interfaces/IMailbox.sol";
import {ISecurityToken, Restriction} from "../src/interfaces/ISecurityToken.sol";
import {ITokenBridge} from "../src/interfaces/ITokenBridge.sol";
import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {GasBurningToken} from "./utils/BridgeDoubles.sol";
import {Delivery} from "./utils/Relay.sol";

/// @notice How a Transfer is delivered: the token checks its rules once, in the call that
/// mints (`tryBridgeMint`) or unlocks (`tryTransferFromCustody`); a refusal bounces and gives
/// back what it drew from the inbound bucket; a bucket that cannot cover the amount still
/// lets a refused transfer bounce and makes an allowed one wait; and a failure inside the
/// token, out of gas included, fails the delivery (it stays undelivered and is retried) and
/// never turns into a bounce, whatever gas the submitter gave.
contract TokenBridgeDeliveryTest is BridgeFixture {
    // ------------------------------------------------------------------ one check

    function test_remote_mintChecksTheRulesOnce() public {
        _sendHome(alice, bob, 500);
        relay.sync();
        vm.expectCall(address(remoteToken), abi.encodeCall(ISecurityToken.tryBridgeMint, (bob, 500)), 1);
        vm.expectCall(
            address(remoteToken), abi.encodeWithSelector(ISecurityToken.detectTransferRestriction.selector), 0
        );
        vm.expectCall(address(remoteToken), abi.encodeWithSelector(ISecurityToken.bridgeMint.selector), 0);
        relay.process(HOME, _last(HOME));
        vm.assertEq(remoteToken.balanceOf(bob), 500, "minted");
    }

    function test_home_unlockChecksTheRulesOnce() public {
        _sendHome(alice, bob, 1_000);
        _relayAll(HOME);
        _sendRemote(bob, carol, 400);
        relay.sync();
        vm.expectCall(address(homeToken), abi.encodeCall(ISecurityToken.tryTransferFromCustody, (carol, 400)), 1);
        vm.expectCall(address(homeToken), abi.encodeWithSelector(ISecurityToken.detectTransferRestriction.selector), 0);
        vm.expectCall(address(homeToken), abi.encodeWithSelector(IERC20.transfer.selector), 0);
        relay.process(REMOTE, _last(REMOTE));
        vm.assertEq(homeToken.balanceOf(carol), 400, "unlocked");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), 600, "escrow");
    }

    // ------------------------------------------------------------------ the inbound bucket

    /// A refused delivery draws nothing: what it took before the token's call comes back.
    function test_refusedDelivery_givesBackWhatItDrew() public {
        _limitRemoteInbound(1_000, 0); // never refills: every figure is exact
        _sendHome(alice, bob, 400);
        _relayAll(HOME);
        vm.assertEq(_remoteInboundAvailable(), 600, "drawn by the delivery");
        vm.prank(agent);
        remoteToken.setAddressFrozen(carol, true);
        bytes32 id = _sendHome(alice, carol, 300);
        relay.sync();
        vm.expectEmit(address(remoteBridge));
        emit ITokenBridge.Bounced(id, _nextReturnId(id, 300), HOME, alice, 300, Restriction.RECIPIENT_FROZEN);
        relay.process(HOME, _last(HOME));
        vm.assertEq(_remoteInboundAvailable(), 600, "a bounce draws nothing");
        _sendHome(alice, bob, 600);
        _relayAll(HOME);
        vm.assertEq(_remoteInboundAvailable(), 0, "the rest was there");
        vm.assertEq(remoteToken.balanceOf(bob), 1_000, "bob");
    }

    /// With the bucket empty, or an amount above its capacity, a transfer the rules refuse
    /// bounces at once (waiting would not change the answer) and one they allow waits.
    function test_bucketCannotCover_refusedBounces_allowedWaits() public {
        _limitRemoteInbound(100, 1);
        _sendHome(alice, bob, 100);
        _relayAll(HOME);
        vm.assertEq(_remoteInboundAvailable(), 0, "empty");
        vm.prank(agent);
        remoteToken.setAddressFrozen(carol, true);

        bytes32 refused = _sendHome(alice, carol, 50);
        relay.sync();
        vm.expectEmit(address(remoteBridge));
        emit ITokenBridge.Bounced(refused, _nextReturnId(refused, 50), HOME, alice, 50, Restriction.RECIPIENT_FROZEN);
        relay.process(HOME, _last(HOME));

        bytes32 tooBig = _sendHome(alice, carol, 150);
        relay.sync();
        vm.expectEmit(address(remoteBridge));
        emit ITokenBridge.Bounced(tooBig, _nextReturnId(tooBig, 150), HOME, alice, 150, Restriction.RECIPIENT_FROZEN);
        relay.process(HOME, _last(HOME));

        _sendHome(alice, bob, 50);
        relay.sync();
        uint32 nonce = _last(HOME);
        vm.expectRevert(
            abi.encodeWithSelector(ITokenBridge.RateLimited.selector, address(homeToken), HOME, true, 50, 0, 50)
        );
        relay.process(HOME, nonce);
        _sendHome(alice, bob, 150);
        relay.sync();
        nonce = _last(HOME);
        vm.expectRevert(
            abi.encodeWithSelector(ITokenBridge.AmountAboveCapacity.selector, address(homeToken), HOME, 150, 100)
        );
        relay.process(HOME, nonce);
        vm.assertEq(_remoteInboundAvailable(), 0, "still empty");
        vm.assertEq(remoteToken.balanceOf(bob), 100, "bob waits");
    }

    // ------------------------------------------------------------------ failures are not refusals

    /// A token whose mint runs out of gas, in a batch (500,000 gas per handler): the message
    /// fails alone with an empty reason, nothing bounces, and it stays deliverable.
    function test_outOfGasInMint_batch_failsTheHandler_noBounce() public {
        (SecurityToken other, GasBurningToken burner) = _tokenWithBurningMirror();
        bytes32 id = _sendOther(other, 50);
        uint32 nonce = _last(HOME);
        uint32 dispatched = remoteMailbox.count();
        relay.sync();
        vm.expectEmit(address(remoteMailbox));
        emit IMailbox.ProcessFailed(id, HOME, nonce, "");
        relay.processBatch(HOME, nonce, nonce);
        _assertNotBounced(nonce, dispatched);
        vm.assertEq(burner.rounds(), 0, "the burner's writes were undone");
        _deliverLaterToRealToken(other, nonce);
    }

    /// The same through `process`, where the submitter chooses the gas: with 10,000,000 the
    /// 1/64 left to the handler after the token's out-of-gas (about 156,000) would pay for a
    /// bounce. The whole delivery reverts instead.
    function test_outOfGasInMint_processWithAmpleGas_reverts_noBounce() public {
        (SecurityToken other,) = _tokenWithBurningMirror();
        _sendOther(other, 50);
        uint32 nonce = _last(HOME);
        uint32 dispatched = remoteMailbox.count();
        relay.sync();
        Delivery memory d = relay.delivery(HOME, nonce, nonce);
        vm.expectRevert(bytes(""));
        remoteMailbox.process{gas: 10_000_000}(d.checkpoint, d.signatures, d.messages[0], d.proof);
        _assertNotBounced(nonce, dispatched);
        _deliverLaterToRealToken(other, nonce);
    }

    /// A home bridge the admin unmarked as custodian cannot unlock: deliveries towards home
    /// fail and wait (as Returns do) rather than bounce, and go through once it is marked again.
    function test_towardsHome_escrowNotCustodian_waits() public {
        _sendHome(alice, bob, 1_000);
        _relayAll(HOME);
        _sendRemote(bob, carol, 400);
        relay.sync();
        uint32 nonce = _last(REMOTE);
        uint32 dispatched = homeMailbox.count();
        vm.prank(owner);
        homeToken.setCustodian(address(homeBridge), false);
        vm.expectEmit(address(homeMailbox));
        emit IMailbox.ProcessFailed(
            relay.idAt(REMOTE, nonce),
            REMOTE,
            nonce,
            abi.encodeWithSelector(TokenRules.NotCustodian.selector, address(homeBridge))
        );
        relay.processBatch(REMOTE, nonce, nonce);
        vm.assertFalse(homeMailbox.delivered(REMOTE, nonce), "waits");
        vm.assertEq(homeMailbox.count(), dispatched, "no Return");
        vm.prank(owner);
        homeToken.setCustodian(address(homeBridge), true);
        _relayAll(REMOTE);
        vm.assertTrue(homeMailbox.delivered(REMOTE, nonce), "delivered");
        vm.assertEq(homeToken.balanceOf(carol), 400, "carol");
    }

    // ------------------------------------------------------------------ helpers

    /// @dev A second canonical token on home whose remote side is a token that burns all gas
    /// when it mints.
    function _tokenWithBurningMirror() internal returns (SecurityToken other, GasBurningToken burner) {
        other = new SecurityToken("Other", "OTH", 0, registry, owner);
        burner = new GasBurningToken(mirror);
        vm.startPrank(owner);
        other.grantRole(other.AGENT_ROLE(), agent);
        other.setCustodian(address(homeBridge), true);
        homeBridge.registerToken(address(other), address(other));
        remoteBridge.registerToken(address(other), address(burner));
        vm.stopPrank();
        vm.prank(agent);
        other.mint(alice, 50);
    }

    function _sendOther(SecurityToken other, uint256 amount) internal returns (bytes32 id) {
        vm.prank(alice);
        other.approve(address(homeBridge), amount);
        vm.prank(alice);
        id = homeBridge.send(address(other), REMOTE, bob, amount);
    }

    function _assertNotBounced(uint32 nonce, uint32 dispatched) internal view {
        vm.assertFalse(remoteMailbox.delivered(HOME, nonce), "undelivered");
        vm.assertEq(remoteMailbox.count(), dispatched, "no Return dispatched");
    }

    /// @dev The owner points the lane at a real remote token; the same message then mints.
    function _deliverLaterToRealToken(SecurityToken other, uint32 nonce) internal {
        SecurityToken real = new SecurityToken("Other", "OTH", 0, mirror, owner);
        vm.startPrank(owner);
        real.grantRole(real.BRIDGE_ROLE(), address(remoteBridge));
        remoteBridge.registerToken(address(other), address(real));
        vm.stopPrank();
        _process(HOME, nonce);
        vm.assertEq(real.balanceOf(bob), 50, "delivered later, nothing lost");
    }

    /// @dev The id the remote bridge's next dispatch gets if it is the Return of `transferId`
    /// to alice (Restriction.RECIPIENT_FROZEN).
    function _nextReturnId(bytes32 transferId, uint256 amount) internal view returns (bytes32) {
        bytes memory body = _returnBody(alice, amount, transferId, Restriction.RECIPIENT_FROZEN);
        return _messageId(remoteMailbox.count(), REMOTE, address(remoteBridge), HOME, address(homeBridge), body);
    }

    function _limitRemoteInbound(uint128 capacity, uint128 rate) internal {
        vm.prank(owner);
        remoteBridge.setRateLimit(address(homeToken), HOME, true, capacity, rate);
    }

    function _remoteInboundAvailable() internal view returns (uint256 available) {
        (available,,) = remoteBridge.rateLimit(address(homeToken), HOME, true);
    }
}
