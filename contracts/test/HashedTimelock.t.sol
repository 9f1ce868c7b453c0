// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {TokenFixture} from "./utils/TokenFixture.sol";
import {Cheats} from "./utils/BaseTest.sol";
import {ReentrantToken, FeeOnTransferToken} from "./utils/HostileTokens.sol";
import {HashedTimelock} from "../src/HashedTimelock.sol";
import {PaymentToken} from "../src/PaymentToken.sol";
import {Restriction} from "../src/interfaces/ISecurityToken.sol";
import {TokenRules} from "../src/TokenRules.sol";

contract HashedTimelockTest is TokenFixture {
    bytes32 constant SECRET = keccak256("the buyer's secret");
    bytes32 hashlock;
    HashedTimelock htlc;
    PaymentToken dusd;
    address owner = makeAddr("owner");
    uint64 deadline;

    function setUp() public override {
        super.setUp();
        hashlock = sha256(abi.encodePacked(SECRET));
        deadline = uint64(block.timestamp + 1 hours);
        htlc = new HashedTimelock(owner);
        dusd = new PaymentToken("Devnet USD", "dUSD", 6, owner);
        vm.prank(admin);
        token.setCustodian(address(htlc), true);
        vm.prank(owner);
        htlc.setSecurityToken(address(token), true);
        _mint(alice, 1000);
        vm.prank(owner);
        dusd.mint(bob, 5000e6);
        vm.prank(alice);
        token.approve(address(htlc), type(uint256).max);
        vm.prank(bob);
        dusd.approve(address(htlc), type(uint256).max);
    }

    function _lockShares(uint256 amount) internal returns (bytes32) {
        vm.prank(alice);
        return htlc.lock(address(token), bob, amount, hashlock, deadline);
    }

    function _lockPayment(uint256 amount) internal returns (bytes32) {
        vm.prank(bob);
        return htlc.lock(address(dusd), alice, amount, hashlock, deadline);
    }

    // ------------------------------------------------------------------ lock

    function test_lock_pullsTokens_andRecordsTheLock() public {
        bytes32 expectedId = keccak256(abi.encode(block.chainid, address(htlc), alice, uint256(0)));
        vm.expectEmit(true, true, false, true, address(htlc));
        emit HashedTimelock.Locked(expectedId, hashlock, address(token), alice, bob, 100, deadline);
        bytes32 id = _lockShares(100);
        assertEq(id, expectedId, "lockId = keccak256(chainid, this, sender, nonce)");
        assertEq(token.balanceOf(address(htlc)), 100, "held");
        assertEq(token.balanceOf(alice), 900, "pulled");
        HashedTimelock.Lock memory l = htlc.getLock(id);
        assertEq(l.token, address(token), "token");
        assertEq(l.sender, alice, "sender");
        assertEq(l.receiver, bob, "receiver");
        assertEq(l.amount, 100, "amount");
        assertEq(l.hashlock, hashlock, "hashlock");
        assertEq(l.expiry, deadline, "expiry");
        assertEq(uint256(l.state), uint256(HashedTimelock.State.Locked), "state");
        assertTrue(l.securityToken, "security token");
    }

    function test_lock_identicalTradesGetDistinctIds() public {
        bytes32 a = _lockPayment(10e6);
        bytes32 b = _lockPayment(10e6);
        assertTrue(a != b, "ids collide");
        assertEq(htlc.getLock(a).amount + htlc.getLock(b).amount, 20e6, "both held");
    }

    function test_lock_refusesBadInput() public {
        vm.startPrank(bob);
        vm.expectRevert(HashedTimelock.ZeroAmount.selector);
        htlc.lock(address(dusd), alice, 0, hashlock, deadline);
        vm.expectRevert(HashedTimelock.ZeroHashlock.selector);
        htlc.lock(address(dusd), alice, 1, bytes32(0), deadline);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.InvalidReceiver.selector, address(0)));
        htlc.lock(address(dusd), address(0), 1, hashlock, deadline);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.InvalidReceiver.selector, address(htlc)));
        htlc.lock(address(dusd), address(htlc), 1, hashlock, deadline);
        vm.expectRevert(HashedTimelock.ZeroAddress.selector);
        htlc.lock(address(0), alice, 1, hashlock, deadline);
        uint64 now_ = uint64(block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.ExpiryInPast.selector, now_, now_));
        htlc.lock(address(dusd), alice, 1, hashlock, now_); // boundary: expiring now is refused
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.ExpiryInPast.selector, now_ - 1, now_));
        htlc.lock(address(dusd), alice, 1, hashlock, now_ - 1);
        htlc.lock(address(dusd), alice, 1, hashlock, now_ + 1); // one second ahead is fine
        vm.stopPrank();
    }

    function test_lock_refusesIneligibleReceiver() public {
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                HashedTimelock.ReceiverRestricted.selector, address(token), stranger, Restriction.RECIPIENT_NOT_VERIFIED
            )
        );
        htlc.lock(address(token), stranger, 100, hashlock, deadline);
        vm.prank(agent);
        token.setMaxBalance(50);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                HashedTimelock.ReceiverRestricted.selector, address(token), bob, Restriction.MAX_BALANCE_EXCEEDED
            )
        );
        htlc.lock(address(token), bob, 100, hashlock, deadline);
        assertEq(token.balanceOf(alice), 1000, "nothing locked");
    }

    function test_lock_refusesSecurityTokenWithoutCustody() public {
        vm.prank(admin);
        token.setCustodian(address(htlc), false);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.NotTokenCustodian.selector, address(token)));
        htlc.lock(address(token), bob, 100, hashlock, deadline);
    }

    function test_lock_senderBoundByTokenRules() public {
        vm.prank(agent);
        token.setLockupUntil(uint64(block.timestamp + 1 days));
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                TokenRules.TransferRestricted.selector, Restriction.LOCKED_UP, alice, address(htlc), 100
            )
        );
        htlc.lock(address(token), bob, 100, hashlock, deadline);
    }

    function test_lock_refusesFeeOnTransferTokens() public {
        FeeOnTransferToken fee = new FeeOnTransferToken();
        fee.mint(bob, 1000);
        vm.startPrank(bob);
        fee.approve(address(htlc), 1000);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.AmountNotReceived.selector, 1000, 990));
        htlc.lock(address(fee), alice, 1000, hashlock, deadline);
        vm.stopPrank();
    }

    function test_setSecurityToken_onlyOwner() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        htlc.setSecurityToken(address(dusd), true);
        assertFalse(htlc.isSecurityToken(address(dusd)), "unchanged");
    }

    function test_ownership_twoStepTransfer() public {
        vm.prank(owner);
        htlc.transferOwnership(alice);
        assertEq(htlc.owner(), owner, "not before alice accepts");
        assertEq(htlc.pendingOwner(), alice, "pending");
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, bob));
        htlc.acceptOwnership();
        vm.prank(alice);
        htlc.acceptOwnership();
        assertEq(htlc.owner(), alice, "accepted");
    }

    // ------------------------------------------------------------------ claim

    function test_claim_paysReceiver_revealsPreimage_anyoneMayCall() public {
        bytes32 id = _lockShares(100);
        vm.expectEmit(true, true, false, true, address(htlc));
        emit HashedTimelock.Claimed(id, hashlock, SECRET);
        vm.prank(stranger);
        htlc.claim(id, SECRET);
        assertEq(token.balanceOf(bob), 100, "receiver paid");
        assertEq(token.balanceOf(address(htlc)), 0, "nothing left");
        assertEq(uint256(htlc.getLock(id).state), uint256(HashedTimelock.State.Claimed), "state");
    }

    function test_claim_wrongPreimage() public {
        bytes32 id = _lockPayment(10e6);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.WrongPreimage.selector, id));
        htlc.claim(id, keccak256("guess"));
        // the hashlock itself is not the preimage
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.WrongPreimage.selector, id));
        htlc.claim(id, hashlock);
    }

    /// The preimage is exactly 32 bytes: shorter calldata does not decode, and a secret of
    /// another length (here 64 bytes) cannot be presented at all.
    function test_claim_preimageOfWrongLength() public {
        bytes32 id = _lockPayment(10e6);
        bytes memory short = abi.encodePacked(HashedTimelock.claim.selector, id, bytes16(SECRET));
        (bool ok,) = address(htlc).call(short);
        assertFalse(ok, "16-byte preimage accepted");
        bytes32 longLock = sha256(abi.encodePacked(SECRET, SECRET));
        vm.prank(bob);
        bytes32 id2 = htlc.lock(address(dusd), alice, 1e6, longLock, deadline);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.WrongPreimage.selector, id2));
        htlc.claim(id2, SECRET);
        assertEq(dusd.balanceOf(alice), 0, "nothing paid");
    }

    function test_claim_atExpiry_refused() public {
        bytes32 id = _lockPayment(10e6);
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.TimelockExpired.selector, id, deadline, deadline));
        htlc.claim(id, SECRET);
    }

    function test_claim_afterExpiry_refused() public {
        bytes32 id = _lockPayment(10e6);
        vm.warp(deadline + 1 days);
        vm.expectRevert(
            abi.encodeWithSelector(HashedTimelock.TimelockExpired.selector, id, deadline, deadline + 1 days)
        );
        htlc.claim(id, SECRET);
    }

    function test_claim_oneSecondBeforeExpiry() public {
        bytes32 id = _lockPayment(10e6);
        vm.warp(deadline - 1);
        htlc.claim(id, SECRET);
        assertEq(dusd.balanceOf(alice), 10e6, "paid");
    }

    function test_claim_twice_refused() public {
        bytes32 id = _lockPayment(10e6);
        htlc.claim(id, SECRET);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.LockNotOpen.selector, id, HashedTimelock.State.Claimed));
        htlc.claim(id, SECRET);
        assertEq(dusd.balanceOf(alice), 10e6, "paid once");
    }

    function test_claim_unknownLock_refused() public {
        bytes32 id = keccak256("nothing");
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.LockNotOpen.selector, id, HashedTimelock.State.None));
        htlc.claim(id, SECRET);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.LockNotOpen.selector, id, HashedTimelock.State.None));
        htlc.refund(id);
    }

    // ------------------------------------------------------------------ refund

    function test_refund_beforeExpiry_refused() public {
        bytes32 id = _lockPayment(10e6);
        uint64 now_ = uint64(block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.TimelockNotExpired.selector, id, deadline, now_));
        htlc.refund(id);
        vm.warp(deadline - 1);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.TimelockNotExpired.selector, id, deadline, deadline - 1));
        htlc.refund(id);
    }

    function test_refund_atExpiry_anyoneMayCall() public {
        bytes32 id = _lockPayment(10e6);
        vm.warp(deadline);
        vm.expectEmit(true, true, false, true, address(htlc));
        emit HashedTimelock.Refunded(id, hashlock);
        vm.prank(stranger);
        htlc.refund(id);
        assertEq(dusd.balanceOf(bob), 5000e6, "sender refunded");
        assertEq(uint256(htlc.getLock(id).state), uint256(HashedTimelock.State.Refunded), "state");
    }

    function test_fuzz_refund(uint64 t) public {
        bytes32 id = _lockPayment(10e6);
        t = uint64(bound(t, block.timestamp, uint256(deadline) + 365 days));
        vm.warp(t);
        (bool ok,) = address(htlc).call(abi.encodeCall(htlc.refund, (id)));
        assertEq(ok, t >= deadline, "refund iff at or after expiry");
    }

    function test_fuzz_claim(uint64 t) public {
        bytes32 id = _lockPayment(10e6);
        t = uint64(bound(t, block.timestamp, uint256(deadline) + 365 days));
        vm.warp(t);
        (bool ok,) = address(htlc).call(abi.encodeCall(htlc.claim, (id, SECRET)));
        assertEq(ok, t < deadline, "claim iff before expiry");
    }

    function test_claimAfterRefund_refused() public {
        bytes32 id = _lockPayment(10e6);
        vm.warp(deadline);
        htlc.refund(id);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.LockNotOpen.selector, id, HashedTimelock.State.Refunded));
        htlc.claim(id, SECRET);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.LockNotOpen.selector, id, HashedTimelock.State.Refunded));
        htlc.refund(id);
        assertEq(dusd.balanceOf(address(htlc)), 0, "empty");
        assertEq(dusd.balanceOf(alice), 0, "receiver got nothing");
    }

    function test_refundAfterClaim_refused() public {
        bytes32 id = _lockPayment(10e6);
        htlc.claim(id, SECRET);
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(HashedTimelock.LockNotOpen.selector, id, HashedTimelock.State.Claimed));
        htlc.refund(id);
        assertEq(dusd.balanceOf(bob), 5000e6 - 10e6, "sender not refunded");
    }

    // ------------------------------------------------------------------ compliance between lock and settle

    function test_receiverRevokedAfterLock_claimFails_refundWorks() public {
        bytes32 id = _lockShares(100);
        vm.prank(agent);
        registry.revoke(bob);
        vm.expectRevert(
            abi.encodeWithSelector(
                TokenRules.TransferRestricted.selector, Restriction.RECIPIENT_NOT_VERIFIED, address(htlc), bob, 100
            )
        );
        htlc.claim(id, SECRET);
        assertEq(uint256(htlc.getLock(id).state), uint256(HashedTimelock.State.Locked), "still open");
        vm.warp(deadline);
        htlc.refund(id);
        assertEq(token.balanceOf(alice), 1000, "seller has her shares back");
        assertEq(token.balanceOf(bob), 0, "revoked buyer got nothing");
    }

    function test_senderRevokedAfterLock_refundStillWorks() public {
        bytes32 id = _lockShares(100);
        vm.prank(agent);
        registry.revoke(alice);
        // refund goes through `release`, which skips the recipient rules
        vm.prank(owner);
        htlc.setSecurityToken(address(token), false); // the lock keeps the marking it was made with
        vm.warp(deadline);
        htlc.refund(id);
        assertEq(token.balanceOf(alice), 1000, "revoked seller refunded");
    }

    function test_pausedToken_blocksSettlementUntilUnpaused() public {
        bytes32 id = _lockShares(100);
        vm.prank(agent);
        token.pause();
        vm.expectRevert(
            abi.encodeWithSelector(TokenRules.TransferRestricted.selector, Restriction.PAUSED, address(htlc), bob, 100)
        );
        htlc.claim(id, SECRET);
        vm.warp(deadline);
        vm.expectRevert(
            abi.encodeWithSelector(
                TokenRules.TransferRestricted.selector, Restriction.PAUSED, address(htlc), alice, 100
            )
        );
        htlc.refund(id);
        vm.prank(agent);
        token.unpause();
        htlc.refund(id);
        assertEq(token.balanceOf(alice), 1000, "refunded after the pause");
    }

    // ------------------------------------------------------------------ reentrancy

    function test_reentrancy_duringClaim_blocked() public {
        ReentrantToken evil = new ReentrantToken();
        evil.mint(bob, 100);
        vm.prank(bob);
        evil.approve(address(htlc), 100);
        vm.prank(bob);
        bytes32 id = htlc.lock(address(evil), alice, 100, hashlock, deadline);
        // while paying alice, the token tries to claim the same lock again
        evil.arm(address(htlc), abi.encodeCall(htlc.claim, (id, SECRET)));
        htlc.claim(id, SECRET);
        assertTrue(evil.attempted(), "reentry attempted");
        assertFalse(evil.reentrySucceeded(), "reentry succeeded");
        assertEq(
            evil.reentryResult(),
            abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector),
            "stopped by the guard"
        );
        assertEq(evil.balanceOf(alice), 100, "paid once");
    }

    function test_reentrancy_refundDuringClaim_blocked() public {
        ReentrantToken evil = new ReentrantToken();
        evil.mint(bob, 100);
        vm.startPrank(bob);
        evil.approve(address(htlc), 100);
        bytes32 id = htlc.lock(address(evil), alice, 100, hashlock, deadline);
        vm.stopPrank();
        vm.warp(deadline - 1);
        evil.arm(address(htlc), abi.encodeCall(htlc.refund, (id)));
        htlc.claim(id, SECRET);
        assertFalse(evil.reentrySucceeded(), "refund inside claim");
        assertEq(evil.balanceOf(bob), 0, "sender not refunded too");
        assertEq(evil.balanceOf(alice), 100, "receiver paid");
    }

    function test_reentrancy_duringLock_blocked() public {
        ReentrantToken evil = new ReentrantToken();
        evil.mint(bob, 200);
        vm.startPrank(bob);
        evil.approve(address(htlc), 200);
        evil.arm(address(htlc), abi.encodeCall(htlc.lock, (address(evil), alice, 100, hashlock, deadline)));
        htlc.lock(address(evil), alice, 100, hashlock, deadline);
        vm.stopPrank();
        assertFalse(evil.reentrySucceeded(), "nested lock");
        assertEq(htlc.lockCount(), 1, "one lock");
    }

    // ------------------------------------------------------------------ a whole DvP

    /// What a watcher reads: the preimage in the Claimed event of `lockId`.
    function _revealedPreimage(bytes32 lockId) internal returns (bytes32) {
        Cheats.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics[0] == HashedTimelock.Claimed.selector && logs[i].topics[1] == lockId) {
                return abi.decode(logs[i].data, (bytes32));
            }
        }
        revert("no Claimed event");
    }

    function test_claim_eventBeforeTokensMove() public {
        bytes32 id = _lockPayment(10e6);
        vm.recordLogs();
        htlc.claim(id, SECRET);
        Cheats.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs[0].topics[0], HashedTimelock.Claimed.selector, "Claimed first");
        assertEq(logs[1].emitter, address(dusd), "then the token's Transfer");
    }

    /// Buyer (bob) locks payment for the seller; seller (alice) locks shares for the buyer with
    /// an earlier expiry; the buyer claims the shares, revealing the secret, which the
    /// relayer (a stranger) uses to claim the payment for the seller.
    function test_dvp_bothLegsSettle() public {
        vm.prank(bob);
        bytes32 payLeg = htlc.lock(address(dusd), alice, 2500e6, hashlock, deadline + 1 hours);
        vm.prank(alice);
        bytes32 shareLeg = htlc.lock(address(token), bob, 100, hashlock, deadline);
        vm.recordLogs();
        vm.prank(bob);
        htlc.claim(shareLeg, SECRET);
        bytes32 revealed = _revealedPreimage(shareLeg);
        vm.prank(stranger);
        htlc.claim(payLeg, revealed);
        assertEq(token.balanceOf(bob), 100, "buyer has the shares");
        assertEq(dusd.balanceOf(alice), 2500e6, "seller has the payment");
    }
}
