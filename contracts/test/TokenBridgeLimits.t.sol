// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMailbox} from "../src/interfaces/IMailbox.sol";
import {ITokenBridge} from "../src/interfaces/ITokenBridge.sol";
import {IdentityRecord} from "../src/interfaces/IIdentityRegistry.sol";
import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {Delivery} from "./utils/Relay.sol";

/// @notice The token buckets that bound what moves per lane (outbound on send, inbound on
/// delivery, with the exact wait in the error) and what a fallen committee could take.
/// Pausing a lane is in TokenBridgePause.t.sol.
contract TokenBridgeLimitsTest is BridgeFixture {
    address internal token;

    function setUp() public override {
        super.setUp();
        token = address(homeToken);
        vm.prank(alice);
        homeToken.approve(address(homeBridge), type(uint256).max);
    }

    // ------------------------------------------------------------------ outbound

    function test_outbound_exactlyAvailablePasses_oneMoreFails() public {
        _limit(false, 1_000, 10);
        _send(1_000);
        _expectRateLimited(false, 1, 0, 1);
        _send(1);
        vm.warp(block.timestamp + 1);
        _send(10); // refilled exactly 10
        _expectRateLimited(false, 1, 0, 1);
        _send(1);
    }

    function test_outbound_retryAfterIsExact() public {
        _limit(false, 1_000, 10);
        _send(1_000);
        _expectRateLimited(false, 55, 0, 6); // ceil(55 / 10)
        _send(55);
        vm.warp(block.timestamp + 5);
        _expectRateLimited(false, 55, 50, 1);
        _send(55);
        vm.warp(block.timestamp + 1);
        _send(55);
        _assertAvailable(false, 5);
    }

    function test_outbound_aboveCapacity() public {
        _limit(false, 1_000, 10);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.AmountAboveCapacity.selector, token, REMOTE, 1_001, 1_000));
        _send(1_001);
        _send(1_000); // the full bucket at once is fine
    }

    function test_refill_cappedAtCapacity() public {
        _limit(false, 1_000, 10);
        _send(600);
        _assertAvailable(false, 400);
        vm.warp(block.timestamp + 30);
        _assertAvailable(false, 700);
        vm.warp(block.timestamp + 1 days);
        _assertAvailable(false, 1_000);
        _send(1_000);
        _assertAvailable(false, 0);
    }

    function test_reconfigured_keepsWhatItHolds_neverRefills() public {
        _limit(false, 1_000, 10);
        _send(900);
        vm.warp(block.timestamp + 5);
        _assertAvailable(false, 150);
        _limit(false, 500, 1); // tightened mid-incident: still 150, not a fresh 500
        _assertAvailable(false, 150);
        _expectRateLimited(false, 151, 150, 1);
        _send(151);
        _limit(false, 100, 1); // below what it holds: cut to the new capacity
        _assertAvailable(false, 100);
        _limit(false, 2_000, 10); // loosened: the rate, not the change, fills it
        _assertAvailable(false, 100);
        vm.warp(block.timestamp + 10);
        _assertAvailable(false, 200);
    }

    function test_limitAfterNoLimit_startsFull() public {
        _limit(false, 0, 0);
        _send(5_000);
        _limit(false, 1_000, 10);
        _assertAvailable(false, 1_000);
    }

    function test_rateZero_neverRefills() public {
        _limit(false, 100, 0);
        _send(100);
        vm.warp(block.timestamp + 300 days);
        _expectRateLimited(false, 1, 0, type(uint256).max);
        _send(1);
    }

    function test_capacityZero_meansNoLimit() public {
        _limit(false, 0, 0);
        (uint256 available, uint256 capacity, uint256 rate) = homeBridge.rateLimit(token, REMOTE, false);
        vm.assertEq(available, type(uint256).max, "unlimited");
        vm.assertEq(capacity + rate, 0, "no bucket");
        _send(100_000);
    }

    /// The bucket against a model: whatever the capacity, rate, first amount, wait and second
    /// amount, the second send passes exactly when the model's bucket holds it, and otherwise
    /// fails with the model's available amount and wait.
    function test_fuzz_outboundBucket(uint128 capacity, uint128 rate, uint256 first, uint256 elapsed, uint256 second)
        public
    {
        capacity = uint128(_bound(capacity, 1, 50_000));
        rate = uint128(_bound(rate, 0, 2_000));
        first = _bound(first, 1, capacity);
        elapsed = _bound(elapsed, 0, 2 days);
        second = _bound(second, 1, capacity);
        _limit(false, capacity, rate);
        _send(first);
        vm.warp(block.timestamp + elapsed);
        uint256 available = capacity - first + elapsed * rate;
        if (available > capacity) available = capacity;
        _assertAvailable(false, available);
        if (second <= available) {
            _send(second);
            _assertAvailable(false, available - second);
        } else {
            uint256 wait = rate == 0 ? type(uint256).max : (second - available + rate - 1) / rate;
            _expectRateLimited(false, second, available, wait);
            _send(second);
            if (rate != 0) {
                vm.warp(block.timestamp + wait - 1);
                vm.expectRevert(); // one second early
                _send(second);
                vm.warp(block.timestamp + 1);
                _send(second);
            }
        }
    }

    function test_fuzz_aboveCapacity(uint128 capacity, uint256 amount) public {
        capacity = uint128(_bound(capacity, 1, 50_000));
        amount = _bound(amount, uint256(capacity) + 1, 100_000);
        _limit(false, capacity, 1);
        vm.expectRevert(
            abi.encodeWithSelector(ITokenBridge.AmountAboveCapacity.selector, token, REMOTE, amount, capacity)
        );
        _send(amount);
    }

    // ------------------------------------------------------------------ inbound

    function test_inbound_rateLimited_waitsUndelivered_thenDelivered() public {
        _limitRemoteInbound(1_000, 10);
        _send(1_000);
        _relayAll(HOME);
        _send(300);
        relay.sync();
        uint32 nonce = _last(HOME);
        bytes memory reason = abi.encodeWithSelector(ITokenBridge.RateLimited.selector, token, HOME, true, 300, 0, 30);
        vm.expectEmit(address(remoteMailbox));
        emit IMailbox.ProcessFailed(relay.idAt(HOME, nonce), HOME, nonce, reason);
        relay.processBatch(HOME, nonce, nonce);
        vm.assertFalse(remoteMailbox.delivered(HOME, nonce), "undelivered");
        vm.expectRevert(reason);
        relay.process(HOME, nonce);

        vm.warp(block.timestamp + 29);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.RateLimited.selector, token, HOME, true, 300, 290, 1));
        relay.process(HOME, nonce);
        vm.warp(block.timestamp + 1);
        _relayAll(HOME);
        vm.assertTrue(remoteMailbox.delivered(HOME, nonce), "delivered once refilled");
        vm.assertEq(remoteToken.balanceOf(bob), 1_300, "nothing lost");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), remoteToken.totalSupply(), "escrow = remote supply");
    }

    function test_fuzz_inbound_deliveredExactlyWhenRefilled(uint256 first, uint256 second, uint128 rate) public {
        first = _bound(first, 1, 1_000);
        second = _bound(second, 1, 1_000);
        rate = uint128(_bound(rate, 1, 100));
        _limitRemoteInbound(1_000, rate);
        _send(first);
        _relayAll(HOME);
        _send(second);
        uint32 nonce = _last(HOME);
        _relayAll(HOME);
        uint256 available = 1_000 - first;
        if (second <= available) {
            vm.assertTrue(remoteMailbox.delivered(HOME, nonce), "delivered at once");
        } else {
            vm.assertFalse(remoteMailbox.delivered(HOME, nonce), "waits");
            uint256 wait = (second - available + rate - 1) / rate;
            vm.warp(block.timestamp + wait - 1);
            _relayAll(HOME);
            vm.assertFalse(remoteMailbox.delivered(HOME, nonce), "still waits one second early");
            vm.warp(block.timestamp + 1);
            _relayAll(HOME);
            vm.assertTrue(remoteMailbox.delivered(HOME, nonce), "delivered once refilled");
        }
        vm.assertEq(remoteToken.balanceOf(bob), first + second, "nothing lost");
    }

    function test_inbound_bounceConsumesNothing() public {
        _limitRemoteInbound(100, 1);
        vm.prank(agent);
        remoteToken.setAddressFrozen(bob, true);
        _send(100);
        _relayAll(HOME); // bounced: nothing minted, so nothing counted
        (uint256 available,,) = remoteBridge.rateLimit(token, HOME, true);
        vm.assertEq(available, 100, "the bucket is full");
    }

    // ------------------------------------------------------------------ a fallen committee

    /// A committee that signs anything can forge Transfers; each lane's inbound bucket caps
    /// what they mint (remote) or unlock (home).
    function test_forgedTransfers_cappedByInboundBucket() public {
        _send(50_000);
        _relayAll(HOME);
        vm.prank(owner);
        homeBridge.setRateLimit(token, REMOTE, true, 1_000, 1);
        _deliver(_forged(REMOTE, _transferBody(bob, bob, 1_000, _noRecord()))); // the capacity passes
        vm.assertEq(homeToken.balanceOf(bob), 100_000 + 1_000, "took the capacity");
        Delivery memory again = _forged(REMOTE, _transferBody(bob, bob, 1, _noRecord()));
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.RateLimited.selector, token, REMOTE, true, 1, 0, 1));
        _deliver(again);
        Delivery memory all = _forged(REMOTE, _transferBody(bob, bob, 49_000, _noRecord()));
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.AmountAboveCapacity.selector, token, REMOTE, 49_000, 1_000));
        _deliver(all);
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), 49_000, "escrow lost one bucket at most");
    }

    /// A forged Return releases from escrow (home) or re-mints (remote) just as a Transfer
    /// does: the same inbound bucket must cap it, or a fallen committee drains the escrow
    /// with Returns.
    function test_forgedReturns_cappedByInboundBucket() public {
        _send(50_000);
        _relayAll(HOME);
        vm.startPrank(owner);
        homeBridge.setRateLimit(token, REMOTE, true, 1_000, 1);
        remoteBridge.setRateLimit(token, HOME, true, 1_000, 1);
        vm.stopPrank();
        bytes32 madeUp = keccak256("no such transfer");
        Delivery memory all = _forged(REMOTE, _returnBody(bob, 50_000, madeUp, 5));
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.AmountAboveCapacity.selector, token, REMOTE, 50_000, 1_000));
        _deliver(all);
        _deliver(_forged(REMOTE, _returnBody(bob, 1_000, madeUp, 5)));
        Delivery memory again = _forged(REMOTE, _returnBody(bob, 1, madeUp, 5));
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.RateLimited.selector, token, REMOTE, true, 1, 0, 1));
        _deliver(again);
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), 49_000, "escrow lost one bucket at most");

        Delivery memory mint = _forged(HOME, _returnBody(bob, 1e9, madeUp, 5));
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.AmountAboveCapacity.selector, token, HOME, 1e9, 1_000));
        _deliver(mint);
        vm.assertEq(remoteToken.totalSupply(), 50_000, "nothing re-minted");
    }

    function test_honestReturn_waitsForInboundBucket_nothingLost() public {
        _limitHomeInbound(1_000, 10);
        _sendTo(carol, 1_000); // carol takes 1,000 out and brings it back: the home inbound
        _relayAll(HOME); //       bucket is empty
        _sendRemote(carol, carol, 1_000);
        _relayAll(REMOTE);
        vm.prank(agent);
        remoteToken.setAddressFrozen(bob, true);
        _sendTo(bob, 1_000);
        _relayAll(HOME); // bounced on remote
        uint32 ret = _last(REMOTE);
        _relayAll(REMOTE);
        vm.assertFalse(homeMailbox.delivered(REMOTE, ret), "the Return waits for the bucket");
        vm.warp(block.timestamp + 99);
        _relayAll(REMOTE);
        vm.assertFalse(homeMailbox.delivered(REMOTE, ret), "one second early");
        vm.warp(block.timestamp + 1);
        _relayAll(REMOTE);
        vm.assertTrue(homeMailbox.delivered(REMOTE, ret), "delivered");
        vm.assertEq(homeToken.balanceOf(alice), 100_000 - 1_000, "alice has the bounced 1,000 back");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), remoteToken.totalSupply(), "escrow = remote supply");
    }

    // ------------------------------------------------------------------ helpers

    function _send(uint256 amount) internal {
        _sendTo(bob, amount);
    }

    function _sendTo(address to, uint256 amount) internal {
        vm.prank(alice);
        homeBridge.send(token, REMOTE, to, amount);
    }

    function _limit(bool inbound, uint128 capacity, uint128 rate) internal {
        vm.prank(owner);
        homeBridge.setRateLimit(token, REMOTE, inbound, capacity, rate);
    }

    function _limitRemoteInbound(uint128 capacity, uint128 rate) internal {
        vm.prank(owner);
        remoteBridge.setRateLimit(token, HOME, true, capacity, rate);
    }

    function _limitHomeInbound(uint128 capacity, uint128 rate) internal {
        vm.prank(owner);
        homeBridge.setRateLimit(token, REMOTE, true, capacity, rate);
    }

    function _expectRateLimited(bool inbound, uint256 requested, uint256 available, uint256 wait) internal {
        vm.expectRevert(
            abi.encodeWithSelector(
                ITokenBridge.RateLimited.selector, token, REMOTE, inbound, requested, available, wait
            )
        );
    }

    function _assertAvailable(bool inbound, uint256 expected) internal view {
        (uint256 available,,) = homeBridge.rateLimit(token, REMOTE, inbound);
        vm.assertEq(available, expected, "available");
    }

    /// @dev A message the enrolled bridge of `origin` never sent, proven under a checkpoint
    /// the validators signed (they all fell).
    function _forged(uint32 origin, bytes memory body) internal returns (Delivery memory) {
        bool fromHome = origin == HOME;
        return relay.forge(
            origin,
            fromHome ? REMOTE : HOME,
            _b32(address(fromHome ? homeBridge : remoteBridge)),
            _b32(address(fromHome ? remoteBridge : homeBridge)),
            body
        );
    }

    function _deliver(Delivery memory d) internal {
        (d.checkpoint.origin == HOME ? remoteMailbox : homeMailbox)
        .process(d.checkpoint, d.signatures, d.messages[0], d.proof);
    }

    function _noRecord() internal pure returns (IdentityRecord memory none) {
        return none;
    }
}
