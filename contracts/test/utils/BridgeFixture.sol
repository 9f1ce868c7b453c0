// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Mailbox} from "../../src/Mailbox.sol";
import {IdentityRegistry} from "../../src/IdentityRegistry.sol";
import {MirrorIdentityRegistry} from "../../src/MirrorIdentityRegistry.sol";
import {SecurityToken} from "../../src/SecurityToken.sol";
import {TokenBridge} from "../../src/TokenBridge.sol";
import {TokenRules} from "../../src/TokenRules.sol";
import {IdentityRecord} from "../../src/interfaces/IIdentityRegistry.sol";
import {BridgeVm, BVM} from "./BridgeVm.sol";
import {Relay} from "./Relay.sol";

/// @notice Two chains, deployed and wired the way relayer/deploy.py wires them.
///
/// - "Chain A" (HOME): a Mailbox, the IdentityRegistry, the canonical SecurityToken and a
///   TokenBridge that locks it in escrow.
/// - "Chain B" (REMOTE): a Mailbox, the MirrorIdentityRegistry of the home registry, the
///   mirror SecurityToken and a TokenBridge that mints and burns it.
/// - Wiring: each mailbox trusts the other's under one validator set (setOrigin both ways),
///   the bridges enroll each other and register the token, a guardian, rate limits on both
///   lanes in both directions, AGENT_ROLE to the issuer's agent on registry and tokens,
///   BRIDGE_ROLE on the mirror token and FORWARDER_ROLE on the mirror to the remote bridge,
///   each bridge a custodian of its chain's token, the mirror enrolled on the home registry,
///   and on each bridge, for both chains, the bridge, mailbox and registry listed as
///   custodians no transfer may name as recipient. (deploy.py also deploys a HashedTimelock
///   per chain and lists it too; TokenBridgeCustodians.t.sol adds them.)
///
/// Each Mailbox takes its domain from block.chainid, so deployments run under vm.chainId.
/// Messages move through `relay` (real checkpoints signed with vm.sign, real range proofs):
/// `_relayAll` and `_process` sync the relay with the recorded logs around a delivery. Where a
/// test expects a revert or an event of the delivery itself, it calls `relay.sync()` first and
/// then `relay.process`/`processBatch` directly (the expectation binds the next call).
abstract contract BridgeFixture {
    BridgeVm internal constant vm = BVM;

    uint32 internal constant HOME = 1;
    uint32 internal constant REMOTE = 10;
    uint16 internal constant DE = 276;
    uint16 internal constant FR = 250;
    uint16 internal constant KP = 408;
    uint16 internal constant US = 840;
    uint256 internal constant T0 = 1_700_000_000;
    /// @dev The bucket set on every lane and direction (deploy.py sets one from the token's config).
    uint128 internal constant CAPACITY = 1_000_000;
    uint128 internal constant REFILL = 100;

    address internal owner = _named("owner");
    address internal agent = _named("agent");
    address internal guardian = _named("guardian");
    address internal alice = _named("alice");
    address internal bob = _named("bob");
    address internal carol = _named("carol");
    address internal stranger = _named("stranger"); // never onboarded
    uint64 internal expiry;

    Mailbox internal homeMailbox;
    IdentityRegistry internal registry;
    SecurityToken internal homeToken;
    TokenBridge internal homeBridge;

    Mailbox internal remoteMailbox;
    MirrorIdentityRegistry internal mirror;
    SecurityToken internal remoteToken;
    TokenBridge internal remoteBridge;

    Relay internal relay;
    uint256[] internal validatorKeys; // ascending by address

    function setUp() public virtual {
        vm.warp(T0);
        expiry = uint64(T0 + 365 days);
        _deployHome();
        _deployRemote();
        vm.chainId(HOME);
        relay = new Relay();
        relay.addChain(homeMailbox);
        relay.addChain(remoteMailbox);
        _wire();
        _useValidators(5, 3);
        relay.record();
        _onboard(alice, DE);
        _onboard(bob, FR);
        _onboard(carol, DE);
        _relayAll(HOME); // the mirror learns them
        _mintHome(alice, 100_000);
        _mintHome(bob, 100_000);
    }

    // ------------------------------------------------------------------ deployment

    function _deployHome() internal {
        vm.chainId(HOME);
        homeMailbox = new Mailbox(owner);
        registry = new IdentityRegistry(homeMailbox, owner);
        homeToken = new SecurityToken("Acme Shares", "ACME", 0, registry, owner);
        homeBridge = new TokenBridge(homeMailbox, HOME, owner);
    }

    function _deployRemote() internal {
        vm.chainId(REMOTE);
        remoteMailbox = new Mailbox(owner);
        mirror = new MirrorIdentityRegistry(remoteMailbox, HOME, _b32(address(registry)), owner);
        remoteToken = new SecurityToken("Acme Shares", "ACME", 0, mirror, owner);
        remoteBridge = new TokenBridge(remoteMailbox, HOME, owner);
    }

    function _wire() internal {
        vm.startPrank(owner);
        homeBridge.enrollRemote(REMOTE, address(remoteBridge));
        remoteBridge.enrollRemote(HOME, address(homeBridge));
        homeBridge.setGuardian(guardian);
        remoteBridge.setGuardian(guardian);
        homeBridge.registerToken(address(homeToken), address(homeToken));
        remoteBridge.registerToken(address(homeToken), address(remoteToken));
        homeToken.grantRole(homeToken.AGENT_ROLE(), agent);
        remoteToken.grantRole(remoteToken.AGENT_ROLE(), agent);
        remoteToken.grantRole(remoteToken.BRIDGE_ROLE(), address(remoteBridge));
        homeToken.setCustodian(address(homeBridge), true);
        remoteToken.setCustodian(address(remoteBridge), true);
        for (uint256 i; i < 2; ++i) {
            bool inbound = i == 1;
            homeBridge.setRateLimit(address(homeToken), REMOTE, inbound, CAPACITY, REFILL);
            remoteBridge.setRateLimit(address(homeToken), HOME, inbound, CAPACITY, REFILL);
        }
        registry.grantRole(registry.AGENT_ROLE(), agent);
        registry.enrollRemote(REMOTE, _b32(address(mirror)));
        mirror.grantRole(mirror.FORWARDER_ROLE(), address(remoteBridge));
        address[3] memory homeCustodians = [address(homeBridge), address(homeMailbox), address(registry)];
        address[3] memory remoteCustodians = [address(remoteBridge), address(remoteMailbox), address(mirror)];
        for (uint256 i; i < 3; ++i) {
            homeBridge.setCustodian(HOME, homeCustodians[i], true);
            homeBridge.setCustodian(REMOTE, remoteCustodians[i], true);
            remoteBridge.setCustodian(REMOTE, remoteCustodians[i], true);
            remoteBridge.setCustodian(HOME, homeCustodians[i], true);
        }
        vm.stopPrank();
    }

    /// @notice Both mailboxes trust `n` validators with threshold `t`; the relay signs with
    /// the first `t` of them (ascending addresses, as the inbox requires).
    function _useValidators(uint256 n, uint8 t) internal {
        delete validatorKeys;
        for (uint256 i; i < n; ++i) {
            validatorKeys.push(uint256(keccak256(abi.encode("stbridge.bridge.validator", i))));
        }
        for (uint256 i = 1; i < n; ++i) {
            for (uint256 j = i; j > 0 && vm.addr(validatorKeys[j]) < vm.addr(validatorKeys[j - 1]); --j) {
                (validatorKeys[j], validatorKeys[j - 1]) = (validatorKeys[j - 1], validatorKeys[j]);
            }
        }
        address[] memory set = new address[](n);
        for (uint256 i; i < n; ++i) {
            set[i] = vm.addr(validatorKeys[i]);
        }
        uint256[] memory signers = new uint256[](t);
        for (uint256 i; i < t; ++i) {
            signers[i] = validatorKeys[i];
        }
        vm.startPrank(owner);
        homeMailbox.setOrigin(REMOTE, _b32(address(remoteMailbox)), set, t);
        remoteMailbox.setOrigin(HOME, _b32(address(homeMailbox)), set, t);
        vm.stopPrank();
        relay.useSigners(signers);
    }

    // ------------------------------------------------------------------ investors and tokens

    function _onboard(address wallet, uint16 country) internal {
        vm.prank(agent);
        registry.setRecord(wallet, keccak256(abi.encode(wallet)), country, expiry, 0);
    }

    function _mintHome(address to, uint256 amount) internal {
        vm.prank(agent);
        homeToken.mint(to, amount);
    }

    /// @notice `from` locks `amount` on the home chain for `to` on the remote chain.
    function _sendHome(address from, address to, uint256 amount) internal returns (bytes32 id) {
        vm.prank(from);
        homeToken.approve(address(homeBridge), amount);
        vm.prank(from);
        id = homeBridge.send(address(homeToken), REMOTE, to, amount);
    }

    /// @notice `from` burns `amount` on the remote chain for `to` on the home chain.
    function _sendRemote(address from, address to, uint256 amount) internal returns (bytes32 id) {
        vm.prank(from);
        id = remoteBridge.send(address(remoteToken), HOME, to, amount);
    }

    // ------------------------------------------------------------------ relaying

    /// @notice Delivers every pending message of `origin` (batches; failures stay pending).
    function _relayAll(uint32 origin) internal {
        relay.sync();
        relay.deliverAll(origin);
        relay.sync();
    }

    /// @notice Delivers message `nonce` of `origin` with `process`.
    function _process(uint32 origin, uint32 nonce) internal {
        relay.sync();
        relay.process(origin, nonce);
        relay.sync();
    }

    /// @notice The nonce of the last message dispatched on `origin`.
    function _last(uint32 origin) internal view returns (uint32) {
        return relay.mailboxOf(origin).count() - 1;
    }

    // ------------------------------------------------------------------ encodings (docs/protocol.md)

    function _transferBody(address from, address to, uint256 amount, IdentityRecord memory record)
        internal
        view
        returns (bytes memory)
    {
        return abi.encode(uint8(1), address(homeToken), from, to, amount, record);
    }

    function _returnBody(address to, uint256 amount, bytes32 transferId, uint8 reason)
        internal
        view
        returns (bytes memory)
    {
        return abi.encode(uint8(2), address(homeToken), to, amount, transferId, reason);
    }

    /// @notice The id of a message written out field by field.
    function _messageId(uint32 nonce, uint32 origin, address sender, uint32 destination, address to, bytes memory body)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(uint8(1), nonce, origin, _b32(sender), destination, _b32(to), body));
    }

    // ------------------------------------------------------------------ expectations

    function _expectRestricted(uint8 code, address from, address to, uint256 amount) internal {
        vm.expectRevert(abi.encodeWithSelector(TokenRules.TransferRestricted.selector, code, from, to, amount));
    }

    function _sameRecord(IdentityRecord memory a, IdentityRecord memory b) internal pure returns (bool) {
        return keccak256(abi.encode(a)) == keccak256(abi.encode(b));
    }

    // ------------------------------------------------------------------ misc

    function _b32(address a) internal pure returns (bytes32) {
        return bytes32(uint256(uint160(a)));
    }

    function _named(string memory name) internal returns (address a) {
        a = address(uint160(uint256(keccak256(bytes(name)))));
        vm.label(a, name);
    }

    /// @dev `x` mapped into [lo, hi].
    function _bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + (x % (hi - lo + 1));
    }
}
