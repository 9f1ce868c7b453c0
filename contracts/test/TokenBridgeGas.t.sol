// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMailbox} from "../src/interfaces/IMailbox.sol";
import {ITokenBridge} from "../src/interfaces/ITokenBridge.sol";
import {IdentityRecord} from "../src/interfaces/IIdentityRegistry.sol";
import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {AttackerApp} from "./utils/BridgeDoubles.sol";
import {MinimalRecipient} from "./utils/Recipients.sol";
import {Delivery} from "./utils/Relay.sol";
import {HandlerProbe} from "./utils/HandlerProbe.sol";

/// @notice Gas of the bridge as checked figures: `send` on each chain, and the delivery of
/// home-to-remote transfers by `process` and by `processBatch` of 10 and 100, under 1-of-1 and
/// 3-of-5 validator sets, to
///   (a) recipients that already hold the token on the remote chain (the mirror knows them),
///   (b) fresh recipients the mirror already knows (their RecordUpdate arrived first),
///   (c) fresh recipients whose record arrives with the transfer (the mirror writes it).
/// Each measured call's own gas (exec: vm.lastCallGas, no 21,000, no calldata, before refunds)
/// goes to contracts/snapshots/TokenBridgeGas.json under the test's name, and each test meters
/// only its measured calls (metering is paused for the set-up), so its line in
/// contracts/.gas-snapshot follows the same figure. `make gas-snapshot` writes both;
/// scripts/gas-check (CI) fails when one moves by more than 1%.
///
/// Each figure is taken on cold storage (vm.cool on the destination's mailbox, bridge, token
/// and mirror, as at the start of a transaction). The nonces' bitmap words are already in use
/// ("warm word" of docs/mailbox.md), and the remote token already has supply and holders. A
/// transaction pays exec + 21,000 + calldata (16/4 gas per nonzero/zero byte), less a refund
/// capped at a fifth (EIP-3529). A reference figure delivers the same 320-byte bodies to a
/// recipient that does nothing, so the difference is the bridge's own cost; test_gas_breakdown
/// splits that cost by step.
contract TokenBridgeGasTest is BridgeFixture {
    enum Recipients {
        Holders,
        FreshKnown,
        FreshCarried
    }

    uint256 internal constant AMOUNT = 7;

    /// @notice The remote token already has supply and a holder (as in steady operation), so
    /// no row pays for the first mint ever (totalSupply and holderCount leaving zero).
    function setUp() public override {
        super.setUp();
        _sendHome(bob, bob, 1_000);
        _relayAll(HOME);
    }

    // ------------------------------------------------------------------ send

    function test_gas_send_home() public {
        vm.pauseGasMetering();
        address[] memory to = _recipients(11, Recipients.FreshKnown);
        _sendHome(alice, to[10], AMOUNT); // first send: the bucket and the tree's slots exist
        vm.prank(alice);
        homeToken.approve(address(homeBridge), type(uint256).max);
        uint256 total;
        for (uint256 i; i < 10; ++i) {
            _cool(address(homeMailbox), address(homeBridge), address(homeToken), address(registry));
            bytes memory data = abi.encodeCall(ITokenBridge.send, (address(homeToken), REMOTE, to[i], AMOUNT));
            total += _metered(alice, address(homeBridge), data, "");
        }
        vm.snapshotValue("TokenBridgeGas", "send_home_average10", total / 10);
    }

    function test_gas_send_remote() public {
        vm.pauseGasMetering();
        _sendHome(alice, bob, 1_000);
        _relayAll(HOME);
        _sendRemote(bob, alice, AMOUNT);
        uint256 total;
        bytes memory data = abi.encodeCall(ITokenBridge.send, (address(remoteToken), HOME, alice, AMOUNT));
        for (uint256 i; i < 10; ++i) {
            _cool(address(remoteMailbox), address(remoteBridge), address(remoteToken), address(mirror));
            total += _metered(bob, address(remoteBridge), data, "");
        }
        vm.snapshotValue("TokenBridgeGas", "send_remote_average10", total / 10);
    }

    // ------------------------------------------------------------------ process

    function test_gas_process_holder_1of1() public {
        _measure(1, 1, 1, Recipients.Holders, true);
    }

    function test_gas_process_holder_3of5() public {
        _measure(1, 5, 3, Recipients.Holders, true);
    }

    function test_gas_process_fresh_1of1() public {
        _measure(1, 1, 1, Recipients.FreshKnown, true);
    }

    function test_gas_process_fresh_3of5() public {
        _measure(1, 5, 3, Recipients.FreshKnown, true);
    }

    // ------------------------------------------------------------------ processBatch

    function test_gas_batch10_holders_1of1() public {
        _measure(10, 1, 1, Recipients.Holders, false);
    }

    function test_gas_batch10_holders_3of5() public {
        _measure(10, 5, 3, Recipients.Holders, false);
    }

    function test_gas_batch10_fresh_1of1() public {
        _measure(10, 1, 1, Recipients.FreshKnown, false);
    }

    function test_gas_batch10_fresh_3of5() public {
        _measure(10, 5, 3, Recipients.FreshKnown, false);
    }

    function test_gas_batch100_holders_1of1() public {
        _measure(100, 1, 1, Recipients.Holders, false);
    }

    function test_gas_batch100_holders_3of5() public {
        _measure(100, 5, 3, Recipients.Holders, false);
    }

    function test_gas_batch100_fresh_1of1() public {
        _measure(100, 1, 1, Recipients.FreshKnown, false);
    }

    function test_gas_batch100_fresh_3of5() public {
        _measure(100, 5, 3, Recipients.FreshKnown, false);
    }

    function test_gas_batch100_freshCarried_1of1() public {
        _measure(100, 1, 1, Recipients.FreshCarried, false);
    }

    function test_gas_batch100_freshCarried_3of5() public {
        _measure(100, 5, 3, Recipients.FreshCarried, false);
    }

    /// Remote-to-home: 100 unlocks from escrow to investors who hold the token on home.
    function test_gas_batch100_towardsHome_holders_1of1() public {
        vm.pauseGasMetering();
        _useValidators(1, 1);
        address[] memory to = _recipients(100, Recipients.FreshKnown, 7);
        for (uint256 i; i < to.length; ++i) {
            _mintHome(to[i], 20); // keeps 10 on home: a holder there
            _sendHome(to[i], to[i], 10);
        }
        _relayAll(HOME);
        for (uint256 i; i < to.length; ++i) {
            _sendRemote(to[i], to[i], AMOUNT);
        }
        uint32 last = _last(REMOTE);
        _sendRemote(to[0], to[0], 1); // one more, delivered first (bitmap word in use)
        _process(REMOTE, last + 1);
        Delivery memory d = relay.delivery(REMOTE, last - 99, last);
        _cool(address(homeMailbox), address(homeBridge), address(homeToken), address(registry));
        bytes memory data = abi.encodeCall(IMailbox.processBatch, (d.checkpoint, d.signatures, d.messages, d.proof));
        _metered(address(0), address(homeMailbox), data, "batch100_1of1_towardsHome_holders");
        for (uint256 i; i < to.length; ++i) {
            vm.assertEq(homeToken.balanceOf(to[i]), 10 + AMOUNT + (i == 0 ? 1 : 0), "unlocked");
        }
    }

    /// The same batch without an inbound bucket: the difference is the rate limit's cost.
    function test_gas_batch100_holders_1of1_noInboundLimit() public {
        vm.pauseGasMetering();
        vm.prank(owner);
        remoteBridge.setRateLimit(address(homeToken), HOME, true, 0, 0);
        _measure(100, 1, 1, Recipients.Holders, false, "_noInboundLimit");
    }

    /// The mailbox's share: the same 100 messages (320-byte Transfer bodies) to a recipient
    /// that only checks its caller.
    function test_gas_batch100_minimalRecipient_1of1() public {
        vm.pauseGasMetering();
        _useValidators(1, 1);
        MinimalRecipient minimal = new MinimalRecipient(address(remoteMailbox));
        AttackerApp app = new AttackerApp(); // an app that dispatches what it is given
        IdentityRecord memory record = registry.recordOf(alice);
        for (uint256 i; i < 101; ++i) {
            address to = _recipient(0, i);
            app.dispatch(homeMailbox, REMOTE, address(minimal), _transferBody(alice, to, AMOUNT, record));
        }
        uint32 last = _last(HOME);
        _deliverFirst(last);
        Delivery memory d = relay.delivery(HOME, last - 100, last - 1);
        _cool(address(remoteMailbox), address(minimal), address(0), address(0));
        bytes memory data = abi.encodeCall(IMailbox.processBatch, (d.checkpoint, d.signatures, d.messages, d.proof));
        _metered(address(0), address(remoteMailbox), data, "batch100_1of1_minimalRecipient_reference");
    }

    // ------------------------------------------------------------------ breakdown

    /// What the remote bridge's handler spends per transfer in a long batch, step by step: the
    /// same external calls `handle` makes on the real mirror and token, in a loop over 100
    /// recipients after cooling (so the token's and mirror's shared slots are warm after the
    /// first, each recipient's are cold), measured with gasleft().
    function test_gas_breakdown() public {
        vm.pauseGasMetering();
        HandlerProbe probe = new HandlerProbe(remoteToken, mirror, remoteMailbox);
        vm.startPrank(owner);
        mirror.grantRole(mirror.FORWARDER_ROLE(), address(probe));
        remoteToken.grantRole(remoteToken.BRIDGE_ROLE(), address(probe));
        vm.stopPrank();
        for (uint256 k; k < 3; ++k) {
            Recipients kind = Recipients(k);
            address[] memory to = _recipients(100, kind, k + 1);
            if (kind == Recipients.Holders) {
                for (uint256 i; i < to.length; ++i) {
                    _sendHome(alice, to[i], AMOUNT);
                }
                _relayAll(HOME);
            }
            IdentityRecord[] memory records = new IdentityRecord[](to.length);
            for (uint256 i; i < to.length; ++i) {
                records[i] = registry.recordOf(to[i]);
            }
            _cool(address(remoteToken), address(mirror), address(remoteMailbox), address(0));
            vm.resumeGasMetering();
            uint256[6] memory g = probe.run(to, records, AMOUNT);
            vm.pauseGasMetering();
            string memory name = kind == Recipients.Holders
                ? "breakdown_a_holders_"
                : kind == Recipients.FreshKnown ? "breakdown_b_freshKnown_" : "breakdown_c_freshCarried_";
            string[6] memory steps = [
                "currentMessageId",
                "identityRegistry",
                "applyRecord",
                "tryBridgeMint",
                "TransferReceivedEvent",
                "detectTransferRestrictionWarm_forScale"
            ];
            for (uint256 i; i < 6; ++i) {
                vm.snapshotValue("TokenBridgeGas", string.concat(name, steps[i]), g[i]);
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    /// @notice Sends `size` home-to-remote transfers to recipients of `kind`, then delivers
    /// them in one processBatch (or the single one with process), metered.
    function _measure(uint256 size, uint256 n, uint8 t, Recipients kind, bool single) internal {
        _measure(size, n, t, kind, single, "");
    }

    function _measure(uint256 size, uint256 n, uint8 t, Recipients kind, bool single, string memory suffix)
        internal
    {
        vm.pauseGasMetering();
        _useValidators(n, t);
        address[] memory to = _recipients(size, kind);
        if (kind == Recipients.Holders) {
            for (uint256 i; i < size; ++i) {
                _sendHome(alice, to[i], AMOUNT);
            }
            _relayAll(HOME);
        }
        vm.prank(alice);
        homeToken.approve(address(homeBridge), type(uint256).max);
        for (uint256 i; i < size; ++i) {
            vm.prank(alice);
            homeBridge.send(address(homeToken), REMOTE, to[i], AMOUNT);
        }
        uint32 last = _last(HOME);
        uint32 first = uint32(last + 1 - size);
        _deliverFirst(last);
        Delivery memory d = relay.delivery(HOME, first, last);
        _cool(address(remoteMailbox), address(remoteBridge), address(remoteToken), address(mirror));
        bytes memory data = single
            ? abi.encodeCall(IMailbox.process, (d.checkpoint, d.signatures, d.messages[0], d.proof))
            : abi.encodeCall(IMailbox.processBatch, (d.checkpoint, d.signatures, d.messages, d.proof));
        string memory name = string.concat(
            single ? "process" : string.concat("batch", vm.toString(size)),
            "_",
            vm.toString(t),
            "of",
            vm.toString(n),
            kind == Recipients.Holders ? "_holders" : kind == Recipients.FreshKnown ? "_fresh" : "_freshCarried",
            suffix
        );
        _metered(address(0), address(remoteMailbox), data, name);
        for (uint256 i; i < size; ++i) {
            vm.assertTrue(remoteMailbox.delivered(HOME, first + uint32(i)), "every transfer delivered");
            uint256 expected = kind == Recipients.Holders ? 2 * AMOUNT : AMOUNT;
            vm.assertEq(remoteToken.balanceOf(to[i]), expected, "minted");
        }
    }

    /// @notice `size` recipients, onboarded on home. Unless their records are to arrive with
    /// the transfers, the RecordUpdates are delivered first.
    function _recipients(uint256 size, Recipients kind) internal returns (address[] memory) {
        return _recipients(size, kind, 0);
    }

    /// @notice As above, from a set of addresses named by `salt`.
    function _recipients(uint256 size, Recipients kind, uint256 salt) internal returns (address[] memory to) {
        to = new address[](size);
        for (uint256 i; i < size; ++i) {
            to[i] = _recipient(salt, i);
            if (registry.recordOf(to[i]).version == 0) _onboard(to[i], DE);
        }
        if (kind != Recipients.FreshCarried) _relayAll(HOME);
    }

    function _recipient(uint256 salt, uint256 i) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("gas recipient", salt, i)))));
    }

    /// @notice Puts one more message after `last` and delivers it alone, so the bitmap word of
    /// the measured nonces is in use (as it is in steady operation) and the checkpoint covers
    /// them all.
    function _deliverFirst(uint32 last) internal {
        address[] memory one = new address[](1);
        one[0] = alice;
        vm.prank(agent);
        registry.resync(one);
        _process(HOME, last + 1);
    }

    function _cool(address a, address b, address c, address d) internal {
        vm.cool(a);
        vm.cool(b);
        if (c != address(0)) vm.cool(c);
        if (d != address(0)) vm.cool(d);
    }

    /// @dev Calls `target` with `data` (from `from` unless zero), metering gas for this call
    /// only (the test pauses metering first); reverts with the call's own error. Returns the
    /// call's own gas, which goes to contracts/snapshots/TokenBridgeGas.json as `name` unless
    /// `name` is empty.
    function _metered(address from, address target, bytes memory data, string memory name)
        internal
        returns (uint256 exec)
    {
        if (from != address(0)) vm.prank(from);
        vm.resumeGasMetering();
        (bool ok, bytes memory reason) = target.call(data);
        vm.pauseGasMetering();
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(reason, 0x20), mload(reason))
            }
        }
        exec = bytes(name).length == 0 ? vm.lastCallGas().gasTotalUsed : vm.snapshotGasLastCall("TokenBridgeGas", name);
    }
}
