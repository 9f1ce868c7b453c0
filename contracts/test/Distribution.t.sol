// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {DistributionManager} from "../src/DistributionManager.sol";
import {Distributor} from "../src/Distributor.sol";
import {PaymentToken} from "../src/PaymentToken.sol";
import {IDistributor, IDistributionManager, DistributionRoot} from "../src/interfaces/IDistributions.sol";
import {IMailbox} from "../src/interfaces/IMailbox.sol";
import {DistributionLib} from "../src/libs/DistributionLib.sol";
import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {AttackerApp} from "./utils/BridgeDoubles.sol";
import {SortedTree} from "./utils/SortedTree.sol";

/// @notice Distributions over the two-chain fixture: the home manager commits a root per chain,
/// the remote root arrives as a proven message, holders are paid once, blocked holders are
/// reserved, withholding goes to the tax account, and close returns the unclaimed part.
contract DistributionTest is BridgeFixture {
    DistributionManager internal manager;
    Distributor internal homeDist;
    Distributor internal remoteDist;
    PaymentToken internal homeUsd;
    PaymentToken internal remoteUsd;
    address internal tax = _named("tax");
    address internal treasury = _named("treasury");
    AttackerApp internal app;

    uint64 internal id;
    uint64 internal until;
    // remote leaves: alice 600 (60 withheld), bob 300, carol 100 (10 withheld)
    address[3] internal holders;
    uint256[3] internal gross = [uint256(600), 300, 100];
    uint256[3] internal withheld = [uint256(60), 0, 10];
    bytes32[] internal leaves;

    function setUp() public override {
        super.setUp();
        app = new AttackerApp();
        holders = [alice, bob, carol];
        vm.chainId(HOME);
        manager = new DistributionManager(homeMailbox, owner);
        homeDist = new Distributor(homeMailbox, HOME, registry, owner);
        homeUsd = new PaymentToken("USD", "USD", 6, owner);
        vm.chainId(REMOTE);
        remoteDist = new Distributor(remoteMailbox, HOME, mirror, owner);
        remoteUsd = new PaymentToken("USD", "USD", 6, owner);
        vm.chainId(HOME);
        vm.startPrank(owner);
        manager.enrollDistributor(HOME, address(homeDist));
        manager.enrollDistributor(REMOTE, address(remoteDist));
        homeDist.enrollManager(address(manager));
        remoteDist.enrollManager(address(manager));
        homeDist.setTaxAccount(tax);
        remoteDist.setTaxAccount(tax);
        manager.grantRole(manager.AGENT_ROLE(), agent);
        homeDist.grantRole(homeDist.AGENT_ROLE(), agent);
        remoteDist.grantRole(remoteDist.AGENT_ROLE(), agent);
        homeUsd.mint(owner, 1e12);
        remoteUsd.mint(owner, 1e12);
        vm.stopPrank();

        vm.warp(T0 + 10 days);
        until = uint64(T0 + 40 days);
        vm.prank(agent);
        id = manager.declare(address(homeToken), uint64(T0 + 1 days), 1_500, until);
        for (uint256 i; i < 3; ++i) {
            leaves.push(DistributionLib.leaf(REMOTE, id, holders[i], gross[i], withheld[i]));
        }
        vm.prank(agent);
        manager.commitRoot(id, REMOTE, address(remoteUsd), SortedTree.root(leaves), 1_000);
        _relayAll(HOME);
    }

    function _proof(uint256 i) internal view returns (bytes32[] memory) {
        return SortedTree.proof(leaves, i);
    }

    function _fund(uint256 amount) internal {
        vm.startPrank(owner);
        remoteUsd.approve(address(remoteDist), amount);
        remoteDist.fund(id, amount);
        vm.stopPrank();
    }

    function _payments() internal view returns (IDistributor.Payment[] memory p) {
        p = new IDistributor.Payment[](3);
        for (uint256 i; i < 3; ++i) {
            p[i] = IDistributor.Payment(holders[i], gross[i], withheld[i], _proof(i));
        }
    }

    // ------------------------------------------------------------------ roots

    function test_remoteRoot_arrivesByProvenMessage() public view {
        IDistributor.Accounts memory a = remoteDist.accounts(id);
        vm.assertEq(a.root, SortedTree.root(leaves), "a.root, SortedTree.root(leaves)");
        vm.assertEq(a.total, 1_000, "a.total, 1_000");
        vm.assertEq(a.claimUntil, until, "a.claimUntil, until");
        vm.assertEq(a.paymentToken, address(remoteUsd), "a.paymentToken, address(remoteUsd)");
    }

    function test_root_fromAnotherAppOnHome_refused() public {
        DistributionRoot memory r = DistributionRoot(7, address(remoteUsd), 1e9, until, keccak256("mine"));
        app.dispatch(homeMailbox, REMOTE, address(remoteDist), DistributionLib.encodeRoot(r));
        relay.sync();
        uint32 nonce = _last(HOME);
        vm.expectRevert(abi.encodeWithSelector(IDistributor.NotManager.selector, HOME, _b32(address(app))));
        relay.process(HOME, nonce);
        relay.processBatch(HOME, nonce, nonce); // in a batch it fails alone and stays undelivered
        vm.assertFalse(relay.isDelivered(HOME, nonce), "stays undelivered");
        vm.assertEq(remoteDist.accounts(7).root, bytes32(0), "remoteDist.accounts(7).root, bytes32(0)");
    }

    function test_root_directCalls_refused() public {
        DistributionRoot memory r = DistributionRoot(7, address(remoteUsd), 1e9, until, keccak256("mine"));
        bytes memory body = DistributionLib.encodeRoot(r);
        vm.prank(owner); // not even the owner
        vm.expectRevert(abi.encodeWithSelector(IDistributor.NotMailbox.selector, owner));
        remoteDist.handle(HOME, _b32(address(manager)), body);
        vm.prank(address(manager)); // the manager's address has no say on a remote chain but by message
        vm.expectRevert();
        remoteDist.openLocal(r);
        vm.prank(owner);
        vm.expectRevert();
        homeDist.openLocal(r);
    }

    function test_root_fromRemoteOrigin_refused() public {
        DistributionRoot memory r = DistributionRoot(7, address(homeUsd), 1e9, until, keccak256("mine"));
        // a message from the remote chain claiming to be the manager: wrong origin
        vm.prank(address(homeMailbox));
        vm.expectRevert(abi.encodeWithSelector(IDistributor.NotManager.selector, REMOTE, _b32(address(manager))));
        homeDist.handle(REMOTE, _b32(address(manager)), DistributionLib.encodeRoot(r));
    }

    function test_commit_overDeclared_refused() public {
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(IDistributionManager.OverCommitted.selector, id, 1_501, 1_500));
        manager.commitRoot(id, HOME, address(homeUsd), keccak256("x"), 501);
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(IDistributionManager.AlreadyCommitted.selector, id, REMOTE));
        manager.commitRoot(id, REMOTE, address(remoteUsd), keccak256("x"), 1);
    }

    function test_homeRoot_opensLocally() public {
        bytes32[] memory one = new bytes32[](1);
        one[0] = DistributionLib.leaf(HOME, id, alice, 500, 0);
        vm.prank(agent);
        manager.commitRoot(id, HOME, address(homeUsd), one[0], 500);
        vm.startPrank(owner);
        homeUsd.approve(address(homeDist), 500);
        homeDist.fund(id, 500);
        vm.stopPrank();
        vm.prank(alice);
        homeDist.claim(id, 500, 0, new bytes32[](0));
        vm.assertEq(homeUsd.balanceOf(alice), 500, "homeUsd.balanceOf(alice), 500");
    }

    function test_declare_badDates_refused() public {
        vm.prank(agent);
        vm.expectRevert(
            abi.encodeWithSelector(IDistributionManager.BadDates.selector, uint64(block.timestamp), until)
        );
        manager.declare(address(homeToken), uint64(block.timestamp), 1, until);
        vm.prank(stranger); // not the agent
        vm.expectRevert();
        manager.declare(address(homeToken), uint64(T0), 1, until);
    }

    // ------------------------------------------------------------------ payments

    function test_push_paysEachOnce_withholdingSums() public {
        _fund(1_000);
        (uint256 paid, uint256 reserved) = remoteDist.pay(id, _payments());
        vm.assertEq(paid, 3, "paid, 3");
        vm.assertEq(reserved, 0, "reserved, 0");
        vm.assertEq(remoteUsd.balanceOf(alice), 540, "remoteUsd.balanceOf(alice), 540");
        vm.assertEq(remoteUsd.balanceOf(bob), 300, "remoteUsd.balanceOf(bob), 300");
        vm.assertEq(remoteUsd.balanceOf(carol), 90, "remoteUsd.balanceOf(carol), 90");
        vm.assertEq(remoteUsd.balanceOf(tax), 70, "remoteUsd.balanceOf(tax), 70");
        vm.assertEq(remoteUsd.balanceOf(address(remoteDist)), 0, "remoteUsd.balanceOf(address(remoteDist)), 0");
        // resent: nothing paid twice
        (paid, reserved) = remoteDist.pay(id, _payments());
        vm.assertEq(paid + reserved, 0, "paid + reserved, 0");
        vm.assertEq(remoteUsd.balanceOf(alice), 540, "remoteUsd.balanceOf(alice), 540");
        vm.assertEq(remoteDist.accounts(id).paid, 1_000, "remoteDist.accounts(id).paid, 1_000");
    }

    function test_claim_double_refused() public {
        _fund(1_000);
        vm.prank(alice);
        remoteDist.claim(id, 600, 60, _proof(0));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IDistributor.AlreadySettled.selector, id, alice));
        remoteDist.claim(id, 600, 60, _proof(0));
        // nor pushed after a claim
        IDistributor.Payment[] memory p = new IDistributor.Payment[](1);
        p[0] = IDistributor.Payment(alice, 600, 60, _proof(0));
        (uint256 paid,) = remoteDist.pay(id, p);
        vm.assertEq(paid, 0, "paid, 0");
        vm.assertEq(remoteUsd.balanceOf(alice), 540, "remoteUsd.balanceOf(alice), 540");
    }

    function test_claim_withAnotherHoldersProof_refused() public {
        _fund(1_000);
        vm.prank(carol); // carol presents alice's leaf and proof
        vm.expectRevert(abi.encodeWithSelector(IDistributor.InvalidProof.selector, carol));
        remoteDist.claim(id, 600, 60, _proof(0));
        vm.prank(carol); // or inflates her own
        vm.expectRevert(abi.encodeWithSelector(IDistributor.InvalidProof.selector, carol));
        remoteDist.claim(id, 101, 10, _proof(2));
    }

    function test_leaf_ofAnotherChain_differs() public view {
        // the same holder and amount committed for HOME does not verify on REMOTE
        bytes32[] memory one = new bytes32[](1);
        one[0] = DistributionLib.leaf(HOME, id, alice, 600, 60);
        vm.assertTrue(one[0] != leaves[0], "one[0] != leaves[0]");
    }

    function test_pay_pastDeadline_refused() public {
        _fund(1_000);
        vm.warp(until);
        vm.expectRevert(abi.encodeWithSelector(IDistributor.ClaimClosed.selector, id, until));
        remoteDist.pay(id, _payments());
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IDistributor.ClaimClosed.selector, id, until));
        remoteDist.claim(id, 600, 60, _proof(0));
    }

    function test_fundsShort_refused_thenResumes() public {
        _fund(700);
        vm.expectRevert(abi.encodeWithSelector(IDistributor.FundsShort.selector, id, 300, 100));
        remoteDist.pay(id, _payments());
        vm.assertEq(remoteUsd.balanceOf(alice), 0, "the batch reverted whole");
        _fund(300);
        remoteDist.pay(id, _payments());
        vm.assertEq(remoteDist.accounts(id).paid, 1_000, "remoteDist.accounts(id).paid, 1_000");
        vm.startPrank(owner);
        remoteUsd.approve(address(remoteDist), 1);
        vm.expectRevert(abi.encodeWithSelector(IDistributor.OverFunded.selector, id, 1_001, 1_000));
        remoteDist.fund(id, 1);
        vm.stopPrank();
    }

    function test_revokedOrFrozen_reserved_thenReleasedOrReclaimed() public {
        vm.startPrank(agent);
        registry.revoke(bob);
        registry.freeze(carol);
        vm.stopPrank();
        _relayAll(HOME); // the mirror learns it
        _fund(1_000);
        (uint256 paid, uint256 reserved) = remoteDist.pay(id, _payments());
        vm.assertEq(paid, 1, "paid, 1");
        vm.assertEq(reserved, 2, "reserved, 2");
        vm.assertEq(remoteUsd.balanceOf(bob), 0, "remoteUsd.balanceOf(bob), 0");
        vm.assertEq(remoteUsd.balanceOf(carol), 0, "remoteUsd.balanceOf(carol), 0");
        IDistributor.Accounts memory a = remoteDist.accounts(id);
        vm.assertEq(a.reserved, 400, "a.reserved, 400");
        vm.assertEq(remoteUsd.balanceOf(address(remoteDist)), 400, "remoteUsd.balanceOf(address(remoteDist)), 400");
        // a reserved holder cannot claim it either
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(IDistributor.AlreadySettled.selector, id, bob));
        remoteDist.claim(id, 300, 0, _proof(1));
        // release needs the holder unblocked
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(IDistributor.HolderBlocked.selector, carol));
        remoteDist.release(id, carol);
        vm.prank(agent);
        registry.unfreeze(carol);
        _relayAll(HOME);
        vm.prank(agent);
        remoteDist.release(id, carol);
        vm.assertEq(remoteUsd.balanceOf(carol), 90, "remoteUsd.balanceOf(carol), 90");
        // close leaves the reserved amount alone; reclaim returns it
        vm.warp(until);
        uint256 before = remoteUsd.balanceOf(treasury);
        vm.prank(agent);
        remoteDist.close(id, treasury);
        vm.assertEq(remoteUsd.balanceOf(treasury), before, "remoteUsd.balanceOf(treasury), before");
        vm.assertEq(remoteDist.accounts(id).reserved, 300, "remoteDist.accounts(id).reserved, 300");
        vm.prank(agent);
        remoteDist.reclaim(id, bob, treasury);
        vm.assertEq(remoteUsd.balanceOf(treasury), 300, "remoteUsd.balanceOf(treasury), 300");
        vm.assertEq(remoteUsd.balanceOf(address(remoteDist)), 0, "remoteUsd.balanceOf(address(remoteDist)), 0");
    }

    function test_close_returnsUnclaimed_onlyAfterDeadline() public {
        _fund(1_000);
        vm.prank(alice);
        remoteDist.claim(id, 600, 60, _proof(0));
        vm.prank(agent);
        vm.expectRevert(abi.encodeWithSelector(IDistributor.StillOpen.selector, id, until));
        remoteDist.close(id, treasury);
        vm.warp(until);
        vm.prank(agent);
        remoteDist.close(id, treasury);
        vm.assertEq(remoteUsd.balanceOf(treasury), 400, "remoteUsd.balanceOf(treasury), 400");
        vm.prank(stranger);
        vm.expectRevert();
        remoteDist.close(id, stranger);
    }
}
