// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {SecurityToken} from "../src/SecurityToken.sol";
import {TokenBridge} from "../src/TokenBridge.sol";
import {IMailbox} from "../src/interfaces/IMailbox.sol";
import {ITokenBridge} from "../src/interfaces/ITokenBridge.sol";
import {Restriction} from "../src/interfaces/ISecurityToken.sol";
import {BridgeFixture} from "./utils/BridgeFixture.sol";

/// @notice Transfers the destination's token refuses are not minted or unlocked: they bounce
/// (a Return naming the transfer id goes back) and the Return gives the sender the amount
/// back — released from escrow on home, restoreMint on remote — whatever became of the sender.
contract TokenBridgeBounceTest is BridgeFixture {
    address internal dave = _named("dave");

    // ------------------------------------------------------------------ home -> remote

    function test_bounce_recipientNotVerifiedOnMirror() public {
        // A custodian on the home token (a timelock, say) may receive there, has no record,
        // and is nobody on the remote chain.
        address vault = _named("vault");
        vm.prank(owner);
        homeToken.setCustodian(vault, true);
        bytes32 id = _sendHome(alice, vault, 700);
        _bounceAndReturn(HOME, id, alice, vault, 700, Restriction.RECIPIENT_NOT_VERIFIED);
    }

    function test_bounce_recipientRevokedWhileInFlight() public {
        bytes32 id = _sendHome(alice, bob, 700);
        uint32 transfer = _last(HOME);
        vm.prank(agent);
        registry.revoke(bob);
        _process(HOME, _last(HOME)); // the revocation arrives first
        _bounceAndReturnAt(HOME, transfer, id, alice, bob, 700, Restriction.RECIPIENT_NOT_VERIFIED);
    }

    function test_bounce_recipientFrozenInRegistryWhileInFlight() public {
        bytes32 id = _sendHome(alice, bob, 700);
        uint32 transfer = _last(HOME);
        vm.prank(agent);
        registry.freeze(bob);
        _process(HOME, _last(HOME));
        _bounceAndReturnAt(HOME, transfer, id, alice, bob, 700, Restriction.RECIPIENT_FROZEN);
    }

    function test_bounce_recipientFrozenOnRemoteToken() public {
        vm.prank(agent);
        remoteToken.setAddressFrozen(bob, true);
        bytes32 id = _sendHome(alice, bob, 700);
        _bounceAndReturn(HOME, id, alice, bob, 700, Restriction.RECIPIENT_FROZEN);
    }

    function test_bounce_countryDeniedOnRemote() public {
        uint16[] memory denied = new uint16[](1);
        denied[0] = KP;
        vm.prank(agent);
        remoteToken.setCountriesDenied(denied, true);
        _onboard(dave, KP);
        _relayAll(HOME);
        vm.assertTrue(homeToken.canReceive(dave), "KP may hold on home");
        bytes32 id = _sendHome(alice, dave, 700);
        _bounceAndReturn(HOME, id, alice, dave, 700, Restriction.COUNTRY_NOT_ALLOWED);
    }

    function test_bounce_maxBalance_boundary() public {
        vm.prank(agent);
        remoteToken.setMaxBalance(1_000);
        _sendHome(alice, bob, 1_000); // exactly the maximum: received
        _relayAll(HOME);
        vm.assertEq(remoteToken.balanceOf(bob), 1_000, "at the maximum");
        bytes32 id = _sendHome(alice, bob, 1); // one more: bounced
        _bounceAndReturn(HOME, id, alice, bob, 1, Restriction.MAX_BALANCE_EXCEEDED);
        vm.assertEq(remoteToken.balanceOf(bob), 1_000, "unchanged");
    }

    function test_fuzz_bounce_maxBalance(uint256 amount, uint128 max) public {
        amount = _bound(amount, 1, 100_000);
        max = uint128(_bound(max, 1, 100_000));
        vm.prank(agent);
        remoteToken.setMaxBalance(max);
        _sendHome(alice, bob, amount);
        _relayAll(HOME); // received or bounced
        _relayAll(REMOTE); // the Return, if any
        bool fits = amount <= max;
        vm.assertEq(remoteToken.balanceOf(bob), fits ? amount : 0, "bob on remote");
        vm.assertEq(homeToken.balanceOf(alice), fits ? 100_000 - amount : 100_000, "alice on home");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), remoteToken.totalSupply(), "escrow = remote supply");
    }

    function test_bounce_maxHolders() public {
        _sendHome(alice, bob, 10);
        _relayAll(HOME);
        vm.prank(agent);
        remoteToken.setMaxHolders(1);
        bytes32 id = _sendHome(alice, carol, 10);
        _bounceAndReturn(HOME, id, alice, carol, 10, Restriction.MAX_HOLDERS_REACHED);
    }

    function test_bounce_remoteTokenPaused() public {
        vm.prank(agent);
        remoteToken.pause();
        bytes32 id = _sendHome(alice, bob, 10);
        _bounceAndReturn(HOME, id, alice, bob, 10, Restriction.PAUSED);
    }

    function test_bounce_tokenUnknownOnRemote() public {
        SecurityToken other = new SecurityToken("Other", "OTH", 0, registry, owner);
        vm.startPrank(owner);
        other.grantRole(other.AGENT_ROLE(), agent);
        other.setCustodian(address(homeBridge), true);
        homeBridge.registerToken(address(other), address(other)); // not on the remote bridge
        vm.stopPrank();
        vm.prank(agent);
        other.mint(alice, 50);
        vm.prank(alice);
        other.approve(address(homeBridge), 50);
        vm.prank(alice);
        bytes32 id = homeBridge.send(address(other), REMOTE, bob, 50);
        uint32 returnNonce = remoteMailbox.count();
        bytes memory body = abi.encode(uint8(2), address(other), alice, uint256(50), id, uint8(255));
        bytes32 returnId = _messageId(returnNonce, REMOTE, address(remoteBridge), HOME, address(homeBridge), body);
        relay.sync();
        vm.expectEmit(address(remoteBridge));
        emit ITokenBridge.Bounced(id, returnId, HOME, alice, 50, remoteBridge.REASON_UNKNOWN_TOKEN());
        relay.process(HOME, _last(HOME));
        _relayAll(REMOTE);
        vm.assertEq(other.balanceOf(alice), 50, "given back");
        vm.assertEq(other.balanceOf(address(homeBridge)), 0, "escrow empty");
    }

    function test_bounce_senderRevokedAndFrozenMeanwhile_stillGetsItBack() public {
        vm.prank(agent);
        remoteToken.setAddressFrozen(bob, true);
        _sendHome(alice, bob, 700);
        vm.startPrank(agent);
        registry.revoke(alice);
        registry.freeze(alice);
        vm.stopPrank();
        _relayAll(HOME); // the records, and the transfer: bounced
        vm.assertFalse(homeToken.canReceive(alice), "alice could not receive a transfer");
        _relayAll(REMOTE); // the Return: released all the same
        vm.assertEq(homeToken.balanceOf(alice), 100_000, "alice has it back");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), 0, "escrow empty");
    }

    // ------------------------------------------------------------------ remote -> home

    function test_bounce_towardsHome_recipientRevokedOnHome() public {
        _sendHome(alice, bob, 1_000);
        _relayAll(HOME);
        vm.prank(agent);
        registry.revoke(carol); // the mirror has not heard yet
        vm.assertTrue(remoteToken.canReceive(carol), "the mirror still says yes");
        bytes32 id = _sendRemote(bob, carol, 400);
        _bounceAndReturn(REMOTE, id, bob, carol, 400, Restriction.RECIPIENT_NOT_VERIFIED);
        vm.assertEq(remoteToken.balanceOf(bob), 1_000, "restored on remote");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), 1_000, "escrow untouched");
    }

    function test_bounce_towardsHome_senderRevokedMeanwhile_restoreMint() public {
        _sendHome(alice, bob, 1_000);
        _relayAll(HOME);
        vm.prank(agent);
        homeToken.setAddressFrozen(carol, true); // home refuses carol
        _sendRemote(bob, carol, 400);
        vm.prank(agent);
        registry.revoke(bob);
        _relayAll(HOME); // bob's revocation reaches the mirror
        vm.assertFalse(remoteToken.canReceive(bob), "bob could not receive a transfer");
        _relayAll(REMOTE); // bounced on home
        _relayAll(HOME); // the Return: restoreMint all the same
        vm.assertEq(remoteToken.balanceOf(bob), 1_000, "bob has it back");
        vm.assertEq(remoteToken.totalSupply(), 1_000, "remote supply restored");
        vm.assertEq(homeToken.balanceOf(carol), 0, "carol got nothing");
    }

    function test_return_waitsWhileTokenPaused_nothingLost() public {
        _sendHome(alice, bob, 1_000);
        _relayAll(HOME);
        vm.prank(agent);
        homeToken.setAddressFrozen(carol, true);
        _sendRemote(bob, carol, 400);
        _relayAll(REMOTE); // bounced
        uint32 returnNonce = _last(HOME);
        vm.prank(agent);
        remoteToken.pause();
        _relayAll(HOME); // restoreMint refused while paused: ProcessFailed
        vm.assertFalse(remoteMailbox.delivered(HOME, returnNonce), "the Return waits");
        vm.prank(agent);
        remoteToken.unpause();
        _relayAll(HOME);
        vm.assertTrue(remoteMailbox.delivered(HOME, returnNonce), "delivered");
        vm.assertEq(remoteToken.balanceOf(bob), 1_000, "bob has it back");
    }

    // ------------------------------------------------------------------ helpers

    /// @notice Delivers the transfer just sent from `origin`, expects it to bounce with
    /// `code`, then delivers the Return and expects `from` to have `amount` back.
    function _bounceAndReturn(uint32 origin, bytes32 id, address from, address to, uint256 amount, uint8 code)
        internal
    {
        _bounceAndReturnAt(origin, _last(origin), id, from, to, amount, code);
    }

    /// @dev The two sides of a transfer from `origin`.
    struct Sides {
        uint32 origin;
        uint32 there;
        TokenBridge hereBridge;
        TokenBridge thereBridge;
        SecurityToken hereToken;
        SecurityToken thereToken;
    }

    function _sides(uint32 origin) internal view returns (Sides memory s) {
        bool toRemote = origin == HOME;
        s = Sides({
            origin: origin,
            there: toRemote ? REMOTE : HOME,
            hereBridge: toRemote ? homeBridge : remoteBridge,
            thereBridge: toRemote ? remoteBridge : homeBridge,
            hereToken: toRemote ? homeToken : remoteToken,
            thereToken: toRemote ? remoteToken : homeToken
        });
    }

    function _bounceAndReturnAt(
        uint32 origin,
        uint32 transfer,
        bytes32 id,
        address from,
        address to,
        uint256 amount,
        uint8 code
    ) internal {
        Sides memory s = _sides(origin);
        uint256 fromBefore = s.hereToken.balanceOf(from);
        uint256 toBefore = s.thereToken.balanceOf(to);
        uint256 escrowBefore = homeToken.balanceOf(address(homeBridge));
        uint256 supplyBefore = remoteToken.totalSupply();
        uint32 returnNonce = _expectBounce(s, transfer, id, from, amount, code);
        vm.assertEq(s.thereToken.balanceOf(to), toBefore, "not minted or unlocked");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), escrowBefore, "escrow unchanged by the bounce");
        vm.assertEq(remoteToken.totalSupply(), supplyBefore, "remote supply unchanged by the bounce");

        relay.sync();
        vm.expectEmit(address(s.hereBridge));
        emit ITokenBridge.Returned(id, address(homeToken), from, amount, code);
        relay.process(s.there, returnNonce);
        vm.assertEq(s.hereToken.balanceOf(from), fromBefore + amount, "the sender has the amount back");
    }

    /// @dev Delivers the transfer, expecting Bounced and the Dispatch of the exact Return.
    function _expectBounce(Sides memory s, uint32 transfer, bytes32 id, address from, uint256 amount, uint8 code)
        internal
        returns (uint32 returnNonce)
    {
        returnNonce = relay.mailboxOf(s.there).count();
        bytes memory returnMessage = _returnMessage(returnNonce, s, from, amount, id, code);
        bytes32 returnId = keccak256(returnMessage);
        relay.sync();
        vm.expectEmit(address(relay.mailboxOf(s.there)));
        emit IMailbox.Dispatch(returnId, s.origin, returnNonce, returnMessage);
        vm.expectEmit(address(s.thereBridge));
        emit ITokenBridge.Bounced(id, returnId, s.origin, from, amount, code);
        relay.process(s.origin, transfer);
    }

    /// @dev The Return message the destination's bridge must dispatch, written out.
    function _returnMessage(uint32 nonce, Sides memory s, address from, uint256 amount, bytes32 id, uint8 code)
        internal
        view
        returns (bytes memory)
    {
        return abi.encodePacked(
            uint8(1),
            nonce,
            s.there,
            _b32(address(s.thereBridge)),
            s.origin,
            _b32(address(s.hereBridge)),
            _returnBody(from, amount, id, code)
        );
    }
}
