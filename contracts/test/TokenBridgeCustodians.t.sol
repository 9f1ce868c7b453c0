// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {HashedTimelock} from "../src/HashedTimelock.sol";
import {TokenBridge} from "../src/TokenBridge.sol";
import {IMailbox} from "../src/interfaces/IMailbox.sol";
import {ITokenBridge} from "../src/interfaces/ITokenBridge.sol";
import {BridgeFixture} from "./utils/BridgeFixture.sol";

/// @notice A transfer never lands in a custodian contract (a timelock, a bridge's escrow, a
/// mailbox, a registry), where it would sit outside the contract's books until a forced
/// transfer. Each bridge holds, per domain, the custodians the owner listed (relayer/deploy.py
/// lists every chain's timelock, bridge, mailbox and registry): `send` refuses them for the
/// destination (and the enrolled remote bridge always), and a transfer that still arrives for
/// one of this chain's custodians (a sender whose list is stale, a crafted message) bounces
/// back to its sender, so nothing is ever stuck.
contract TokenBridgeCustodiansTest is BridgeFixture {
    HashedTimelock internal homeTimelock;
    HashedTimelock internal remoteTimelock;

    function setUp() public override {
        super.setUp();
        vm.chainId(HOME);
        homeTimelock = new HashedTimelock(owner);
        vm.chainId(REMOTE);
        remoteTimelock = new HashedTimelock(owner);
        vm.chainId(HOME);
        address[4] memory home = _homeCustodians();
        address[4] memory remote = _remoteCustodians();
        vm.startPrank(owner);
        // As deploy.py: each token admits its chain's timelock. On a devnet the timelock has
        // the same address on every chain (one deployer, same nonce), so the sending side's
        // token admits the destination's timelock too: the case reported in issue 12.
        homeToken.setCustodian(address(homeTimelock), true);
        remoteToken.setCustodian(address(remoteTimelock), true);
        homeToken.setCustodian(address(remoteTimelock), true);
        remoteToken.setCustodian(address(homeTimelock), true);
        for (uint256 i; i < 4; ++i) {
            homeBridge.setCustodian(HOME, home[i], true);
            homeBridge.setCustodian(REMOTE, remote[i], true);
            remoteBridge.setCustodian(REMOTE, remote[i], true);
            remoteBridge.setCustodian(HOME, home[i], true);
        }
        vm.stopPrank();
        // bob holds 10,000 on the remote chain, to send home
        _sendHome(bob, bob, 10_000);
        _relayAll(HOME);
    }

    // ------------------------------------------------------------------ send refuses

    function test_send_homeToRemote_refusesEveryCustodianKind() public {
        address[4] memory remote = _remoteCustodians();
        vm.prank(alice);
        homeToken.approve(address(homeBridge), type(uint256).max);
        uint32 dispatched = homeMailbox.count();
        for (uint256 i; i < 4; ++i) {
            vm.prank(alice);
            vm.expectRevert(abi.encodeWithSelector(ITokenBridge.CustodianRecipient.selector, REMOTE, remote[i]));
            homeBridge.send(address(homeToken), REMOTE, remote[i], 1e3);
        }
        vm.assertEq(homeMailbox.count(), dispatched, "nothing dispatched");
        vm.assertEq(homeToken.balanceOf(alice), 100_000, "alice keeps her tokens");
    }

    function test_send_remoteToHome_refusesEveryCustodianKind() public {
        address[4] memory home = _homeCustodians();
        uint32 dispatched = remoteMailbox.count();
        for (uint256 i; i < 4; ++i) {
            vm.prank(bob);
            vm.expectRevert(abi.encodeWithSelector(ITokenBridge.CustodianRecipient.selector, HOME, home[i]));
            remoteBridge.send(address(remoteToken), HOME, home[i], 1e3);
        }
        vm.assertEq(remoteMailbox.count(), dispatched, "nothing dispatched");
        vm.assertEq(remoteToken.balanceOf(bob), 10_000, "bob keeps his tokens");
    }

    /// The enrolled remote bridge is refused even when nobody listed it.
    function test_send_refusesEnrolledRemoteBridge_unlisted() public {
        vm.prank(owner);
        homeBridge.setCustodian(REMOTE, address(remoteBridge), false);
        vm.assertTrue(homeBridge.isCustodian(REMOTE, address(remoteBridge)), "still a custodian");
        vm.prank(alice);
        homeToken.approve(address(homeBridge), 1e3);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(ITokenBridge.CustodianRecipient.selector, REMOTE, address(remoteBridge))
        );
        homeBridge.send(address(homeToken), REMOTE, address(remoteBridge), 1e3);
    }

    /// A custodian of one domain is an ordinary address on another: the list is per domain.
    function test_custodianList_isPerDomain() public {
        address vault = _named("vault");
        vm.prank(owner);
        homeBridge.setCustodian(REMOTE, vault, true);
        vm.assertTrue(homeBridge.isCustodian(REMOTE, vault), "on remote");
        vm.assertFalse(homeBridge.isCustodian(HOME, vault), "not on home");
        vm.assertFalse(remoteBridge.isCustodian(REMOTE, vault), "the remote bridge has its own list");
        vm.assertTrue(homeBridge.isCustodian(HOME, address(homeBridge)), "itself, unlisted");
        vm.assertTrue(remoteBridge.isCustodian(REMOTE, address(remoteMailbox)), "its mailbox, unlisted");
        vm.assertFalse(homeBridge.isCustodian(REMOTE, address(0)), "zero is no custodian");
    }

    /// An address that shares a listed custodian's filter bit is not refused: the list decides.
    function test_filterCollision_isNoCustodian() public {
        address twin = address(uint160(address(remoteTimelock)) ^ (uint160(1) << 100)); // same low bits
        vm.assertTrue(homeBridge.isCustodian(REMOTE, address(remoteTimelock)), "the timelock is");
        vm.assertFalse(homeBridge.isCustodian(REMOTE, twin), "its twin is not");
        vm.assertFalse(remoteBridge.isCustodian(REMOTE, twin), "not on the destination either");
        _onboard(twin, DE);
        _relayAll(HOME);
        _sendHome(alice, twin, 250);
        _relayAll(HOME);
        vm.assertEq(remoteToken.balanceOf(twin), 250, "delivered");
    }

    // ------------------------------------------------------------------ handle bounces

    /// The sender's list does not name the remote timelock (stale): the transfer is sent, and
    /// the destination bounces it; alice has it back, nothing reached the timelock.
    function test_handle_staleSenderList_bouncesToTimelock() public {
        vm.prank(owner);
        homeBridge.setCustodian(REMOTE, address(remoteTimelock), false);
        bytes32 id = _sendHome(alice, address(remoteTimelock), 700);
        _expectCustodianBounce(HOME, _last(HOME), id, alice, 700);
        vm.assertEq(remoteToken.balanceOf(address(remoteTimelock)), 0, "nothing in the timelock");
        _relayAll(REMOTE); // the Return
        vm.assertEq(homeToken.balanceOf(alice), 100_000, "alice has it back");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), remoteToken.totalSupply(), "escrow = remote supply");
    }

    /// Remote to home: the home timelock, unlisted on the remote bridge, bounces on home and the
    /// Return re-mints to bob.
    function test_handle_staleSenderList_towardsHome_bounces() public {
        vm.prank(owner);
        remoteBridge.setCustodian(HOME, address(homeTimelock), false);
        bytes32 id = _sendRemote(bob, address(homeTimelock), 400);
        _expectCustodianBounce(REMOTE, _last(REMOTE), id, bob, 400);
        vm.assertEq(homeToken.balanceOf(address(homeTimelock)), 0, "nothing in the timelock");
        _relayAll(HOME);
        vm.assertEq(remoteToken.balanceOf(bob), 10_000, "bob has it back");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), remoteToken.totalSupply(), "escrow = remote supply");
    }

    /// A message crafted by the home bridge itself (no `send`: escrow filled by hand) to the
    /// remote mailbox, which no list names: the destination refuses it all the same.
    function test_handle_craftedTransferToMailbox_bounces() public {
        vm.prank(alice);
        homeToken.transfer(address(homeBridge), 500); // the lock, by hand
        bytes memory body = _transferBody(alice, address(remoteMailbox), 500, registry.recordOf(alice));
        vm.prank(address(homeBridge));
        bytes32 id = homeMailbox.dispatch(REMOTE, _b32(address(remoteBridge)), body);
        (uint256 inboundBefore,,) = remoteBridge.rateLimit(address(homeToken), HOME, true);
        _expectCustodianBounce(HOME, _last(HOME), id, alice, 500);
        (uint256 inboundAfter,,) = remoteBridge.rateLimit(address(homeToken), HOME, true);
        vm.assertEq(inboundAfter, inboundBefore, "a bounce draws nothing");
        vm.assertEq(remoteToken.balanceOf(address(remoteMailbox)), 0, "nothing in the mailbox");
        _relayAll(REMOTE);
        vm.assertEq(homeToken.balanceOf(alice), 100_000, "alice has it back");
    }

    /// Every kind on the destination's own list bounces, even when the sender's list is empty.
    function test_handle_everyLocalCustodianKind_bounces() public {
        address[4] memory remote = _remoteCustodians();
        vm.startPrank(owner);
        for (uint256 i; i < 4; ++i) {
            homeBridge.setCustodian(REMOTE, remote[i], false);
        }
        vm.stopPrank();
        _onboard(address(remoteMailbox), DE); // so that the token's rules would admit them
        _onboard(address(mirror), DE);
        _relayAll(HOME);
        for (uint256 i; i < 4; ++i) {
            if (remote[i] == address(remoteBridge)) continue; // refused by send, always
            bytes32 id = _sendHome(alice, remote[i], 100 + i);
            _expectCustodianBounce(HOME, _last(HOME), id, alice, 100 + i);
            vm.assertEq(remoteToken.balanceOf(remote[i]), 0, "nothing delivered");
        }
        _relayAll(REMOTE);
        vm.assertEq(homeToken.balanceOf(alice), 100_000, "every transfer came back");
    }

    // ------------------------------------------------------------------ administration

    function test_setCustodian_ownerOnly() public {
        address vault = _named("vault");
        address[3] memory callers = [stranger, guardian, agent];
        for (uint256 i; i < callers.length; ++i) {
            vm.prank(callers[i]);
            vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, callers[i]));
            homeBridge.setCustodian(REMOTE, vault, true);
        }
        vm.assertFalse(homeBridge.isCustodian(REMOTE, vault), "unchanged");
        // nor through a message: only the owner's call reaches it
        vm.expectEmit(address(homeBridge));
        emit ITokenBridge.CustodianSet(REMOTE, vault, true);
        vm.prank(owner);
        homeBridge.setCustodian(REMOTE, vault, true);
        vm.assertTrue(homeBridge.isCustodian(REMOTE, vault), "listed");
        vm.expectEmit(address(homeBridge));
        emit ITokenBridge.CustodianSet(REMOTE, vault, false);
        vm.prank(owner);
        homeBridge.setCustodian(REMOTE, vault, false);
        vm.assertFalse(homeBridge.isCustodian(REMOTE, vault), "unlisted");
        vm.prank(owner);
        vm.expectRevert(ITokenBridge.ZeroAddress.selector);
        homeBridge.setCustodian(REMOTE, address(0), true);
    }

    // ------------------------------------------------------------------ fuzz

    /// Any recipient: refused by `send` exactly when it is a custodian of the destination (the
    /// fuzzer's dictionary holds the deployed contracts' addresses), otherwise delivered.
    function test_fuzz_send_refusedExactlyForCustodians(address recipient, bool mark) public {
        vm.assume(recipient != address(0) && recipient.code.length == 0 || _isRemoteCustodian(recipient));
        if (mark) {
            vm.prank(owner);
            homeBridge.setCustodian(REMOTE, recipient, true);
        }
        if (registry.recordOf(recipient).version == 0) {
            _onboard(recipient, DE);
            _relayAll(HOME);
        }
        bool refused = mark || _isRemoteCustodian(recipient);
        vm.assertEq(homeBridge.isCustodian(REMOTE, recipient), refused, "isCustodian");
        vm.prank(alice);
        homeToken.approve(address(homeBridge), 1e3);
        uint256 before = remoteToken.balanceOf(recipient);
        if (refused) {
            vm.expectRevert(abi.encodeWithSelector(ITokenBridge.CustodianRecipient.selector, REMOTE, recipient));
        }
        vm.prank(alice);
        homeBridge.send(address(homeToken), REMOTE, recipient, 1e3);
        if (refused) return;
        _relayAll(HOME);
        vm.assertEq(remoteToken.balanceOf(recipient), before + 1e3, "delivered");
    }

    /// Any recipient the destination lists bounces there, whatever the sender's list says.
    function test_fuzz_handle_bouncesLocalCustodians(address recipient) public {
        vm.assume(recipient != address(0) && recipient.code.length == 0);
        vm.assume(!_isRemoteCustodian(recipient));
        vm.prank(owner);
        remoteBridge.setCustodian(REMOTE, recipient, true);
        _onboard(recipient, DE);
        _relayAll(HOME);
        bytes32 id = _sendHome(alice, recipient, 300);
        _expectCustodianBounce(HOME, _last(HOME), id, alice, 300);
        vm.assertEq(remoteToken.balanceOf(recipient), 0, "nothing delivered");
        _relayAll(REMOTE);
        vm.assertEq(homeToken.balanceOf(alice), 100_000, "alice has it back");
    }

    // ------------------------------------------------------------------ helpers

    /// @dev What deploy.py lists for each chain: its timelock, bridge, mailbox and registry.
    function _homeCustodians() internal view returns (address[4] memory) {
        return [address(homeTimelock), address(homeBridge), address(homeMailbox), address(registry)];
    }

    function _remoteCustodians() internal view returns (address[4] memory) {
        return [address(remoteTimelock), address(remoteBridge), address(remoteMailbox), address(mirror)];
    }

    function _isRemoteCustodian(address a) internal view returns (bool) {
        address[4] memory remote = _remoteCustodians();
        for (uint256 i; i < 4; ++i) {
            if (a == remote[i]) return true;
        }
        return false;
    }

    /// @dev Delivers transfer `nonce` of `origin`, expecting it to bounce as a custodian
    /// recipient (reason REASON_CUSTODIAN) and nothing to be minted or unlocked.
    function _expectCustodianBounce(uint32 origin, uint32 nonce, bytes32 id, address from, uint256 amount) internal {
        bool toRemote = origin == HOME;
        TokenBridge there = toRemote ? remoteBridge : homeBridge;
        IMailbox thereMailbox = relay.mailboxOf(toRemote ? REMOTE : HOME);
        uint32 returnNonce = thereMailbox.count();
        bytes memory returnBody = _returnBody(from, amount, id, there.REASON_CUSTODIAN());
        bytes32 returnId = _messageId(
            returnNonce,
            toRemote ? REMOTE : HOME,
            address(there),
            origin,
            address(toRemote ? homeBridge : remoteBridge),
            returnBody
        );
        relay.sync();
        vm.expectEmit(address(there));
        emit ITokenBridge.Bounced(id, returnId, origin, from, amount, there.REASON_CUSTODIAN());
        relay.process(origin, nonce);
        relay.sync();
    }
}
