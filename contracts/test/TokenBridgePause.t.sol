// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IMailbox} from "../src/interfaces/IMailbox.sol";
import {ITokenBridge} from "../src/interfaces/ITokenBridge.sol";
import {BridgeFixture} from "./utils/BridgeFixture.sol";

/// @notice The guardian (or the owner) pauses a lane: sends to it are refused and its
/// deliveries fail and wait; only the owner resumes it, and then the waiting messages go
/// through. Nobody else can pause.
contract TokenBridgePauseTest is BridgeFixture {
    function test_guardianPauses_sendsRefused() public {
        vm.expectEmit(address(homeBridge));
        emit ITokenBridge.LanePaused(REMOTE, guardian);
        vm.prank(guardian);
        homeBridge.pauseLane(REMOTE);
        (, bool paused) = homeBridge.remote(REMOTE);
        vm.assertTrue(paused, "paused");
        uint32 count = homeMailbox.count();
        vm.prank(alice);
        homeToken.approve(address(homeBridge), 10);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.LaneIsPaused.selector, REMOTE));
        homeBridge.send(address(homeToken), REMOTE, bob, 10);
        vm.assertEq(homeMailbox.count(), count, "nothing dispatched");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), 0, "nothing locked");
    }

    function test_pausedLane_deliveriesFailAndWait_thenDelivered() public {
        _sendHome(alice, bob, 500);
        vm.prank(guardian);
        remoteBridge.pauseLane(HOME);
        relay.sync();
        uint32 nonce = _last(HOME);
        bytes memory reason = abi.encodeWithSelector(ITokenBridge.LaneIsPaused.selector, HOME);
        vm.expectRevert(reason);
        relay.process(HOME, nonce);
        vm.expectEmit(address(remoteMailbox));
        emit IMailbox.ProcessFailed(relay.idAt(HOME, nonce), HOME, nonce, reason);
        relay.processBatch(HOME, nonce, nonce);
        vm.assertFalse(remoteMailbox.delivered(HOME, nonce), "waits");
        vm.assertEq(remoteToken.totalSupply(), 0, "nothing minted");
        // Sends from the paused side towards home are refused too.
        vm.prank(bob);
        vm.expectRevert(reason);
        remoteBridge.send(address(remoteToken), HOME, alice, 1);

        vm.expectEmit(address(remoteBridge));
        emit ITokenBridge.LaneUnpaused(HOME);
        vm.prank(owner);
        remoteBridge.unpauseLane(HOME);
        _relayAll(HOME);
        vm.assertTrue(remoteMailbox.delivered(HOME, nonce), "delivered after unpausing");
        vm.assertEq(remoteToken.balanceOf(bob), 500, "received");
    }

    function test_pausedLane_returnsWaitToo() public {
        vm.prank(agent);
        remoteToken.setAddressFrozen(bob, true);
        _sendHome(alice, bob, 500);
        _relayAll(HOME); // bounced
        vm.prank(guardian);
        homeBridge.pauseLane(REMOTE);
        uint32 ret = _last(REMOTE);
        _relayAll(REMOTE);
        vm.assertFalse(homeMailbox.delivered(REMOTE, ret), "the Return waits");
        vm.assertEq(homeToken.balanceOf(alice), 100_000 - 500, "not yet given back");
        vm.prank(owner);
        homeBridge.unpauseLane(REMOTE);
        _relayAll(REMOTE);
        vm.assertEq(homeToken.balanceOf(alice), 100_000, "given back after unpausing");
    }

    function test_onlyOwnerUnpauses() public {
        vm.prank(guardian);
        homeBridge.pauseLane(REMOTE);
        vm.prank(guardian);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, guardian));
        homeBridge.unpauseLane(REMOTE);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        homeBridge.unpauseLane(REMOTE);
        (, bool paused) = homeBridge.remote(REMOTE);
        vm.assertTrue(paused, "still paused");
        vm.prank(owner);
        homeBridge.unpauseLane(REMOTE);
        (, paused) = homeBridge.remote(REMOTE);
        vm.assertFalse(paused, "resumed by the owner");
    }

    function test_strangerCannotPause_ownerCan() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.NotGuardian.selector, stranger));
        homeBridge.pauseLane(REMOTE);
        // the guardian of another chain's bridge is nobody here
        vm.prank(owner);
        remoteBridge.setGuardian(stranger);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.NotGuardian.selector, stranger));
        homeBridge.pauseLane(REMOTE);
        (, bool paused) = homeBridge.remote(REMOTE);
        vm.assertFalse(paused, "not paused");
        vm.prank(owner);
        homeBridge.pauseLane(REMOTE);
        (, paused) = homeBridge.remote(REMOTE);
        vm.assertTrue(paused, "the owner may pause");
    }

    function test_replacedGuardian_cannotPause() public {
        vm.prank(owner);
        homeBridge.setGuardian(carol);
        vm.prank(guardian);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.NotGuardian.selector, guardian));
        homeBridge.pauseLane(REMOTE);
        vm.prank(carol);
        homeBridge.pauseLane(REMOTE);
    }

    /// Pausing one lane leaves the other direction's bridge alone: the remote bridge still
    /// accepts from home while the home bridge refuses to send.
    function test_pauseIsPerBridgeAndLane() public {
        _sendHome(alice, bob, 100);
        vm.prank(guardian);
        homeBridge.pauseLane(REMOTE);
        _relayAll(HOME);
        vm.assertEq(remoteToken.balanceOf(bob), 100, "delivered: the remote bridge is not paused");
    }
}
