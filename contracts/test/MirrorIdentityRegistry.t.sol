// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IdentityRecords} from "../src/IdentityRecords.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {BaseTest} from "./utils/BaseTest.sol";
import {RecordingMailbox} from "./utils/RecordingMailbox.sol";
import {IdentityRegistry} from "../src/IdentityRegistry.sol";
import {MirrorIdentityRegistry} from "../src/MirrorIdentityRegistry.sol";
import {IIdentityRegistry, IdentityRecord, FLAG_REVOKED} from "../src/interfaces/IIdentityRegistry.sol";
import {IMailbox} from "../src/interfaces/IMailbox.sol";

contract MirrorIdentityRegistryTest is BaseTest {
    uint32 constant HOME = 1;
    uint32 constant REMOTE = 10;
    uint32 constant OTHER = 8453;
    bytes32 constant INVESTOR = keccak256("investor-1");

    RecordingMailbox homeMailbox;
    RecordingMailbox remoteMailbox;
    IdentityRegistry home;
    MirrorIdentityRegistry mirror;
    bytes32 homeId;
    address admin = makeAddr("admin");
    address agent = makeAddr("agent");
    address bridge = makeAddr("bridge");
    address alice = makeAddr("alice");
    uint64 expiry;

    function setUp() public {
        vm.warp(1_700_000_000);
        expiry = uint64(block.timestamp + 365 days);
        homeMailbox = new RecordingMailbox(HOME);
        remoteMailbox = new RecordingMailbox(REMOTE);
        home = new IdentityRegistry(IMailbox(address(homeMailbox)), admin);
        homeId = bytes32(uint256(uint160(address(home))));
        mirror = new MirrorIdentityRegistry(IMailbox(address(remoteMailbox)), HOME, homeId, admin);
        vm.startPrank(admin);
        home.grantRole(home.AGENT_ROLE(), agent);
        home.enrollRemote(REMOTE, bytes32(uint256(uint160(address(mirror)))));
        mirror.grantRole(mirror.FORWARDER_ROLE(), bridge);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ construction

    function test_constructor() public {
        assertEq(mirror.homeDomain(), HOME, "homeDomain");
        assertEq(mirror.homeRegistry(), homeId, "homeRegistry");
        vm.expectRevert(IdentityRecords.ZeroAddress.selector);
        new MirrorIdentityRegistry(IMailbox(address(0)), HOME, homeId, admin);
        vm.expectRevert(IdentityRecords.ZeroAddress.selector);
        new MirrorIdentityRegistry(IMailbox(address(remoteMailbox)), HOME, bytes32(0), admin);
        vm.expectRevert(IdentityRecords.ZeroAddress.selector);
        new MirrorIdentityRegistry(IMailbox(address(remoteMailbox)), HOME, homeId, address(0));
        vm.expectRevert(abi.encodeWithSelector(MirrorIdentityRegistry.HomeIsLocal.selector, REMOTE));
        new MirrorIdentityRegistry(IMailbox(address(remoteMailbox)), REMOTE, homeId, admin);
    }

    // ------------------------------------------------------------------ end to end through the double

    function test_homeUpdates_relayed_applyOnMirror() public {
        vm.prank(agent);
        home.setRecord(alice, INVESTOR, 276, expiry, 0);
        _relay(0);
        assertTrue(mirror.isVerified(alice), "verified on the mirror");
        vm.prank(agent);
        home.revoke(alice);
        _relay(1);
        assertFalse(mirror.isVerified(alice), "revocation reached the mirror");
        IdentityRecord memory m = mirror.recordOf(alice);
        IdentityRecord memory h = home.recordOf(alice);
        assertEq(keccak256(abi.encode(m)), keccak256(abi.encode(h)), "mirror equals home");
    }

    /// A stale record delivered after a revocation cannot overtake it.
    function test_outOfOrder_revocationNotOvertaken() public {
        vm.startPrank(agent);
        home.setRecord(alice, INVESTOR, 276, expiry, 0); // v1, message 0
        home.revoke(alice); // v2, message 1
        vm.stopPrank();
        _relay(1);
        vm.expectEmit(true, false, false, true, address(mirror));
        emit IdentityRecords.RecordIgnored(alice, 1, 2);
        _relay(0); // does not revert
        assertEq(mirror.recordOf(alice).version, 2, "kept v2");
        assertEq(mirror.recordOf(alice).flags, FLAG_REVOKED, "still revoked");
        assertFalse(mirror.isVerified(alice), "not verified");
    }

    function test_equalVersion_ignored() public {
        _deliver(HOME, homeId, _update(alice, _record(276, 0, 3)));
        _deliver(HOME, homeId, _update(alice, _record(250, FLAG_REVOKED, 3)));
        assertEq(mirror.recordOf(alice).country, 276, "first v3 kept");
        assertEq(mirror.recordOf(alice).flags, 0, "flags of first v3");
    }

    function test_isVerified_followsExpiry() public {
        _deliver(HOME, homeId, _update(alice, _record(276, 0, 1)));
        vm.warp(expiry - 1);
        assertTrue(mirror.isVerified(alice), "before expiry");
        vm.warp(expiry);
        assertFalse(mirror.isVerified(alice), "at expiry");
    }

    // ------------------------------------------------------------------ handle: who may deliver

    function test_handle_refusesCallerOtherThanMailbox() public {
        bytes memory body = _update(alice, _record(276, 0, 1));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(MirrorIdentityRegistry.NotMailbox.selector, alice));
        mirror.handle(HOME, homeId, body);
        // another mailbox (a second deployment on this chain) is not ours either
        RecordingMailbox rogue = new RecordingMailbox(REMOTE);
        vm.expectRevert(abi.encodeWithSelector(MirrorIdentityRegistry.NotMailbox.selector, address(rogue)));
        rogue.deliver(address(mirror), HOME, homeId, body);
        assertEq(mirror.recordOf(alice).version, 0, "nothing applied");
    }

    function test_handle_refusesWrongOrigin() public {
        bytes memory body = _update(alice, _record(276, 0, 1));
        vm.expectRevert(abi.encodeWithSelector(MirrorIdentityRegistry.WrongOrigin.selector, OTHER, HOME));
        _deliver(OTHER, homeId, body);
        vm.expectRevert(abi.encodeWithSelector(MirrorIdentityRegistry.WrongOrigin.selector, REMOTE, HOME));
        _deliver(REMOTE, homeId, body);
    }

    function test_handle_refusesWrongSender() public {
        bytes memory body = _update(alice, _record(276, 0, 1));
        bytes32 impostor = bytes32(uint256(uint160(alice)));
        vm.expectRevert(abi.encodeWithSelector(MirrorIdentityRegistry.WrongSender.selector, impostor, homeId));
        _deliver(HOME, impostor, body);
    }

    function test_fuzz_handle_refusesAnyOtherOriginOrSender(uint32 origin, bytes32 sender) public {
        vm.assume(origin != HOME || sender != homeId);
        bytes memory body = _update(alice, _record(276, 0, 1));
        (bool ok,) = address(remoteMailbox)
            .call(abi.encodeCall(RecordingMailbox.deliver, (address(mirror), origin, sender, body)));
        assertFalse(ok, "delivered from a stranger");
        assertEq(mirror.recordOf(alice).version, 0, "nothing applied");
    }

    // ------------------------------------------------------------------ handle: what it accepts

    function test_handle_refusesOtherKinds() public {
        // a Transfer body (kind 1) sent to the mirror by mistake
        bytes memory transfer = abi.encode(uint8(1), address(1), alice, alice, uint256(5), _record(276, 0, 9));
        vm.expectRevert(abi.encodeWithSelector(MirrorIdentityRegistry.UnexpectedKind.selector, uint256(1)));
        _deliver(HOME, homeId, transfer);
        bytes memory big = abi.encode(uint256(1) << 8, alice, _record(276, 0, 9));
        vm.expectRevert(abi.encodeWithSelector(MirrorIdentityRegistry.UnexpectedKind.selector, uint256(1) << 8));
        _deliver(HOME, homeId, big);
    }

    function test_handle_refusesMalformedBodies() public {
        vm.expectRevert(abi.encodeWithSelector(MirrorIdentityRegistry.MalformedBody.selector, uint256(31)));
        _deliver(HOME, homeId, new bytes(31));
        bytes memory good = _update(alice, _record(276, 0, 1));
        bytes memory long = bytes.concat(good, bytes1(0));
        vm.expectRevert(abi.encodeWithSelector(MirrorIdentityRegistry.MalformedBody.selector, uint256(225)));
        _deliver(HOME, homeId, long);
    }

    // ------------------------------------------------------------------ applyRecord

    function test_applyRecord_needsForwarderRole() public {
        IdentityRecord memory r = _record(276, 0, 1);
        bytes32 role = mirror.FORWARDER_ROLE();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, role));
        mirror.applyRecord(alice, r);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, admin, role));
        mirror.applyRecord(alice, r);
        assertEq(mirror.recordOf(alice).version, 0, "nothing applied");
    }

    function test_applyRecord_newerOnly() public {
        vm.startPrank(bridge);
        assertTrue(mirror.applyRecord(alice, _record(276, 0, 2)), "v2 applied");
        assertFalse(mirror.applyRecord(alice, _record(250, 0, 2)), "equal ignored");
        assertFalse(mirror.applyRecord(alice, _record(250, 0, 1)), "older ignored");
        assertFalse(mirror.applyRecord(alice, _record(0, 0, 0)), "zero record (toward home) ignored");
        assertTrue(mirror.applyRecord(alice, _record(250, FLAG_REVOKED, 3)), "v3 applied");
        vm.expectRevert(IdentityRecords.ZeroWallet.selector);
        mirror.applyRecord(address(0), _record(276, 0, 9));
        vm.stopPrank();
        assertEq(mirror.recordOf(alice).country, 250, "country of v3");
        assertEq(mirror.recordOf(alice).flags, FLAG_REVOKED, "flags of v3");
    }

    function test_applyRecord_emitsRecordUpdated() public {
        IdentityRecord memory r = _record(276, 0, 4);
        vm.expectEmit(true, true, false, true, address(mirror));
        emit IIdentityRegistry.RecordUpdated(alice, INVESTOR, 276, expiry, 0, 4);
        vm.prank(bridge);
        mirror.applyRecord(alice, r);
    }

    /// An equal version changes nothing and says nothing (the usual case: every transfer to a
    /// known wallet carries the record the mirror holds); an older one is ignored with
    /// RecordIgnored, through either path.
    function test_notNewer_equalSilent_olderEmits() public {
        vm.startPrank(bridge);
        mirror.applyRecord(alice, _record(276, 0, 2));
        vm.recordLogs();
        assertFalse(mirror.applyRecord(alice, _record(250, 0, 2)), "equal ignored");
        _deliver(HOME, homeId, _update(alice, _record(250, 0, 2)));
        assertEq(vm.getRecordedLogs().length, 0, "an equal version is silent");
        vm.expectEmit(true, false, false, true, address(mirror));
        emit IdentityRecords.RecordIgnored(alice, 1, 2);
        assertFalse(mirror.applyRecord(alice, _record(250, 0, 1)), "older ignored");
        vm.stopPrank();
        vm.expectEmit(true, false, false, true, address(mirror));
        emit IdentityRecords.RecordIgnored(alice, 1, 2);
        _deliver(HOME, homeId, _update(alice, _record(250, 0, 1)));
        assertEq(mirror.recordOf(alice).country, 276, "v2 kept");
    }

    /// A record without an investor id is no record: ignored by both paths, so a stored
    /// record always has an id and a version (a nonzero version is what the rules read).
    function test_recordWithoutInvestorId_ignored() public {
        IdentityRecord memory noId = IdentityRecord(bytes32(0), 276, expiry, 0, 5);
        vm.prank(bridge);
        assertFalse(mirror.applyRecord(alice, noId), "ignored");
        _deliver(HOME, homeId, _update(alice, noId));
        assertEq(mirror.recordOf(alice).version, 0, "nothing stored");
        assertFalse(mirror.isVerified(alice), "not verified");
        vm.prank(bridge);
        mirror.applyRecord(alice, _record(276, 0, 1));
        vm.prank(bridge);
        assertFalse(mirror.applyRecord(alice, noId), "does not overwrite either");
        assertEq(mirror.recordOf(alice).investorId, INVESTOR, "kept");
    }

    /// statusOf is the record without its investor id.
    function test_statusOf_matchesRecord() public {
        (uint16 country, uint64 expiresAt, uint32 flags, uint64 version) = mirror.statusOf(alice);
        assertEq(uint256(country) + expiresAt + flags + version, 0, "no record: all zero");
        vm.prank(bridge);
        mirror.applyRecord(alice, _record(250, FLAG_REVOKED, 7));
        (country, expiresAt, flags, version) = mirror.statusOf(alice);
        assertEq(country, 250, "country");
        assertEq(expiresAt, expiry, "expiresAt");
        assertEq(flags, FLAG_REVOKED, "flags");
        assertEq(version, 7, "version");
    }

    /// Whatever the order of arrival, the mirror ends with the newest version.
    function test_fuzz_anyOrder_keepsNewest(uint256 seed) public {
        uint64 n = 8;
        uint64[] memory order = new uint64[](n);
        for (uint64 i = 0; i < n; ++i) {
            order[i] = i + 1;
        }
        for (uint256 i = n - 1; i > 0; --i) {
            uint256 j = uint256(keccak256(abi.encode(seed, i))) % (i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        uint64 newest;
        for (uint256 i = 0; i < n; ++i) {
            uint64 v = order[i];
            bytes memory body = _update(alice, _record(uint16(100 + v), 0, v));
            if (i % 2 == 0) {
                _deliver(HOME, homeId, body);
            } else {
                vm.prank(bridge);
                mirror.applyRecord(alice, _record(uint16(100 + v), 0, v));
            }
            if (v > newest) newest = v;
            assertEq(mirror.recordOf(alice).version, newest, "newest so far");
        }
        assertEq(mirror.recordOf(alice).country, 100 + n, "record of the newest version");
    }

    /// The mirror has no write path other than handle and applyRecord: no agent writes.
    function test_noAgentWrites() public {
        (bool ok,) = address(mirror)
            .call(abi.encodeCall(IdentityRegistry.setRecord, (alice, INVESTOR, uint16(276), expiry, uint32(0))));
        assertFalse(ok, "setRecord exists on the mirror");
        (ok,) = address(mirror).call(abi.encodeCall(IdentityRegistry.revoke, (alice)));
        assertFalse(ok, "revoke exists on the mirror");
    }

    // ------------------------------------------------------------------ helpers

    function _record(uint16 country, uint32 flags, uint64 version) internal view returns (IdentityRecord memory) {
        return IdentityRecord(INVESTOR, country, expiry, flags, version);
    }

    function _update(address wallet, IdentityRecord memory r) internal pure returns (bytes memory) {
        return abi.encode(uint8(3), wallet, r);
    }

    function _deliver(uint32 origin, bytes32 sender, bytes memory body) internal {
        remoteMailbox.deliver(address(mirror), origin, sender, body);
    }

    /// Carries home message `i` to the mirror as the remote mailbox would.
    function _relay(uint256 i) internal {
        RecordingMailbox.Dispatched memory m = homeMailbox.sent(i);
        assertEq(m.destination, REMOTE, "destination");
        assertEq(m.recipient, bytes32(uint256(uint160(address(mirror)))), "recipient");
        remoteMailbox.deliver(address(uint160(uint256(m.recipient))), HOME, bytes32(uint256(uint160(m.sender))), m.body);
    }
}
