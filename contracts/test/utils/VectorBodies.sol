// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IdentityRecord, FLAG_REVOKED, FLAG_FROZEN} from "../../src/interfaces/IIdentityRegistry.sol";
import {IdentityLib} from "../../src/libs/IdentityLib.sol";
import {DistributionRoot} from "../../src/interfaces/IDistributions.sol";
import {DistributionLib} from "../../src/libs/DistributionLib.sol";
import {VoteRoot} from "../../src/interfaces/IVotes.sol";
import {VoteLib} from "../../src/libs/VoteLib.sol";
import {VM} from "./Vm.sol";

/// @notice The application bodies of docs/protocol.md with fixed field values, as JSON
/// objects for tests/vectors/bodies.json, and the JSON helpers the vector writer shares.
/// Numbers that may exceed 2^53 (uint64 and uint256 fields) are decimal strings.
abstract contract VectorBodies {
    address internal constant HOME_TOKEN = 0x5FbDB2315678afecb367f032d93F642f64180aa3;
    address internal constant ALICE = 0x70997970C51812dc3A010C7d01b50e0d17dc79C8;
    address internal constant BOB = 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC;

    /// @notice RecordUpdate encoded here differs from the registry's own encoder.
    error RecordUpdateMismatch(bytes ours, bytes registry);

    /// @notice All bodies, as a JSON array.
    function _bodiesJson() internal returns (string memory) {
        IdentityRecord memory none;
        IdentityRecord memory revoked = IdentityRecord(keccak256("investor bob"), 840, 1_893_456_000, FLAG_REVOKED, 7);
        IdentityRecord memory extreme = IdentityRecord(
            bytes32(type(uint256).max), type(uint16).max, type(uint64).max, FLAG_REVOKED | FLAG_FROZEN, type(uint64).max
        );
        string[] memory out = new string[](11);
        out[0] = _transfer("transfer0", ALICE, BOB, 1_250 ether, _bobRecord());
        out[1] = _transfer("transfer1", BOB, ALICE, type(uint256).max, none); // towards home: zero record
        out[2] = _return("return0", ALICE, 1_250 ether, keccak256("bounced transfer"), 5);
        out[3] = _return("return1", BOB, 1, bytes32(0), 255);
        out[4] = _recordUpdate("update0", BOB, revoked);
        out[5] = _recordUpdate("update1", ALICE, extreme);
        out[6] = _distributionRoot(
            "root0", DistributionRoot(1, BOB, 250_000e6, 1_830_297_600, keccak256("distribution root"))
        );
        out[7] = _distributionRoot(
            "root1",
            DistributionRoot(type(uint64).max, ALICE, type(uint256).max, type(uint64).max, bytes32(type(uint256).max))
        );
        out[8] = _voteRoot("vote0", VoteRoot(2, 1_830_297_600, 3, 1_000_000 ether + 7, keccak256("vote root")));
        uint256[] memory tally = new uint256[](3);
        (tally[0], tally[1], tally[2]) = (600 ether, 0, type(uint256).max);
        out[9] = _voteTally("tally0", 2, tally);
        out[10] = _voteTally("tally1", type(uint64).max, new uint256[](0));
        return _array(out, 10);
    }

    function _voteRoot(string memory k, VoteRoot memory r) internal returns (string memory) {
        VM.serializeUint(k, "kind", 5);
        VM.serializeString(k, "id", VM.toString(r.id));
        VM.serializeString(k, "closes", VM.toString(r.closes));
        VM.serializeUint(k, "options", r.options);
        VM.serializeString(k, "totalPower", VM.toString(r.totalPower));
        VM.serializeBytes32(k, "root", r.root);
        return VM.serializeBytes(k, "body", VoteLib.encodeRoot(r));
    }

    function _voteTally(string memory k, uint64 id, uint256[] memory tally) internal returns (string memory) {
        string[] memory shown = new string[](tally.length);
        for (uint256 i; i < tally.length; ++i) {
            shown[i] = VM.toString(tally[i]);
        }
        VM.serializeUint(k, "kind", 6);
        VM.serializeString(k, "id", VM.toString(id));
        VM.serializeString(k, "tally", shown);
        return VM.serializeBytes(k, "body", VoteLib.encodeTally(id, tally));
    }

    function _distributionRoot(string memory k, DistributionRoot memory r) internal returns (string memory) {
        VM.serializeUint(k, "kind", 4);
        VM.serializeString(k, "id", VM.toString(r.id));
        VM.serializeString(k, "paymentToken", _addr(r.paymentToken));
        VM.serializeString(k, "total", VM.toString(r.total));
        VM.serializeString(k, "claimUntil", VM.toString(r.claimUntil));
        VM.serializeBytes32(k, "root", r.root);
        return VM.serializeBytes(k, "body", DistributionLib.encodeRoot(r));
    }

    /// @notice The Transfer body used by the message vectors too.
    function _transferBody() internal pure returns (bytes memory) {
        return abi.encode(uint8(1), HOME_TOKEN, ALICE, BOB, uint256(1_250 ether), _bobRecord());
    }

    function _bobRecord() internal pure returns (IdentityRecord memory) {
        return IdentityRecord(keccak256("investor bob"), 276, 1_893_456_000, 0, 3);
    }

    function _transfer(string memory k, address from, address to, uint256 amount, IdentityRecord memory r)
        internal
        returns (string memory)
    {
        bytes memory body = abi.encode(uint8(1), HOME_TOKEN, from, to, amount, r);
        VM.serializeUint(k, "kind", 1);
        VM.serializeString(k, "homeToken", _addr(HOME_TOKEN));
        VM.serializeString(k, "sender", _addr(from));
        VM.serializeString(k, "recipient", _addr(to));
        VM.serializeString(k, "amount", VM.toString(amount));
        VM.serializeString(k, "recipientRecord", _record(string.concat(k, ".record"), r));
        return VM.serializeBytes(k, "body", body);
    }

    function _return(string memory k, address to, uint256 amount, bytes32 transferId, uint8 reason)
        internal
        returns (string memory)
    {
        bytes memory body = abi.encode(uint8(2), HOME_TOKEN, to, amount, transferId, reason);
        VM.serializeUint(k, "kind", 2);
        VM.serializeString(k, "homeToken", _addr(HOME_TOKEN));
        VM.serializeString(k, "recipient", _addr(to));
        VM.serializeString(k, "amount", VM.toString(amount));
        VM.serializeBytes32(k, "transferId", transferId);
        VM.serializeUint(k, "reason", reason);
        return VM.serializeBytes(k, "body", body);
    }

    function _recordUpdate(string memory k, address wallet, IdentityRecord memory r) internal returns (string memory) {
        bytes memory body = abi.encode(uint8(3), wallet, r);
        bytes memory registry = IdentityLib.encodeRecordUpdate(wallet, r);
        if (keccak256(body) != keccak256(registry)) revert RecordUpdateMismatch(body, registry);
        VM.serializeUint(k, "kind", 3);
        VM.serializeString(k, "wallet", _addr(wallet));
        VM.serializeString(k, "record", _record(string.concat(k, ".record"), r));
        return VM.serializeBytes(k, "body", body);
    }

    function _record(string memory k, IdentityRecord memory r) internal returns (string memory) {
        VM.serializeBytes32(k, "investorId", r.investorId);
        VM.serializeUint(k, "country", r.country);
        VM.serializeString(k, "expiresAt", VM.toString(r.expiresAt));
        VM.serializeUint(k, "flags", r.flags);
        return VM.serializeString(k, "version", VM.toString(r.version));
    }

    // -------------------------------------------------------------------- JSON helpers

    /// @notice out[0..last] as a JSON array of the objects.
    function _array(string[] memory out, uint256 last) internal pure returns (string memory json) {
        json = "[";
        for (uint256 i; i <= last; ++i) {
            json = string.concat(json, i == 0 ? "" : ",", out[i]);
        }
        json = string.concat(json, "]");
    }

    /// @notice An address as lowercase 0x-hex (vm.toString(address) would checksum it).
    function _addr(address a) internal pure returns (string memory) {
        return VM.toString(abi.encodePacked(a));
    }

    function _addresses(address[] memory list) internal pure returns (string[] memory out) {
        out = new string[](list.length);
        for (uint256 i; i < list.length; ++i) {
            out[i] = _addr(list[i]);
        }
    }
}
