// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {BaseTest, Cheats} from "./utils/BaseTest.sol";
import {TokenFixture} from "./utils/TokenFixture.sol";
import {SecurityToken} from "../src/SecurityToken.sol";
import {IdentityRegistry} from "../src/IdentityRegistry.sol";

/// Drives a SecurityToken with every mover, played by investors, the agent, the bridge
/// and custodians, while rules and identities change underneath. Reverts are expected
/// (fail_on_revert = false); what succeeds is watched through ghost flags.
contract TokenHandler {
    Cheats internal constant vm = Cheats(address(uint160(uint256(keccak256("hevm cheat code")))));

    SecurityToken public immutable token;
    IdentityRegistry public immutable registry;
    address public immutable agent;
    address public immutable bridge;
    address public immutable admin;
    address[] public actors;
    uint64 public immutable expiry;

    /// A plain transfer moved tokens its sender had frozen.
    bool public frozenMoved;
    /// A rule-bound mover created a holder beyond the maximum.
    bool public holderBeyondMax;
    uint256 public successes;

    constructor(
        SecurityToken token_,
        IdentityRegistry registry_,
        address agent_,
        address bridge_,
        address admin_,
        address[] memory actors_,
        uint64 expiry_
    ) {
        token = token_;
        registry = registry_;
        agent = agent_;
        bridge = bridge_;
        admin = admin_;
        actors = actors_;
        expiry = expiry_;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    /// A rule-bound movement: checks the ghosts around it.
    function _watch(address from, address to, bytes memory call, address caller) internal {
        uint256 frozen = from == address(0) ? 0 : token.getFrozenTokens(from);
        uint256 before = from == address(0) ? 0 : token.balanceOf(from);
        bool newHolder = to != address(0) && token.balanceOf(to) == 0 && !token.isCustodian(to);
        vm.prank(caller);
        (bool ok,) = address(token).call(call);
        if (!ok) return;
        ++successes;
        if (from != address(0) && before >= frozen && token.balanceOf(from) < frozen) frozenMoved = true;
        uint256 max = token.maxHolders();
        if (newHolder && token.balanceOf(to) != 0 && max != 0 && token.holderCount() > max) holderBeyondMax = true;
    }

    function transfer(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        address from = _actor(fromSeed);
        address to = _actor(toSeed);
        amount = amount % (token.balanceOf(from) + 2);
        _watch(from, to, abi.encodeCall(token.transfer, (to, amount)), from);
    }

    function transferAll(uint256 fromSeed, uint256 toSeed) external {
        address from = _actor(fromSeed);
        address to = _actor(toSeed);
        _watch(from, to, abi.encodeCall(token.transfer, (to, token.balanceOf(from))), from);
    }

    function mint(uint256 toSeed, uint256 amount, bool viaBridge) external {
        address to = _actor(toSeed);
        amount = amount % 1000;
        bytes memory call =
            viaBridge ? abi.encodeCall(token.bridgeMint, (to, amount)) : abi.encodeCall(token.mint, (to, amount));
        _watch(address(0), to, call, viaBridge ? bridge : agent);
    }

    function bridgeBurn(uint256 fromSeed, uint256 amount) external {
        address from = _actor(fromSeed);
        amount = amount % (token.balanceOf(from) + 2);
        _watch(from, address(0), abi.encodeCall(token.bridgeBurn, (from, amount)), bridge);
    }

    function release(uint256 custodianSeed, uint256 toSeed, uint256 amount) external {
        address custodian = _actor(custodianSeed);
        address to = _actor(toSeed);
        amount = amount % (token.balanceOf(custodian) + 2);
        vm.prank(custodian);
        try token.release(to, amount) {} catch {}
    }

    function restoreMint(uint256 toSeed, uint256 amount) external {
        vm.prank(bridge);
        try token.restoreMint(_actor(toSeed), amount % 1000) {} catch {}
    }

    function burn(uint256 fromSeed, uint256 amount) external {
        address from = _actor(fromSeed);
        vm.prank(agent);
        try token.burn(from, amount % (token.balanceOf(from) + 2)) {} catch {}
    }

    function forcedTransfer(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        address from = _actor(fromSeed);
        vm.prank(agent);
        try token.forcedTransfer(from, _actor(toSeed), amount % (token.balanceOf(from) + 2)) {} catch {}
    }

    function setCustodian(uint256 seed, bool on) external {
        vm.prank(admin);
        token.setCustodian(_actor(seed), on);
    }

    function setFrozenTokens(uint256 seed, uint256 amount) external {
        vm.prank(agent);
        token.setFrozenTokens(_actor(seed), amount % 1000);
    }

    function setMaxHolders(uint256 max) external {
        vm.prank(agent);
        token.setMaxHolders(uint32(max % 8));
    }

    function setIdentity(uint256 seed, uint8 what) external {
        address a = _actor(seed);
        vm.startPrank(agent);
        what %= 4;
        if (what == 0) registry.setRecord(a, keccak256(abi.encode(a)), 276, expiry, 0);
        else if (what == 1) try registry.revoke(a) {} catch {} else if (what == 2) try registry.freeze(a) {}
            catch {} else token.setAddressFrozen(a, !token.isAddressFrozen(a));
        vm.stopPrank();
    }
}

contract SecurityTokenHoldersInvariantTest is TokenFixture {
    TokenHandler handler;

    function setUp() public override {
        super.setUp();
        address[] memory actors = new address[](7);
        actors[0] = alice;
        actors[1] = bob;
        actors[2] = carol;
        actors[3] = makeAddr("dave");
        actors[4] = makeAddr("erin");
        actors[5] = vault;
        actors[6] = stranger;
        _onboard(actors[3], FR);
        _onboard(actors[4], DE);
        handler = new TokenHandler(token, registry, agent, bridge, admin, actors, expiry);
        _mint(alice, 500);
        _mint(bob, 300);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function _actualHolders() internal view returns (uint256 n) {
        for (uint256 i = 0; i < handler.actorCount(); ++i) {
            address a = handler.actors(i);
            if (!token.isCustodian(a) && token.balanceOf(a) != 0) ++n;
        }
    }

    function invariant_holderCountIsNonCustodiansWithBalance() public view {
        assertEq(token.holderCount(), _actualHolders(), "holderCount");
    }

    function invariant_supplyIsSumOfBalances() public view {
        uint256 sum;
        for (uint256 i = 0; i < handler.actorCount(); ++i) {
            sum += token.balanceOf(handler.actors(i));
        }
        assertEq(token.totalSupply(), sum, "totalSupply");
    }

    function invariant_frozenTokensNeverMoveByRuleBoundMovers() public view {
        assertFalse(handler.frozenMoved(), "frozen tokens moved");
    }

    function invariant_noHolderBeyondMaximum() public view {
        assertFalse(handler.holderBeyondMax(), "a holder beyond the maximum");
    }
}
