// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IdentityRecords} from "../src/IdentityRecords.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ITokenBridge} from "../src/interfaces/ITokenBridge.sol";
import {IIdentityRegistry, IdentityRecord} from "../src/interfaces/IIdentityRegistry.sol";
import {MirrorIdentityRegistry} from "../src/MirrorIdentityRegistry.sol";
import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {Vm} from "./utils/Vm.sol";

/// @notice Transfers that arrive: lock on home and mint on remote, burn on remote and unlock
/// on home, through the real mailboxes; exact amounts, balances, events and message bytes;
/// the identity record a transfer carries, and that an older one never wins.
contract TokenBridgeTransferTest is BridgeFixture {
    address internal dave = _named("dave");

    function test_lockOnHome_mintOnRemote() public {
        uint32 nonce = homeMailbox.count();
        bytes memory body = _transferBody(alice, bob, 1_250, registry.recordOf(bob));
        bytes32 expectedId = _messageId(nonce, HOME, address(homeBridge), REMOTE, address(remoteBridge), body);

        vm.prank(alice);
        homeToken.approve(address(homeBridge), 1_250);
        vm.expectEmit(address(homeBridge));
        emit ITokenBridge.TransferSent(expectedId, address(homeToken), REMOTE, alice, bob, 1_250);
        vm.prank(alice);
        bytes32 id = homeBridge.send(address(homeToken), REMOTE, bob, 1_250);
        vm.assertEq(id, expectedId, "the id of the protocol's Transfer message");
        relay.sync();
        vm.assertEq(
            relay.message(HOME, nonce),
            abi.encodePacked(
                uint8(1), nonce, HOME, _b32(address(homeBridge)), REMOTE, _b32(address(remoteBridge)), body
            ),
            "message bytes"
        );
        vm.assertEq(homeToken.balanceOf(alice), 100_000 - 1_250, "alice paid");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), 1_250, "escrow");
        vm.assertEq(homeToken.totalSupply(), 200_000, "home supply unchanged by a lock");
        (uint256 outbound,,) = homeBridge.rateLimit(address(homeToken), REMOTE, false);
        vm.assertEq(outbound, CAPACITY - 1_250, "outbound bucket");

        vm.expectEmit(address(remoteToken));
        emit IERC20.Transfer(address(0), bob, 1_250);
        vm.expectEmit(address(remoteBridge));
        emit ITokenBridge.TransferReceived(id, address(homeToken), HOME, bob, 1_250);
        relay.process(HOME, nonce);
        vm.assertEq(remoteToken.balanceOf(bob), 1_250, "minted to bob");
        vm.assertEq(remoteToken.totalSupply(), 1_250, "remote supply");
        vm.assertEq(remoteToken.holderCount(), 1, "one holder on the remote");
        (uint256 inbound,,) = remoteBridge.rateLimit(address(homeToken), HOME, true);
        vm.assertEq(inbound, CAPACITY - 1_250, "inbound bucket");
        vm.assertTrue(remoteMailbox.delivered(HOME, nonce), "delivered");
    }

    function test_burnOnRemote_unlockOnHome() public {
        _sendHome(alice, bob, 1_000);
        _relayAll(HOME);
        uint32 nonce = remoteMailbox.count();
        IdentityRecord memory none;
        bytes memory body = _transferBody(bob, carol, 400, none); // towards home: a zero record
        bytes32 expectedId = _messageId(nonce, REMOTE, address(remoteBridge), HOME, address(homeBridge), body);

        vm.expectEmit(address(remoteToken));
        emit IERC20.Transfer(bob, address(0), 400);
        vm.expectEmit(address(remoteBridge));
        emit ITokenBridge.TransferSent(expectedId, address(homeToken), HOME, bob, carol, 400);
        bytes32 id = _sendRemote(bob, carol, 400);
        vm.assertEq(id, expectedId, "id");
        vm.assertEq(remoteToken.balanceOf(bob), 600, "burned from bob");
        vm.assertEq(remoteToken.totalSupply(), 600, "remote supply");

        relay.sync();
        vm.expectEmit(address(homeToken));
        emit IERC20.Transfer(address(homeBridge), carol, 400);
        vm.expectEmit(address(homeBridge));
        emit ITokenBridge.TransferReceived(id, address(homeToken), REMOTE, carol, 400);
        relay.process(REMOTE, nonce);
        vm.assertEq(homeToken.balanceOf(carol), 400, "unlocked to carol");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), 600, "escrow = remote supply");
        vm.assertEq(homeToken.totalSupply(), 200_000, "home supply constant");
    }

    function test_fuzz_roundTrip(uint256 out, uint256 back) public {
        out = _bound(out, 1, 100_000);
        back = _bound(back, 1, out);
        _sendHome(alice, bob, out);
        _relayAll(HOME);
        _sendRemote(bob, alice, back);
        _relayAll(REMOTE);
        vm.assertEq(homeToken.balanceOf(alice), 100_000 - out + back, "alice on home");
        vm.assertEq(remoteToken.balanceOf(bob), out - back, "bob on remote");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), remoteToken.totalSupply(), "escrow = remote supply");
        vm.assertEq(homeToken.totalSupply(), 200_000, "home supply constant");
    }

    function test_batchOfTransfers_bothWays() public {
        _sendHome(alice, bob, 10);
        _sendHome(alice, carol, 20);
        _sendHome(bob, alice, 30);
        _relayAll(HOME); // one processBatch
        vm.assertEq(remoteToken.balanceOf(bob), 10, "bob");
        vm.assertEq(remoteToken.balanceOf(carol), 20, "carol");
        vm.assertEq(remoteToken.balanceOf(alice), 30, "alice");
        _sendRemote(carol, bob, 5);
        _sendRemote(alice, alice, 30);
        _relayAll(REMOTE);
        vm.assertEq(homeToken.balanceOf(bob), 100_000 - 30 + 5, "bob home");
        vm.assertEq(homeToken.balanceOf(alice), 100_000 - 30 + 30, "alice home");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), 25, "escrow");
        vm.assertEq(remoteToken.totalSupply(), 25, "remote supply");
    }

    // ------------------------------------------------------------------ carried records

    function test_carriedRecordLandsInMirror() public {
        _onboard(dave, FR); // its RecordUpdate stays undelivered
        uint32 update = _last(HOME);
        vm.assertEq(mirror.recordOf(dave).version, 0, "the mirror does not know dave");
        _sendHome(alice, dave, 500);
        IdentityRecord memory home = registry.recordOf(dave);
        relay.sync();
        vm.expectEmit(address(mirror));
        emit IIdentityRegistry.RecordUpdated(dave, home.investorId, FR, home.expiresAt, 0, 1);
        relay.process(HOME, _last(HOME));
        vm.assertTrue(_sameRecord(mirror.recordOf(dave), home), "the carried record is the mirror's");
        vm.assertEq(remoteToken.balanceOf(dave), 500, "minted");
        // The RecordUpdate arriving late holds the same version: ignored silently, and delivered.
        relay.sync();
        relay.process(HOME, update);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            vm.assertNotEq(uint256(uint160(logs[i].emitter)), uint256(uint160(address(mirror))), "the mirror is silent");
        }
        vm.assertTrue(remoteMailbox.delivered(HOME, update), "delivered");
        vm.assertTrue(_sameRecord(mirror.recordOf(dave), home), "unchanged");
    }

    function test_olderCarriedRecordNeverOverwritesNewer() public {
        _onboard(dave, DE); // v1
        _relayAll(HOME);
        _sendHome(alice, dave, 500); // carries v1
        uint32 transfer = _last(HOME);
        vm.prank(agent);
        registry.setRecord(dave, keccak256("dave, renewed"), FR, expiry + 30 days, 0); // v2
        _process(HOME, _last(HOME)); // the update overtakes the transfer
        IdentityRecord memory v2 = registry.recordOf(dave);
        vm.assertEq(v2.version, 2, "v2");

        relay.sync();
        vm.expectEmit(address(mirror));
        emit IdentityRecords.RecordIgnored(dave, 1, 2);
        relay.process(HOME, transfer);
        vm.assertTrue(_sameRecord(mirror.recordOf(dave), v2), "the mirror keeps v2");
        vm.assertEq(remoteToken.balanceOf(dave), 500, "still received: v2 is valid");
    }

    function test_towardsHome_noRecordIsCarried() public {
        _sendHome(alice, bob, 100);
        _relayAll(HOME);
        _sendRemote(bob, carol, 100);
        relay.sync();
        bytes memory m = relay.message(REMOTE, _last(REMOTE));
        IdentityRecord memory none;
        vm.assertEq(_slice(m, 77), _transferBody(bob, carol, 100, none), "zero record towards home");
        IdentityRecord memory before = registry.recordOf(carol);
        _relayAll(REMOTE);
        vm.assertTrue(_sameRecord(registry.recordOf(carol), before), "the home registry is untouched");
    }

    function _slice(bytes memory data, uint256 from) internal pure returns (bytes memory out) {
        out = new bytes(data.length - from);
        for (uint256 i; i < out.length; ++i) {
            out[i] = data[from + i];
        }
    }
}
