// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ballot} from "../src/Ballot.sol";
import {VoteManager} from "../src/VoteManager.sol";
import {IBallot, IVoteManager, VoteRoot} from "../src/interfaces/IVotes.sol";
import {VoteLib} from "../src/libs/VoteLib.sol";
import {BridgeFixture} from "./utils/BridgeFixture.sol";
import {AttackerApp} from "./utils/BridgeDoubles.sol";
import {SortedTree} from "./utils/SortedTree.sol";

/// @notice A holder vote over the two-chain fixture: roots go out as proven messages, each
/// holder votes once per chain with that chain's power (itself or by an EIP-712 signature),
/// tallies come home once and only from the enrolled ballot's proven message.
contract VoteTest is BridgeFixture {
    VoteManager internal manager;
    Ballot internal homeBallot;
    Ballot internal remoteBallot;
    AttackerApp internal app;
    uint256 internal daveKey = uint256(keccak256("dave"));
    address internal dave;

    uint64 internal id;
    uint64 internal closes;
    // remote powers: alice 600, bob 300, dave 100; home power: alice 50
    address[3] internal voters;
    uint256[3] internal powers = [uint256(600), 300, 100];
    bytes32[] internal leaves;

    function setUp() public override {
        super.setUp();
        dave = vm.addr(daveKey);
        app = new AttackerApp();
        voters = [alice, bob, dave];
        vm.chainId(HOME);
        manager = new VoteManager(homeMailbox, owner);
        homeBallot = new Ballot(homeMailbox, HOME, owner);
        vm.chainId(REMOTE);
        remoteBallot = new Ballot(remoteMailbox, HOME, owner);
        vm.startPrank(owner);
        manager.enrollBallot(HOME, address(homeBallot));
        manager.enrollBallot(REMOTE, address(remoteBallot));
        homeBallot.enrollManager(address(manager));
        remoteBallot.enrollManager(address(manager));
        manager.grantRole(manager.AGENT_ROLE(), agent);
        vm.stopPrank();
        vm.chainId(HOME);
        vm.warp(T0 + 10 days);
        closes = uint64(T0 + 20 days);
        vm.prank(agent);
        id = manager.open(address(homeToken), uint64(T0 + 1 days), closes, 3, keccak256("Merge with Beta?"));
        for (uint256 i; i < 3; ++i) {
            leaves.push(VoteLib.leaf(REMOTE, id, voters[i], powers[i]));
        }
        vm.startPrank(agent);
        manager.commitRoot(id, REMOTE, SortedTree.root(leaves), 1_000);
        manager.commitRoot(id, HOME, VoteLib.leaf(HOME, id, alice, 50), 50);
        vm.stopPrank();
        _relayAll(HOME);
    }

    function _proof(uint256 i) internal view returns (bytes32[] memory) {
        return SortedTree.proof(leaves, i);
    }

    function test_votesOnEveryChain_tallyHomeOnce() public {
        vm.prank(alice);
        remoteBallot.vote(id, 0, 600, _proof(0));
        vm.prank(bob);
        remoteBallot.vote(id, 1, 300, _proof(1));
        vm.prank(alice); // alice's home part, on the home chain
        homeBallot.vote(id, 2, 50, new bytes32[](0));
        vm.warp(closes);
        remoteBallot.sendTally(id);
        homeBallot.sendTally(id);
        _relayAll(REMOTE);
        uint256[] memory t = manager.totals(id);
        vm.assertEq(t[0], 600, "yes");
        vm.assertEq(t[1], 300, "no");
        vm.assertEq(t[2], 50, "abstain");
        vm.assertTrue(manager.tallied(id, REMOTE) && manager.tallied(id, HOME), "both reported");
        vm.expectRevert(abi.encodeWithSelector(IBallot.TallyAlreadySent.selector, id));
        remoteBallot.sendTally(id);
    }

    function test_doubleVote_refused() public {
        vm.prank(alice);
        remoteBallot.vote(id, 0, 600, _proof(0));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IBallot.AlreadyVoted.selector, id, alice));
        remoteBallot.vote(id, 1, 600, _proof(0));
    }

    function test_voteBySig_anyoneSubmits_once() public {
        bytes32 digest = remoteBallot.voteDigest(id, dave, 1, 100);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(daveKey, digest);
        bytes memory sig = abi.encodePacked(r, s, v);
        vm.prank(stranger);
        remoteBallot.voteBySig(id, dave, 1, 100, _proof(2), sig);
        vm.assertEq(remoteBallot.poll(id).tally[1], 100, "counted");
        vm.expectRevert(abi.encodeWithSelector(IBallot.AlreadyVoted.selector, id, dave));
        remoteBallot.voteBySig(id, dave, 1, 100, _proof(2), sig);
        // a signature for another option does not pass for this one
        vm.expectRevert(abi.encodeWithSelector(IBallot.BadSignature.selector, bob));
        remoteBallot.voteBySig(id, bob, 1, 300, _proof(1), sig);
    }

    function test_vote_withAnothersProof_orPower_refused() public {
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(IBallot.InvalidProof.selector, bob));
        remoteBallot.vote(id, 0, 600, _proof(0));
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(IBallot.InvalidProof.selector, bob));
        remoteBallot.vote(id, 0, 301, _proof(1));
    }

    function test_vote_afterClose_refused() public {
        vm.warp(closes);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IBallot.VoteClosed.selector, id, closes));
        remoteBallot.vote(id, 0, 600, _proof(0));
        vm.expectRevert(abi.encodeWithSelector(IBallot.StillOpen.selector, id + 0, closes));
        vm.warp(closes - 1);
        remoteBallot.sendTally(id);
    }

    function test_tally_fromAnotherApp_refused() public {
        uint256[] memory forged = new uint256[](3);
        forged[0] = 1e30;
        app.dispatch(remoteMailbox, HOME, address(manager), VoteLib.encodeTally(id, forged));
        relay.sync();
        uint32 nonce = _last(REMOTE);
        vm.expectRevert(abi.encodeWithSelector(IVoteManager.NotBallot.selector, REMOTE, _b32(address(app))));
        relay.process(REMOTE, nonce);
        vm.assertEq(manager.totals(id)[0], 0, "nothing counted");
        // nor directly, nor as the home ballot
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IVoteManager.NotMailbox.selector, stranger));
        manager.handle(REMOTE, _b32(address(remoteBallot)), VoteLib.encodeTally(id, forged));
        vm.prank(stranger);
        vm.expectRevert();
        manager.recordLocal(id, forged);
    }

    function test_root_fromAnotherApp_refused() public {
        VoteRoot memory r = VoteRoot(9, closes, 3, 1e30, keccak256("mine"));
        app.dispatch(homeMailbox, REMOTE, address(remoteBallot), VoteLib.encodeRoot(r));
        relay.sync();
        uint32 nonce = _last(HOME);
        vm.expectRevert(abi.encodeWithSelector(IBallot.NotManager.selector, HOME, _b32(address(app))));
        relay.process(HOME, nonce);
    }
}
