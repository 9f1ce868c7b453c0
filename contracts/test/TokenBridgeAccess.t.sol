// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Mailbox} from "../src/Mailbox.sol";
import {MirrorIdentityRegistry} from "../src/MirrorIdentityRegistry.sol";
import {TokenBridge} from "../src/TokenBridge.sol";
import {IMailbox} from "../src/interfaces/IMailbox.sol";
import {IMessageRecipient} from "../src/interfaces/IMessageRecipient.sol";
import {ITokenBridge} from "../src/interfaces/ITokenBridge.sol";
import {IdentityRecord} from "../src/interfaces/IIdentityRegistry.sol";
import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {AttackerApp} from "./utils/BridgeDoubles.sol";
import {Delivery} from "./utils/Relay.sol";

/// @notice `handle` accepts a call only from its mailbox, and a message only from the bridge
/// enrolled for the message's origin; a message that fails this stays undelivered. And the
/// bridge's admin functions are the owner's: no message reaches them.
contract TokenBridgeAccessTest is BridgeFixture {
    uint32 internal constant OTHER = 8453;

    address internal attacker = _named("attacker");
    AttackerApp internal app;
    uint256 internal escrowExpected = 1_000;
    uint256 internal supplyExpected = 1_000;

    function setUp() public override {
        super.setUp();
        app = new AttackerApp();
        _sendHome(alice, bob, 1_000);
        _relayAll(HOME); // escrow 1,000; bob holds 1,000 on remote
    }

    // ------------------------------------------------------------------ callers

    function test_handle_directCall_refused() public {
        bytes memory mint = _transferBody(attacker, attacker, 1e9, _validRecord(attacker));
        vm.prank(attacker);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.NotMailbox.selector, attacker));
        remoteBridge.handle(HOME, _b32(address(homeBridge)), mint);
        // not even the enrolled bridge may call it directly
        vm.prank(address(homeBridge));
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.NotMailbox.selector, address(homeBridge)));
        remoteBridge.handle(HOME, _b32(address(homeBridge)), mint);
        // nor another chain's mailbox
        vm.prank(address(homeMailbox));
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.NotMailbox.selector, address(homeMailbox)));
        remoteBridge.handle(HOME, _b32(address(homeBridge)), mint);
        bytes memory release = _returnBody(attacker, 1_000, bytes32(0), 5);
        vm.prank(attacker);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.NotMailbox.selector, attacker));
        homeBridge.handle(REMOTE, _b32(address(remoteBridge)), release);
        _assertUntouched();
    }

    function test_fuzz_handle_onlyFromMailbox(address caller, uint32 origin, bytes32 sender, bytes calldata body)
        public
    {
        vm.assume(caller != address(remoteMailbox));
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(ITokenBridge.NotMailbox.selector, caller));
        remoteBridge.handle(origin, sender, body);
    }

    // ------------------------------------------------------------------ senders, through the real mailbox

    function test_unenrolledAppOnOrigin_transfer_failsAndStaysUndelivered() public {
        bytes memory mint = _transferBody(attacker, attacker, 1e9, _validRecord(attacker));
        app.dispatch(homeMailbox, REMOTE, address(remoteBridge), mint);
        _expectRefusedThroughMailbox(
            HOME, abi.encodeWithSelector(ITokenBridge.UnknownSender.selector, HOME, _b32(address(app)))
        );
        vm.assertEq(mirror.recordOf(attacker).version, 0, "the carried record was not applied");
    }

    function test_unenrolledAppOnRemote_return_failsAndStaysUndelivered() public {
        bytes memory release = _returnBody(attacker, 1_000, keccak256("made up"), 5);
        app.dispatch(remoteMailbox, HOME, address(homeBridge), release);
        _expectRefusedThroughMailbox(
            REMOTE, abi.encodeWithSelector(ITokenBridge.UnknownSender.selector, REMOTE, _b32(address(app)))
        );
    }

    /// The enrolled bridge's address, but dispatched on another chain (the same deployer and
    /// nonce give the same address everywhere): the lane is (origin, sender), not the sender.
    function test_enrolledBridgeAddress_fromAnotherDomain_refused() public {
        vm.chainId(OTHER);
        Mailbox otherMailbox = new Mailbox(owner);
        vm.chainId(HOME);
        relay.addChain(otherMailbox);
        address[] memory set = new address[](validatorKeys.length);
        for (uint256 i; i < set.length; ++i) {
            set[i] = vm.addr(validatorKeys[i]);
        }
        vm.prank(owner);
        remoteMailbox.setOrigin(OTHER, _b32(address(otherMailbox)), set, 3);
        bytes memory mint = _transferBody(attacker, attacker, 1e9, _validRecord(attacker));
        vm.prank(address(homeBridge)); // same address, other chain
        otherMailbox.dispatch(REMOTE, _b32(address(remoteBridge)), mint);
        _expectRefusedThroughMailbox(
            OTHER, abi.encodeWithSelector(ITokenBridge.UnknownSender.selector, OTHER, _b32(address(homeBridge)))
        );
    }

    /// A lane removed by the owner: its messages wait (undelivered), and go through once the
    /// bridge is enrolled again.
    function test_unenrolledLane_deliveriesWait() public {
        _sendHome(alice, bob, 10);
        escrowExpected = 1_010; // locked, not delivered
        vm.prank(owner);
        remoteBridge.enrollRemote(HOME, address(0));
        _expectRefusedThroughMailbox(
            HOME, abi.encodeWithSelector(ITokenBridge.UnknownSender.selector, HOME, _b32(address(homeBridge)))
        );
        vm.prank(owner);
        remoteBridge.enrollRemote(HOME, address(homeBridge));
        _relayAll(HOME);
        vm.assertEq(remoteToken.balanceOf(bob), 1_010, "delivered after re-enrolling");
    }

    // ------------------------------------------------------------------ Poly Network

    /// A fallen committee proves a message "from the enrolled bridge" whose body is a call to
    /// an admin function. The mailbox calls `handle` and nothing else; `handle` decodes only
    /// Transfer and Return bodies and refuses the rest by kind.
    function test_polyNetwork_adminCallsAsBodies_neverReachAdmin() public {
        address[] memory rogue = new address[](1);
        rogue[0] = attacker;
        bytes[] memory bodies = new bytes[](10);
        bodies[0] = abi.encodeCall(TokenBridge.enrollRemote, (HOME, attacker));
        bodies[1] = abi.encodeCall(TokenBridge.registerToken, (address(homeToken), attacker));
        bodies[2] = abi.encodeCall(TokenBridge.setRateLimit, (address(homeToken), HOME, true, 0, 0));
        bodies[3] = abi.encodeCall(TokenBridge.setGuardian, (attacker));
        bodies[4] = abi.encodeCall(Ownable.transferOwnership, (attacker));
        bodies[5] = abi.encodeCall(TokenBridge.unpauseLane, (HOME));
        bodies[6] = abi.encodeCall(Ownable.renounceOwnership, ());
        bodies[7] = abi.encodeCall(IMessageRecipient.handle, (HOME, _b32(address(homeBridge)), bytes("")));
        bodies[8] = abi.encode(uint8(3), attacker, _validRecord(attacker)); // a RecordUpdate
        bodies[9] = abi.encode(uint8(0), address(homeToken), attacker, attacker, uint256(1e9), _validRecord(attacker));
        for (uint256 i; i < bodies.length; ++i) {
            bytes memory reason = bodies[i].length < 32  // renounceOwnership(): a bare selector
                ? abi.encodeWithSelector(ITokenBridge.MalformedBody.selector, bodies[i].length)
                : abi.encodeWithSelector(ITokenBridge.UnknownKind.selector, _kind(bodies[i]));
            _expectForgedRefused(bodies[i], reason);
        }
        _assertUntouched();
    }

    function test_polyNetwork_mailboxCallsOnlyHandle() public {
        bytes memory body = abi.encodeCall(TokenBridge.enrollRemote, (HOME, attacker));
        Delivery memory d = relay.forge(HOME, REMOTE, _b32(address(homeBridge)), _b32(address(remoteBridge)), body);
        vm.expectCall(
            address(remoteBridge), abi.encodeCall(IMessageRecipient.handle, (HOME, _b32(address(homeBridge)), body)), 1
        );
        vm.expectCall(address(remoteBridge), abi.encodeWithSelector(TokenBridge.enrollRemote.selector), 0);
        remoteMailbox.processBatch(d.checkpoint, d.signatures, d.messages, d.proof);
        (address enrolled,) = remoteBridge.remote(HOME);
        vm.assertEq(enrolled, address(homeBridge), "lane unchanged");
    }

    function test_polyNetwork_messagesToTokenAndMirror_reachNoAdminFunction() public {
        bytes32 bridgeRole = remoteToken.BRIDGE_ROLE();
        bytes memory grant = abi.encodeWithSignature("grantRole(bytes32,address)", bridgeRole, attacker);
        Delivery memory d = relay.forge(HOME, REMOTE, _b32(address(homeBridge)), _b32(address(remoteToken)), grant);
        vm.expectRevert(bytes("")); // the token has no handle
        remoteMailbox.process(d.checkpoint, d.signatures, d.messages[0], d.proof);
        bytes memory forward = abi.encodeWithSignature("grantRole(bytes32,address)", mirror.FORWARDER_ROLE(), attacker);
        d = relay.forge(HOME, REMOTE, _b32(address(homeBridge)), _b32(address(mirror)), forward);
        vm.expectRevert( // the mirror's handle refuses any sender but the home registry
            abi.encodeWithSelector(
                MirrorIdentityRegistry.WrongSender.selector, _b32(address(homeBridge)), _b32(address(registry))
            )
        );
        remoteMailbox.process(d.checkpoint, d.signatures, d.messages[0], d.proof);
        vm.assertFalse(remoteToken.hasRole(bridgeRole, attacker), "no bridge role");
        vm.assertFalse(mirror.hasRole(mirror.FORWARDER_ROLE(), attacker), "no forwarder role");
    }

    function test_malformedBodies_refused() public {
        bytes memory transfer = _transferBody(attacker, attacker, 1, _validRecord(attacker));
        bytes memory ret = _returnBody(attacker, 1, bytes32(0), 5);
        _expectForgedRefused(hex"01", abi.encodeWithSelector(ITokenBridge.MalformedBody.selector, 1));
        _expectForgedRefused(
            bytes.concat(transfer, hex"00"), abi.encodeWithSelector(ITokenBridge.MalformedBody.selector, 321)
        );
        _expectForgedRefused(_cut(transfer, 288), abi.encodeWithSelector(ITokenBridge.MalformedBody.selector, 288));
        _expectForgedRefused(_cut(ret, 160), abi.encodeWithSelector(ITokenBridge.MalformedBody.selector, 160));
        _expectForgedRefused(
            bytes.concat(ret, bytes32(0)), abi.encodeWithSelector(ITokenBridge.MalformedBody.selector, 224)
        );
        _assertUntouched();
    }

    function test_fuzz_polyNetwork_anyOtherBodyRefused(bytes calldata body) public {
        uint256 kind = body.length >= 32 ? _kind(body) : 0;
        vm.assume(!(kind == 1 && body.length == 320) && !(kind == 2 && body.length == 192));
        Delivery memory d = relay.forge(HOME, REMOTE, _b32(address(homeBridge)), _b32(address(remoteBridge)), body);
        try remoteMailbox.process(d.checkpoint, d.signatures, d.messages[0], d.proof) {
            revert("a body that is neither a Transfer nor a Return was handled");
        } catch (bytes memory reason) {
            bytes4 selector = bytes4(reason);
            vm.assertTrue(
                selector == ITokenBridge.UnknownKind.selector || selector == ITokenBridge.MalformedBody.selector,
                "refused by kind or length"
            );
        }
        _assertUntouched();
    }

    // ------------------------------------------------------------------ owner-only configuration

    function test_adminFunctions_ownerOnly() public {
        address[2] memory callers = [attacker, guardian];
        for (uint256 i; i < callers.length; ++i) {
            address who = callers[i];
            bytes memory unauthorized = abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, who);
            vm.startPrank(who);
            vm.expectRevert(unauthorized);
            remoteBridge.enrollRemote(HOME, who);
            vm.expectRevert(unauthorized);
            remoteBridge.registerToken(address(homeToken), address(homeToken));
            vm.expectRevert(unauthorized);
            remoteBridge.setRateLimit(address(homeToken), HOME, true, 0, 0);
            vm.expectRevert(unauthorized);
            remoteBridge.setGuardian(who);
            vm.expectRevert(unauthorized);
            remoteBridge.transferOwnership(who);
            vm.expectRevert(unauthorized);
            remoteBridge.unpauseLane(HOME);
            vm.stopPrank();
        }
        _assertUntouched();
    }

    function test_ownership_twoStep() public {
        vm.prank(owner);
        remoteBridge.transferOwnership(attacker);
        vm.assertEq(remoteBridge.owner(), owner, "not yet");
        vm.prank(guardian);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, guardian));
        remoteBridge.acceptOwnership();
        vm.prank(attacker);
        remoteBridge.acceptOwnership();
        vm.assertEq(remoteBridge.owner(), attacker, "accepted by the pending owner");
    }

    // ------------------------------------------------------------------ helpers

    /// @notice The pending message of `origin` is refused with `reason`: `process` reverts
    /// with it, `processBatch` reports ProcessFailed with it; it stays undelivered.
    function _expectRefusedThroughMailbox(uint32 origin, bytes memory reason) internal {
        relay.sync();
        uint32 nonce = relay.count(origin) - 1;
        vm.expectRevert(reason);
        relay.process(origin, nonce);
        vm.expectEmit(address(_destinationMailbox(origin)));
        emit IMailbox.ProcessFailed(relay.idAt(origin, nonce), origin, nonce, reason);
        relay.processBatch(origin, nonce, nonce);
        vm.assertFalse(relay.isDelivered(origin, nonce), "stays undelivered");
        _assertUntouched();
    }

    /// @notice A forged message from the enrolled home bridge with `body` is refused with `reason`.
    function _expectForgedRefused(bytes memory body, bytes memory reason) internal {
        Delivery memory d = relay.forge(HOME, REMOTE, _b32(address(homeBridge)), _b32(address(remoteBridge)), body);
        vm.expectRevert(reason);
        remoteMailbox.process(d.checkpoint, d.signatures, d.messages[0], d.proof);
        vm.expectEmit(address(remoteMailbox));
        emit IMailbox.ProcessFailed(keccak256(d.messages[0]), HOME, d.checkpoint.index, reason);
        remoteMailbox.processBatch(d.checkpoint, d.signatures, d.messages, d.proof);
        vm.assertFalse(remoteMailbox.delivered(HOME, d.checkpoint.index), "stays undelivered");
    }

    /// @notice Nothing a refused message could have changed has changed.
    function _assertUntouched() internal view {
        vm.assertEq(remoteToken.totalSupply(), supplyExpected, "remote supply");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), escrowExpected, "escrow");
        vm.assertEq(remoteToken.balanceOf(attacker), 0, "attacker on remote");
        vm.assertEq(homeToken.balanceOf(attacker), 0, "attacker on home");
        vm.assertEq(remoteBridge.owner(), owner, "owner");
        vm.assertEq(remoteBridge.pendingOwner(), address(0), "pending owner");
        vm.assertEq(remoteBridge.guardian(), guardian, "guardian");
        (address enrolled, bool paused) = remoteBridge.remote(HOME);
        vm.assertEq(enrolled == address(homeBridge) || enrolled == address(0), true, "lane");
        vm.assertFalse(paused, "not paused");
        vm.assertEq(remoteBridge.localTokenOf(address(homeToken)), address(remoteToken), "token mapping");
        (, uint256 capacity, uint256 rate) = remoteBridge.rateLimit(address(homeToken), HOME, true);
        vm.assertEq(capacity, CAPACITY, "capacity");
        vm.assertEq(rate, REFILL, "rate");
    }

    function _destinationMailbox(uint32 origin) internal view returns (Mailbox) {
        return origin == REMOTE ? homeMailbox : remoteMailbox;
    }

    function _validRecord(address wallet) internal view returns (IdentityRecord memory) {
        return IdentityRecord(keccak256(abi.encode(wallet)), DE, expiry, 0, 99);
    }

    function _kind(bytes memory body) internal pure returns (uint256 kind) {
        assembly ("memory-safe") {
            kind := mload(add(body, 32))
        }
    }

    function _cut(bytes memory data, uint256 length) internal pure returns (bytes memory out) {
        out = new bytes(length);
        for (uint256 i; i < length; ++i) {
            out[i] = data[i];
        }
    }
}
