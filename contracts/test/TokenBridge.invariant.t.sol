// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {BridgeHandler, BridgeSystem} from "./utils/BridgeHandler.sol";

/// @notice The bridge's conservation law under random play (BridgeHandler): for the token and
/// its one lane, escrow on the home chain equals supply on the remote chain plus what is in
/// flight (transfers dispatched and not delivered, either way, and Returns not delivered).
/// Also: no message is handled twice, attacks never pass, the home supply never changes, and
/// once lanes resume and time passes everything in flight arrives (nothing stuck or lost).
/// The handler catches every bridge call that may fail, so a revert of the handler itself
/// (a relay that lost a message, a ghost that would underflow) fails the campaign.
/// forge-config: default.invariant.fail-on-revert = true
contract TokenBridgeInvariantTest is BridgeFixture {
    uint128 internal constant LANE_CAPACITY = 20_000;
    uint128 internal constant LANE_REFILL = 20;

    BridgeHandler internal handler;
    uint256 internal homeSupply;

    function setUp() public override {
        super.setUp();
        address dave = _named("dave"); // KP: barred on the remote token
        address erin = _named("erin"); // US: barred on the home token
        address frank = _named("frank"); // a record that expires within hours
        uint16[] memory country = new uint16[](1);
        vm.startPrank(agent);
        country[0] = KP;
        remoteToken.setCountriesDenied(country, true);
        country[0] = US;
        homeToken.setCountriesDenied(country, true);
        registry.setRecord(frank, keccak256("frank"), DE, uint64(T0 + 3 hours), 0);
        vm.stopPrank();
        _onboard(dave, KP);
        _onboard(erin, US);
        _relayAll(HOME);
        _mintHome(carol, 20_000);
        _mintHome(dave, 20_000);
        _mintHome(frank, 10_000);
        vm.startPrank(owner);
        for (uint256 i; i < 2; ++i) {
            homeBridge.setRateLimit(address(homeToken), REMOTE, i == 1, LANE_CAPACITY, LANE_REFILL);
            remoteBridge.setRateLimit(address(homeToken), HOME, i == 1, LANE_CAPACITY, LANE_REFILL);
        }
        vm.stopPrank();

        address[] memory investors = new address[](7);
        investors[0] = alice;
        investors[1] = bob;
        investors[2] = carol;
        investors[3] = dave;
        investors[4] = erin;
        investors[5] = frank;
        investors[6] = stranger;
        BridgeSystem memory system = BridgeSystem(
            homeMailbox,
            remoteMailbox,
            registry,
            homeToken,
            remoteToken,
            homeBridge,
            remoteBridge,
            relay,
            owner,
            agent,
            guardian
        );
        handler = new BridgeHandler(system, investors);
        homeSupply = homeToken.totalSupply();
    }

    /// @dev forge's selector filter.
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Every action but `drain`, which afterInvariant runs.
    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](7);
        selectors[0] = BridgeHandler.sendHome.selector;
        selectors[1] = BridgeHandler.sendRemote.selector;
        selectors[2] = BridgeHandler.transferRemote.selector;
        selectors[3] = BridgeHandler.deliver.selector;
        selectors[4] = BridgeHandler.compliance.selector;
        selectors[5] = BridgeHandler.timeOrPause.selector;
        selectors[6] = BridgeHandler.attack.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), selectors);
    }

    /// The conservation law, with what it rests on: the ghost is exactly what the undelivered
    /// bridge messages carry (read from the messages and the delivered bits), and the relay
    /// has seen every message.
    function invariant_escrowEqualsRemoteSupplyPlusInFlight() public view {
        vm.assertEq(relay.count(HOME), homeMailbox.count(), "the relay has every home message");
        vm.assertEq(relay.count(REMOTE), remoteMailbox.count(), "the relay has every remote message");
        vm.assertEq(handler.inFlight(), handler.undeliveredBridgeAmount(), "ghost == undelivered bridge messages");
        vm.assertEq(
            homeToken.balanceOf(address(homeBridge)),
            remoteToken.totalSupply() + handler.inFlight(),
            "escrow == remote supply + in flight"
        );
    }

    /// Every message is handled at most once, and exactly when its delivered bit is set.
    function invariant_noMessageDeliveredTwice() public view {
        for (uint256 side; side < 2; ++side) {
            uint32 origin = side == 0 ? HOME : REMOTE;
            uint32 n = relay.count(origin);
            for (uint32 nonce; nonce < n; ++nonce) {
                uint256 handled = relay.processed(origin, nonce);
                vm.assertLe(handled, 1, "a message was handled twice");
                vm.assertEq(handled, relay.isDelivered(origin, nonce) ? 1 : 0, "handled exactly when delivered");
            }
        }
    }

    /// Direct handle calls, replays and messages from an unenrolled app never pass, and the
    /// bridges only ever dispatched what was asked (amounts, Returns to the right sender).
    function invariant_attacksFail() public view {
        vm.assertEq(handler.attacksSucceeded(), 0, "an attack went through");
        _assertAttackerMessagesUndelivered();
        vm.assertEq(homeToken.balanceOf(handler.attacker()) + remoteToken.balanceOf(handler.attacker()), 0, "attacker");
        vm.assertEq(bytes(handler.mismatch()).length, 0, handler.mismatch());
    }

    function invariant_homeSupplyConstant() public view {
        vm.assertEq(homeToken.totalSupply(), homeSupply, "home supply");
    }

    /// After each run: resume the lanes, let time pass, deliver everything. Nothing stays in
    /// flight, and the attacker's messages still never went through.
    function afterInvariant() public {
        handler.drain();
        vm.assertEq(handler.inFlight(), 0, "everything in flight arrived");
        vm.assertEq(homeToken.balanceOf(address(homeBridge)), remoteToken.totalSupply(), "escrow == remote supply");
        _assertAttackerMessagesUndelivered();
    }

    function _assertAttackerMessagesUndelivered() internal view {
        for (uint256 side; side < 2; ++side) {
            uint32 origin = side == 0 ? HOME : REMOTE;
            uint32[] memory nonces = handler.attackerNonces(origin);
            for (uint256 i; i < nonces.length; ++i) {
                vm.assertFalse(relay.isDelivered(origin, nonces[i]), "an attacker's message was delivered");
            }
        }
    }
}
