// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IdentityRecords} from "../src/IdentityRecords.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {BaseTest} from "./utils/BaseTest.sol";
import {RecordingMailbox} from "./utils/RecordingMailbox.sol";
import {IdentityRegistry} from "../src/IdentityRegistry.sol";
import {IIdentityRegistry, IdentityRecord, FLAG_REVOKED, FLAG_FROZEN} from "../src/interfaces/IIdentityRegistry.sol";
import {IMailbox} from "../src/interfaces/IMailbox.sol";

contract IdentityRegistryTest is BaseTest {
    uint32 constant HOME = 31337;
    uint32 constant REMOTE_A = 10;
    uint32 constant REMOTE_B = 8453;
    bytes32 constant MIRROR_A = bytes32(uint256(0xA1));
    bytes32 constant MIRROR_B = bytes32(uint256(0xB2));
    bytes32 constant INVESTOR = keccak256("investor-1");

    RecordingMailbox mailbox;
    IdentityRegistry registry;
    address admin = makeAddr("admin");
    address agent = makeAddr("agent");
    address stranger = makeAddr("stranger");
    address alice = makeAddr("alice");
    uint64 expiry;

    function setUp() public {
        vm.warp(1_700_000_000);
        expiry = uint64(block.timestamp + 365 days);
        mailbox = new RecordingMailbox(HOME);
        registry = new IdentityRegistry(IMailbox(address(mailbox)), admin);
        vm.startPrank(admin);
        registry.grantRole(registry.AGENT_ROLE(), agent);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ construction

    function test_homeDomain_isMailboxLocalDomain() public view {
        assertEq(registry.homeDomain(), HOME, "homeDomain");
        assertEq(address(registry.mailbox()), address(mailbox), "mailbox");
    }

    function test_constructor_refusesZeroArguments() public {
        vm.expectRevert(IdentityRecords.ZeroAddress.selector);
        new IdentityRegistry(IMailbox(address(0)), admin);
        vm.expectRevert(IdentityRecords.ZeroAddress.selector);
        new IdentityRegistry(IMailbox(address(mailbox)), address(0));
    }

    // ------------------------------------------------------------------ writes: who

    function test_setRecord_onlyAgent() public {
        _expectUnauthorized(stranger, registry.AGENT_ROLE());
        vm.prank(stranger);
        registry.setRecord(alice, INVESTOR, 276, expiry, 0);
        // the admin is not an agent either
        _expectUnauthorized(admin, registry.AGENT_ROLE());
        vm.prank(admin);
        registry.setRecord(alice, INVESTOR, 276, expiry, 0);
    }

    function test_flagWrites_onlyAgent() public {
        _set(alice, 276, 0);
        bytes32 role = registry.AGENT_ROLE();
        _expectUnauthorized(stranger, role);
        vm.prank(stranger);
        registry.revoke(alice);
        _expectUnauthorized(stranger, role);
        vm.prank(stranger);
        registry.freeze(alice);
        _expectUnauthorized(stranger, role);
        vm.prank(stranger);
        registry.unfreeze(alice);
        address[] memory wallets = new address[](1);
        wallets[0] = alice;
        _expectUnauthorized(stranger, role);
        vm.prank(stranger);
        registry.resync(wallets);
    }

    function test_remotes_onlyAdmin() public {
        _expectUnauthorized(agent, registry.DEFAULT_ADMIN_ROLE());
        vm.prank(agent);
        registry.enrollRemote(REMOTE_A, MIRROR_A);
        _enroll(REMOTE_A, MIRROR_A);
        _expectUnauthorized(agent, registry.DEFAULT_ADMIN_ROLE());
        vm.prank(agent);
        registry.unenrollRemote(REMOTE_A);
    }

    // ------------------------------------------------------------------ writes: what

    function test_setRecord_refusesBadInput() public {
        vm.startPrank(agent);
        vm.expectRevert(IdentityRecords.ZeroWallet.selector);
        registry.setRecord(address(0), INVESTOR, 276, expiry, 0);
        vm.expectRevert(IdentityRegistry.ZeroInvestorId.selector);
        registry.setRecord(alice, bytes32(0), 276, expiry, 0);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidCountry.selector, uint16(0)));
        registry.setRecord(alice, INVESTOR, 0, expiry, 0);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidCountry.selector, uint16(1000)));
        registry.setRecord(alice, INVESTOR, 1000, expiry, 0);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.UnknownFlags.selector, uint32(4)));
        registry.setRecord(alice, INVESTOR, 276, expiry, 4);
        vm.stopPrank();
    }

    function test_setRecord_countryBoundaries() public {
        _set(alice, 1, 0);
        assertEq(registry.recordOf(alice).country, 1, "country 1");
        _set(alice, 999, 0);
        assertEq(registry.recordOf(alice).country, 999, "country 999");
    }

    function test_setRecord_expiryMustBeInFuture() public {
        uint64 now_ = uint64(block.timestamp);
        vm.startPrank(agent);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.ExpiryInPast.selector, now_, now_));
        registry.setRecord(alice, INVESTOR, 276, now_, 0);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.ExpiryInPast.selector, now_ - 1, now_));
        registry.setRecord(alice, INVESTOR, 276, now_ - 1, 0);
        registry.setRecord(alice, INVESTOR, 276, now_ + 1, 0);
        vm.stopPrank();
        assertTrue(registry.isVerified(alice), "verified until now + 1");
    }

    function test_flagWrites_needARecord() public {
        vm.startPrank(agent);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.NoRecord.selector, alice));
        registry.revoke(alice);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.NoRecord.selector, alice));
        registry.freeze(alice);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.NoRecord.selector, alice));
        registry.unfreeze(alice);
        vm.stopPrank();
    }

    function test_flags_keepRecordAndBumpVersion() public {
        _set(alice, 276, 0);
        vm.startPrank(agent);
        registry.freeze(alice);
        _assertRecord(alice, FLAG_FROZEN, 2);
        registry.revoke(alice);
        _assertRecord(alice, FLAG_FROZEN | FLAG_REVOKED, 3);
        registry.unfreeze(alice);
        _assertRecord(alice, FLAG_REVOKED, 4);
        vm.stopPrank();
        assertEq(registry.recordOf(alice).investorId, INVESTOR, "record kept");
        assertEq(registry.recordOf(alice).country, 276, "country kept");
    }

    function test_isVerified() public {
        assertFalse(registry.isVerified(alice), "no record");
        _set(alice, 276, 0);
        assertTrue(registry.isVerified(alice), "fresh record");
        vm.prank(agent);
        registry.freeze(alice);
        assertFalse(registry.isVerified(alice), "frozen");
        vm.prank(agent);
        registry.unfreeze(alice);
        assertTrue(registry.isVerified(alice), "unfrozen");
        vm.prank(agent);
        registry.revoke(alice);
        assertFalse(registry.isVerified(alice), "revoked");
        _set(alice, 276, FLAG_REVOKED);
        assertFalse(registry.isVerified(alice), "set with revoked flag");
    }

    function test_isVerified_expiryBoundary() public {
        _set(alice, 276, 0);
        vm.warp(expiry - 1);
        assertTrue(registry.isVerified(alice), "one second before expiry");
        vm.warp(expiry);
        assertFalse(registry.isVerified(alice), "at expiry");
    }

    /// statusOf is the record without its investor id; its version is nonzero exactly when
    /// a record exists (what the token's rules read, from one slot).
    function test_statusOf_matchesRecord() public {
        (uint16 country, uint64 expiresAt, uint32 flags, uint64 version) = registry.statusOf(alice);
        assertEq(uint256(country) + expiresAt + flags + version, 0, "no record: all zero");
        _set(alice, 276, 0);
        vm.prank(agent);
        registry.freeze(alice);
        (country, expiresAt, flags, version) = registry.statusOf(alice);
        assertEq(country, 276, "country");
        assertEq(expiresAt, expiry, "expiresAt");
        assertEq(flags, FLAG_FROZEN, "flags");
        assertEq(version, 2, "version");
    }

    function test_setRecord_emitsRecordUpdated() public {
        vm.expectEmit(true, true, false, true, address(registry));
        emit IIdentityRegistry.RecordUpdated(alice, INVESTOR, 276, expiry, 0, 1);
        _set(alice, 276, 0);
    }

    /// Versions are per wallet, start at 1 and grow by exactly one with every write.
    function test_fuzz_versionsMonotonic(uint8[24] memory ops, bool[24] memory whichWallet) public {
        address bob = makeAddr("bob");
        _set(alice, 276, 0);
        _set(bob, 250, 0);
        uint64[2] memory expected = [uint64(1), uint64(1)];
        vm.startPrank(agent);
        for (uint256 i = 0; i < ops.length; ++i) {
            address w = whichWallet[i] ? bob : alice;
            uint256 k = whichWallet[i] ? 1 : 0;
            uint8 op = ops[i] % 4;
            if (op == 0) registry.setRecord(w, INVESTOR, 36, expiry, 0);
            else if (op == 1) registry.revoke(w);
            else if (op == 2) registry.freeze(w);
            else registry.unfreeze(w);
            expected[k] += 1;
            assertEq(registry.recordOf(alice).version, expected[0], "alice version");
            assertEq(registry.recordOf(bob).version, expected[1], "bob version");
        }
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ remotes

    function test_enroll_refusesBadRemotes() public {
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidRemoteDomain.selector, HOME));
        registry.enrollRemote(HOME, MIRROR_A);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidRemoteDomain.selector, uint32(0)));
        registry.enrollRemote(0, MIRROR_A);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidMirror.selector, bytes32(0)));
        registry.enrollRemote(REMOTE_A, bytes32(0));
        bytes32 notAnAddress = bytes32(uint256(1) << 160);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.InvalidMirror.selector, notAnAddress));
        registry.enrollRemote(REMOTE_A, notAnAddress);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.NotEnrolled.selector, REMOTE_A));
        registry.unenrollRemote(REMOTE_A);
        vm.stopPrank();
    }

    function test_enroll_listsDomainsOnce() public {
        _enroll(REMOTE_A, MIRROR_A);
        _enroll(REMOTE_B, MIRROR_B);
        _enroll(REMOTE_A, MIRROR_B); // re-point
        uint32[] memory domains = registry.remoteDomains();
        assertEq(domains.length, 2, "two domains");
        assertEq(domains[0], REMOTE_A, "first");
        assertEq(domains[1], REMOTE_B, "second");
        assertEq(registry.mirrorOf(REMOTE_A), MIRROR_B, "re-pointed mirror");
        vm.prank(admin);
        registry.unenrollRemote(REMOTE_A);
        domains = registry.remoteDomains();
        assertEq(domains.length, 1, "one domain left");
        assertEq(domains[0], REMOTE_B, "remaining");
        assertEq(registry.mirrorOf(REMOTE_A), bytes32(0), "mirror cleared");
    }

    function test_noRemotes_noDispatch() public {
        _set(alice, 276, 0);
        assertEq(mailbox.count(), 0, "nothing dispatched");
    }

    function test_everyChange_dispatchedToEveryRemote_exactBody() public {
        _enroll(REMOTE_A, MIRROR_A);
        _enroll(REMOTE_B, MIRROR_B);
        _set(alice, 276, 0);
        _assertDispatched(0, alice, 276, 0, 1);
        vm.startPrank(agent);
        registry.freeze(alice);
        _assertDispatched(2, alice, 276, FLAG_FROZEN, 2);
        registry.revoke(alice);
        _assertDispatched(4, alice, 276, FLAG_FROZEN | FLAG_REVOKED, 3);
        registry.unfreeze(alice);
        _assertDispatched(6, alice, 276, FLAG_REVOKED, 4);
        vm.stopPrank();
        assertEq(mailbox.count(), 8, "two messages per change");
    }

    function test_recordUpdateBody_wireVector() public {
        // docs/protocol.md, RecordUpdate (3): seven 32-byte words, written out by hand.
        _enroll(REMOTE_A, MIRROR_A);
        address wallet = address(0xC0FFEE);
        vm.prank(agent);
        registry.setRecord(wallet, bytes32(uint256(0xABCD)), 276, 2_000_000_000, FLAG_FROZEN);
        bytes memory expected = bytes.concat(
            bytes32(uint256(3)), // kind
            bytes32(uint256(0xC0FFEE)), // wallet
            bytes32(uint256(0xABCD)), // investorId
            bytes32(uint256(276)), // country
            bytes32(uint256(2_000_000_000)), // expiresAt
            bytes32(uint256(2)), // flags
            bytes32(uint256(1)) // version
        );
        assertEq(mailbox.sent(0).body, expected, "RecordUpdate body");
    }

    function test_unenrolled_receivesNothingMore() public {
        _enroll(REMOTE_A, MIRROR_A);
        _enroll(REMOTE_B, MIRROR_B);
        vm.prank(admin);
        registry.unenrollRemote(REMOTE_A);
        _set(alice, 276, 0);
        assertEq(mailbox.count(), 1, "one message");
        assertEq(mailbox.sent(0).destination, REMOTE_B, "only the enrolled remote");
    }

    function test_resync_pushesCurrentRecordsToAllRemotes() public {
        address bob = makeAddr("bob");
        _set(alice, 276, 0);
        _set(bob, 250, 0);
        vm.prank(agent);
        registry.freeze(bob);
        _enroll(REMOTE_A, MIRROR_A);
        _enroll(REMOTE_B, MIRROR_B);
        address[] memory wallets = new address[](2);
        wallets[0] = alice;
        wallets[1] = bob;
        vm.prank(agent);
        registry.resync(wallets);
        assertEq(mailbox.count(), 4, "two wallets to two remotes");
        _assertDispatched(0, alice, 276, 0, 1);
        _assertDispatched(2, bob, 250, FLAG_FROZEN, 2);
        assertEq(registry.recordOf(bob).version, 2, "resync does not bump");
    }

    function test_resync_refusesWalletWithoutRecord() public {
        _enroll(REMOTE_A, MIRROR_A);
        address[] memory wallets = new address[](1);
        wallets[0] = alice;
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(IdentityRegistry.NoRecord.selector, alice));
        registry.resync(wallets);
    }

    // ------------------------------------------------------------------ helpers

    function _set(address wallet, uint16 country, uint32 flags) internal {
        vm.prank(agent);
        registry.setRecord(wallet, INVESTOR, country, expiry, flags);
    }

    function _enroll(uint32 domain, bytes32 mirror) internal {
        vm.prank(admin);
        registry.enrollRemote(domain, mirror);
    }

    function _expectUnauthorized(address account, bytes32 role) internal {
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, account, role));
    }

    function _assertRecord(address wallet, uint32 flags, uint64 version) internal view {
        IdentityRecord memory r = registry.recordOf(wallet);
        assertEq(r.flags, flags, "flags");
        assertEq(r.version, version, "version");
    }

    /// The RecordUpdate body built field by field, independently of the contract's encoder.
    function _body(address wallet, bytes32 investorId, uint16 country, uint64 expiresAt, uint32 flags, uint64 version)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encode(uint8(3), wallet, investorId, country, expiresAt, flags, version);
    }

    /// Messages `first` and `first + 1` went to REMOTE_A and REMOTE_B with the exact body.
    function _assertDispatched(uint256 first, address wallet, uint16 country, uint32 flags, uint64 version)
        internal
        view
    {
        bytes memory body = _body(wallet, INVESTOR, country, expiry, flags, version);
        RecordingMailbox.Dispatched memory a = mailbox.sent(first);
        RecordingMailbox.Dispatched memory b = mailbox.sent(first + 1);
        assertEq(a.sender, address(registry), "sender");
        assertEq(a.destination, REMOTE_A, "destination A");
        assertEq(a.recipient, MIRROR_A, "mirror A");
        assertEq(a.body, body, "body to A");
        assertEq(b.destination, REMOTE_B, "destination B");
        assertEq(b.recipient, MIRROR_B, "mirror B");
        assertEq(b.body, body, "body to B");
    }
}
