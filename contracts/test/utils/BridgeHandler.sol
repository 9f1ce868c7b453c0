// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Mailbox} from "../../src/Mailbox.sol";
import {IdentityRegistry} from "../../src/IdentityRegistry.sol";
import {SecurityToken} from "../../src/SecurityToken.sol";
import {TokenBridge} from "../../src/TokenBridge.sol";
import {IdentityRecord} from "../../src/interfaces/IIdentityRegistry.sol";
import {AttackerApp} from "./BridgeDoubles.sol";
import {BridgeVm, BVM} from "./BridgeVm.sol";
import {Relay} from "./Relay.sol";

/// @notice The contracts of the two-chain fixture, handed to the handler.
struct BridgeSystem {
    Mailbox homeMailbox;
    Mailbox remoteMailbox;
    IdentityRegistry registry;
    SecurityToken homeToken;
    SecurityToken remoteToken;
    TokenBridge homeBridge;
    TokenBridge remoteBridge;
    Relay relay;
    address owner;
    address agent;
    address guardian;
}

/// @notice Drives the two-chain bridge at random for the invariant test: investors send both
/// ways (some of them refused by one side's token, so transfers bounce), a relayer delivers
/// random contiguous ranges with processBatch or single messages with process, the agent
/// revokes, freezes and re-onboards on the home registry (RecordUpdates race transfers),
/// the guardian pauses lanes, time passes (buckets refill, a record expires), and an
/// attacker calls `handle` directly, dispatches forged bodies from an unenrolled app and
/// replays delivered messages. The handler itself never reverts: every bridge call that may
/// fail is tried.
///
/// Ghost accounting, from the handler's own numbers: `inFlight` grows by the amount of each
/// send that succeeded and by the amount of the transfer each Return answers, and shrinks by
/// a bridge message's amount when its delivered bit turns on.
contract BridgeHandler {
    BridgeVm internal constant vm = BVM;
    uint32 internal constant HOME = 1;
    uint32 internal constant REMOTE = 10;

    BridgeSystem internal s;
    address[] public investors;
    AttackerApp public immutable app;
    address public immutable attacker;

    /// @notice Dispatched by a bridge, not yet delivered: the ghost.
    uint256 public inFlight;
    /// @notice Something the bridges did disagreed with what the handler asked or expected.
    string public mismatch;
    /// @notice Attacks that were not refused.
    uint256 public attacksSucceeded;
    /// @notice Coverage: sends that left, transfers bounced, bridge messages delivered.
    uint256 public sent;
    uint256 public bounced;
    uint256 public settled;

    mapping(uint32 origin => mapping(uint32 nonce => uint256)) internal _amount;
    mapping(uint32 origin => uint32[]) internal _open;
    mapping(uint32 origin => uint32) internal _scanned;
    mapping(uint32 origin => uint32[]) internal _attackerNonces;
    mapping(bytes32 transferId => uint256) internal _transferAmount;
    mapping(bytes32 transferId => address) internal _transferSender;
    uint256 internal _expectedAmount; // the send whose Transfer the next scan must find

    constructor(BridgeSystem memory system, address[] memory investors_) {
        s = system;
        investors = investors_;
        app = new AttackerApp();
        attacker = address(uint160(uint256(keccak256("invariant attacker"))));
    }

    // ------------------------------------------------------------------ investors

    function sendHome(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        (address from, uint256 balance) = _holder(s.homeToken, fromSeed);
        if (balance == 0) return;
        amount = _pickAmount(amount, balance);
        vm.prank(from);
        s.homeToken.approve(address(s.homeBridge), amount);
        vm.prank(from);
        try s.homeBridge.send(address(s.homeToken), REMOTE, _investor(toSeed), amount) returns (bytes32 id) {
            _sent(HOME, id, from, amount);
        } catch {}
    }

    function sendRemote(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        (address from, uint256 balance) = _holder(s.remoteToken, fromSeed);
        if (balance == 0) return;
        amount = _pickAmount(amount, balance);
        vm.prank(from);
        try s.remoteBridge.send(address(s.remoteToken), HOME, _investor(toSeed), amount) returns (bytes32 id) {
            _sent(REMOTE, id, from, amount);
        } catch {}
    }

    /// @notice A plain transfer on the remote chain (how erin, barred at home, gets tokens).
    function transferRemote(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        (address from, uint256 balance) = _holder(s.remoteToken, fromSeed);
        if (balance == 0) return;
        vm.prank(from);
        try s.remoteToken.transfer(_investor(toSeed), 1 + amount % balance) {} catch {}
    }

    // ------------------------------------------------------------------ relayer

    /// @notice Delivers a random contiguous range of `origin`'s messages (processBatch), or one
    /// message (process). Ranges and messages already delivered are replays: `process` of a
    /// delivered message must revert, and a batch must skip it (the invariant counts Process
    /// events per message).
    function deliver(bool fromHome, uint256 startSeed, uint256 lengthSeed, bool single) external {
        uint32 origin = fromHome ? HOME : REMOTE;
        s.relay.sync();
        _scan();
        uint32 n = s.relay.count(origin);
        if (n == 0) return;
        uint32 start = uint32(startSeed % n);
        if (single) {
            bool before = s.relay.isDelivered(origin, start);
            try s.relay.process(origin, start) {
                if (before) ++attacksSucceeded; // a replay went through
            } catch {}
        } else {
            uint32 end = start + uint32(lengthSeed % 8);
            if (end >= n) end = n - 1;
            try s.relay.processBatch(origin, start, end) {} catch {}
        }
        s.relay.sync();
        _scan();
        _settle();
    }

    // ------------------------------------------------------------------ compliance and operations

    /// @notice The agent changes an investor's record on home (dispatching a RecordUpdate),
    /// or freezes/unfreezes the address on one of the tokens.
    function compliance(uint256 seed, uint8 what) external {
        address who = _investor(seed);
        vm.startPrank(s.agent);
        what %= 6;
        if (what == 0) {
            try s.registry.revoke(who) {} catch {}
        } else if (what == 1) {
            try s.registry.freeze(who) {} catch {}
        } else if (what == 2) {
            try s.registry.unfreeze(who) {} catch {}
        } else if (what == 3) {
            IdentityRecord memory r = s.registry.recordOf(who);
            if (r.investorId != bytes32(0)) {
                try s.registry.setRecord(who, r.investorId, r.country, uint64(block.timestamp + 30 days), 0) {} catch {}
            }
        } else {
            SecurityToken token = what == 4 ? s.homeToken : s.remoteToken;
            token.setAddressFrozen(who, !token.isAddressFrozen(who));
        }
        vm.stopPrank();
        s.relay.sync();
        _scan();
    }

    /// @notice Time passes (up to two hours: buckets refill, frank's record expires), or one
    /// time in five the guardian pauses a lane, or the owner resumes it.
    function timeOrPause(uint256 seed) external {
        if (seed % 5 != 0) {
            vm.warp(block.timestamp + 1 + (seed / 5) % 2 hours);
            return;
        }
        bool homeSide = (seed / 5) % 2 == 0;
        TokenBridge bridge = homeSide ? s.homeBridge : s.remoteBridge;
        uint32 lane = homeSide ? REMOTE : HOME;
        (, bool paused) = bridge.remote(lane);
        vm.prank(paused ? s.owner : s.guardian);
        if (paused) bridge.unpauseLane(lane);
        else bridge.pauseLane(lane);
    }

    // ------------------------------------------------------------------ attacker

    /// @notice Either calls `handle` directly (a Transfer minting to the attacker, or a Return
    /// releasing escrow to the attacker, naming the enrolled bridge as sender), or has an
    /// unenrolled app dispatch the same bodies through the real mailbox, for the relayer to
    /// try along with everything else.
    function attack(bool direct, bool onHome, uint256 amount) external {
        TokenBridge target = onHome ? s.homeBridge : s.remoteBridge;
        bytes memory body = _attackBody(onHome, amount);
        if (direct) {
            bytes32 claimed = bytes32(uint256(uint160(address(onHome ? s.remoteBridge : s.homeBridge))));
            vm.prank(attacker);
            try target.handle(onHome ? REMOTE : HOME, claimed, body) {
                ++attacksSucceeded;
            } catch {}
        } else {
            Mailbox origin = onHome ? s.remoteMailbox : s.homeMailbox;
            app.dispatch(origin, onHome ? HOME : REMOTE, address(target), body);
            s.relay.sync();
            _scan();
        }
    }

    // ------------------------------------------------------------------ draining (afterInvariant)

    /// @notice Resumes both lanes and delivers until no bridge message is in flight (time
    /// passes between rounds so buckets refill). Returns the rounds it took.
    function drain() external returns (uint256 rounds) {
        vm.startPrank(s.owner);
        s.homeBridge.unpauseLane(REMOTE);
        s.remoteBridge.unpauseLane(HOME);
        vm.stopPrank();
        for (rounds = 1; rounds <= 12; ++rounds) {
            s.relay.sync();
            _scan();
            s.relay.deliverAll(HOME);
            s.relay.sync();
            _scan();
            s.relay.deliverAll(REMOTE);
            s.relay.sync();
            _scan();
            _settle();
            if (_open[HOME].length + _open[REMOTE].length == 0) return rounds;
            vm.warp(block.timestamp + 1 days);
        }
    }

    // ------------------------------------------------------------------ views for the invariants

    /// @notice Nonces of the attacker's messages from `origin`.
    function attackerNonces(uint32 origin) external view returns (uint32[] memory) {
        return _attackerNonces[origin];
    }

    /// @notice The amounts written in the bridge messages not delivered yet, read from the
    /// messages themselves and the destination mailboxes' delivered bits.
    function undeliveredBridgeAmount() external view returns (uint256 total) {
        for (uint256 side; side < 2; ++side) {
            uint32 origin = side == 0 ? HOME : REMOTE;
            address bridge = address(side == 0 ? s.homeBridge : s.remoteBridge);
            uint32 n = s.relay.count(origin);
            for (uint32 nonce; nonce < n; ++nonce) {
                bytes memory m = s.relay.message(origin, nonce);
                if (_sender(m) != bridge || s.relay.isDelivered(origin, nonce)) continue;
                (uint256 kind, uint256 amount) = _kindAndAmount(m);
                if (kind == 1 || kind == 2) total += amount;
            }
        }
    }

    // ------------------------------------------------------------------ ghost bookkeeping

    function _sent(uint32 origin, bytes32 id, address from, uint256 amount) private {
        ++sent;
        _transferAmount[id] = amount;
        _transferSender[id] = from;
        _expectedAmount = amount;
        s.relay.sync();
        _scan();
        if (_expectedAmount != 0) mismatch = "a send dispatched no Transfer";
        if (s.relay.idAt(origin, s.relay.count(origin) - 1) != id) mismatch = "send returned another id";
    }

    /// @dev Classifies the messages the relay learned since the last scan.
    function _scan() private {
        for (uint256 side; side < 2; ++side) {
            uint32 origin = side == 0 ? HOME : REMOTE;
            address bridge = address(side == 0 ? s.homeBridge : s.remoteBridge);
            uint32 n = s.relay.count(origin);
            for (uint32 nonce = _scanned[origin]; nonce < n; ++nonce) {
                bytes memory m = s.relay.message(origin, nonce);
                address sender = _sender(m);
                if (sender == address(app)) {
                    _attackerNonces[origin].push(nonce);
                } else if (sender == bridge) {
                    _track(origin, nonce, m);
                }
            }
            _scanned[origin] = n;
        }
    }

    function _track(uint32 origin, uint32 nonce, bytes memory m) private {
        (uint256 kind, uint256 amount) = _kindAndAmount(m);
        uint256 ghost;
        if (kind == 1) {
            if (amount != _expectedAmount) mismatch = "a Transfer's amount is not the amount sent";
            ghost = _expectedAmount;
            _expectedAmount = 0;
        } else if (kind == 2) {
            (,, address to,, bytes32 transferId,) =
                abi.decode(_body(m), (uint8, address, address, uint256, bytes32, uint8));
            ghost = _transferAmount[transferId];
            if (ghost == 0) mismatch = "a Return names no transfer";
            if (amount != ghost) mismatch = "a Return's amount is not its transfer's";
            if (to != _transferSender[transferId]) mismatch = "a Return goes to someone other than the sender";
            ++bounced;
        } else {
            mismatch = "a bridge dispatched an unknown kind";
        }
        _amount[origin][nonce] = ghost;
        inFlight += ghost;
        _open[origin].push(nonce);
    }

    /// @dev Bridge messages whose delivered bit turned on leave the ghost.
    function _settle() private {
        for (uint256 side; side < 2; ++side) {
            uint32 origin = side == 0 ? HOME : REMOTE;
            uint32[] storage open = _open[origin];
            uint256 i;
            while (i < open.length) {
                uint32 nonce = open[i];
                if (s.relay.isDelivered(origin, nonce)) {
                    inFlight -= _amount[origin][nonce];
                    ++settled;
                    open[i] = open[open.length - 1];
                    open.pop();
                } else {
                    ++i;
                }
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    function _attackBody(bool release, uint256 amount) private view returns (bytes memory) {
        amount = 1 + amount % 1e9;
        if (release) return abi.encode(uint8(2), address(s.homeToken), attacker, amount, bytes32(0), uint8(5));
        IdentityRecord memory record = IdentityRecord(keccak256("attacker"), 276, type(uint64).max, 0, type(uint64).max);
        return abi.encode(uint8(1), address(s.homeToken), attacker, attacker, amount, record);
    }

    function _investor(uint256 seed) private view returns (address) {
        return investors[seed % investors.length];
    }

    /// @dev The first investor from `seed` on who holds `token` (balance 0: nobody does).
    function _holder(SecurityToken token, uint256 seed) private view returns (address who, uint256 balance) {
        for (uint256 i; i < investors.length; ++i) {
            who = _investor(seed % investors.length + i);
            balance = token.balanceOf(who);
            if (balance != 0) return (who, balance);
        }
    }

    function _sender(bytes memory m) private pure returns (address a) {
        assembly ("memory-safe") {
            // the sender word is header bytes 9..40: memory m + 32 + 9
            a := and(mload(add(m, 41)), 0xffffffffffffffffffffffffffffffffffffffff)
        }
    }

    function _body(bytes memory m) private pure returns (bytes memory out) {
        out = new bytes(m.length - 77);
        for (uint256 i; i < out.length; ++i) {
            out[i] = m[77 + i];
        }
    }

    /// @dev The kind word and the amount word of a Transfer (word 4) or a Return (word 3).
    function _kindAndAmount(bytes memory m) private pure returns (uint256 kind, uint256 amount) {
        if (m.length < 77 + 32) return (0, 0);
        assembly ("memory-safe") {
            kind := mload(add(m, 109)) // 32 + 77
        }
        uint256 word = kind == 1 ? 4 : 3;
        if (m.length < 77 + 32 * (word + 1)) return (kind, 0);
        assembly ("memory-safe") {
            amount := mload(add(add(m, 109), mul(word, 32)))
        }
    }

    /// @dev Mostly a few thousand; one time in ten up to 25,000 (beyond a lane's capacity).
    function _pickAmount(uint256 seed, uint256 balance) private pure returns (uint256) {
        uint256 cap = seed % 10 == 0 ? 25_000 : 6_000;
        return 1 + (seed / 10) % (balance < cap ? balance : cap);
    }
}
