// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Mailbox} from "../src/Mailbox.sol";
import {IMailbox, Checkpoint} from "../src/interfaces/IMailbox.sol";
import {IdentityRecord} from "../src/interfaces/IIdentityRegistry.sol";
import {MailboxFixture} from "./utils/MailboxFixture.sol";
import {MinimalRecipient} from "./utils/Recipients.sol";

/// @notice Gas of dispatch, process and processBatch with a minimal recipient and a
/// Transfer-sized body (320 bytes, as docs/protocol.md encodes a Transfer), printed with
/// `forge test --match-contract MailboxGasTest -vv`.
///
/// Each figure is measured on cold storage (vm.cool on the mailbox and the recipient, as at
/// the start of a transaction):
/// - exec: the call's own gas (vm.lastCallGas().gasTotalUsed), without the 21,000 base and
///   without calldata;
/// - tx: exec + 21,000 + calldata at EIP-2028 prices (16 per nonzero byte, 4 per zero byte);
/// - floor: the EIP-7623 (Prague) floor, 21,000 + 10 per token (a nonzero byte is 4 tokens,
///   a zero byte 1). The cancun EVM the tests run does not apply it; under Prague a
///   transaction pays max(tx, floor).
/// These print figures and assert no ceiling (speed is measured, not asserted: bench/gas.py
/// runs them and writes the report). Batch figures are also given per message. The bitmap word of the nonces is either fresh
/// (its first bit costs 20,000 more, once per 256 nonces) or already in use ("warm word").
contract MailboxGasTest is MailboxFixture {
    event log(string);

    MinimalRecipient internal minimal;

    function setUp() public override {
        super.setUp();
        minimal = new MinimalRecipient(address(mailbox));
    }

    function test_gas_dispatch() public {
        bytes memory body = _transferBody(0);
        vm.cool(address(outbox));
        vm.prank(APP);
        outbox.dispatch(DESTINATION, _b32(address(minimal)), body);
        _row(
            "dispatch, first message",
            1,
            vm.lastCallGas().gasTotalUsed,
            abi.encodeCall(IMailbox.dispatch, (DESTINATION, _b32(address(minimal)), body))
        );
        uint256 total;
        for (uint256 i = 1; i <= 64; ++i) {
            vm.cool(address(outbox));
            vm.prank(APP);
            outbox.dispatch(DESTINATION, _b32(address(minimal)), body);
            total += vm.lastCallGas().gasTotalUsed;
        }
        _row(
            "dispatch, average of the next 64",
            1,
            total / 64,
            abi.encodeCall(IMailbox.dispatch, (DESTINATION, _b32(address(minimal)), body))
        );
    }

    function test_gas_process_1of1() public {
        _measureProcess(1, 1);
    }

    function test_gas_process_3of5() public {
        _measureProcess(5, 3);
    }

    function test_gas_batch10_1of1() public {
        _measureBatch(10, 1, 1);
    }

    function test_gas_batch10_3of5() public {
        _measureBatch(10, 5, 3);
    }

    function test_gas_batch100_1of1() public {
        _measureBatch(100, 1, 1);
    }

    function test_gas_batch100_3of5() public {
        _measureBatch(100, 5, 3);
    }

    // --------------------------------------------------------------------------------

    function _configure(uint256 n, uint8 t) internal {
        address[] memory set = new address[](n);
        for (uint256 i; i < n; ++i) {
            set[i] = validatorAddrs[i];
        }
        mailbox.setOrigin(ORIGIN, _b32(address(outbox)), set, t);
    }

    function _measureProcess(uint256 n, uint8 t) internal {
        _configure(n, t);
        for (uint256 i; i < 100; ++i) {
            _sendTo(DESTINATION, _b32(address(minimal)), _transferBody(i));
        }
        string memory set = string.concat(vm.toString(t), "-of-", vm.toString(n));
        // nonce 0: fresh bitmap word; nonce 1: its word already in use.
        for (uint32 nonce; nonce < 2; ++nonce) {
            Checkpoint memory cp = _checkpoint(99);
            bytes memory sigs = _signWith(cp, _firstKeys(t));
            bytes32[] memory proof = _proof(nonce, nonce, 99);
            bytes memory data = abi.encodeCall(IMailbox.process, (cp, sigs, sent[nonce], proof));
            vm.cool(address(mailbox));
            vm.cool(address(minimal));
            mailbox.process(cp, sigs, sent[nonce], proof);
            uint256 exec = vm.lastCallGas().gasTotalUsed;
            _row(string.concat("process ", set, nonce == 0 ? ", fresh word" : ", warm word"), 1, exec, data);
        }
    }

    function _measureBatch(uint256 size, uint256 n, uint8 t) internal returns (uint256 txPerMessage) {
        _configure(n, t);
        for (uint256 i; i <= size; ++i) {
            _sendTo(DESTINATION, _b32(address(minimal)), _transferBody(i));
        }
        string memory name =
            string.concat("processBatch x", vm.toString(size), " ", vm.toString(t), "-of-", vm.toString(n));
        // forge-lint: disable-next-line(unsafe-typecast) size <= 100
        uint32 index = uint32(size);
        Checkpoint memory cp = _checkpoint(index);
        bytes memory sigs = _signWith(cp, _firstKeys(t));
        // Fresh word: nonces 0..size-1.
        {
            bytes[] memory msgs = _messages(0, size - 1);
            bytes32[] memory proof = _proof(0, size - 1, index);
            vm.cool(address(mailbox));
            vm.cool(address(minimal));
            mailbox.processBatch(cp, sigs, msgs, proof);
            _row(
                string.concat(name, ", fresh word"),
                size,
                vm.lastCallGas().gasTotalUsed,
                abi.encodeCall(IMailbox.processBatch, (cp, sigs, msgs, proof))
            );
        }
        // Warm word: a second mailbox state where nonce 0 was delivered first, then 1..size.
        {
            vm.chainId(DESTINATION);
            mailbox = new Mailbox(address(this));
            minimal = new MinimalRecipient(address(mailbox));
            _resend(size);
            _configure(n, t);
            cp = _checkpoint(index);
            sigs = _signWith(cp, _firstKeys(t));
            mailbox.process(cp, sigs, sent[0], _proof(0, 0, index));
            bytes[] memory msgs = _messages(1, size);
            bytes32[] memory proof = _proof(1, size, index);
            vm.cool(address(mailbox));
            vm.cool(address(minimal));
            mailbox.processBatch(cp, sigs, msgs, proof);
            txPerMessage = _row(
                string.concat(name, ", warm word"),
                size,
                vm.lastCallGas().gasTotalUsed,
                abi.encodeCall(IMailbox.processBatch, (cp, sigs, msgs, proof))
            );
        }
    }

    /// @notice Sends the same messages again from a fresh outbox to the new minimal recipient.
    function _resend(uint256 size) internal {
        vm.chainId(ORIGIN);
        outbox = new Mailbox(address(this));
        vm.chainId(DESTINATION);
        delete sent;
        delete leaves;
        delete roots;
        for (uint256 i; i <= size; ++i) {
            _sendTo(DESTINATION, _b32(address(minimal)), _transferBody(i));
        }
    }

    /// @notice A Transfer body (kind 1) with realistic field values: 320 bytes.
    function _transferBody(uint256 i) internal pure returns (bytes memory) {
        IdentityRecord memory record = IdentityRecord({
            investorId: keccak256(abi.encode("investor", i)),
            country: 276,
            expiresAt: 1_893_456_000,
            flags: 0,
            version: 3
        });
        return abi.encode(
            uint8(1),
            address(0x5FbDB2315678afecb367f032d93F642f64180aa3),
            address(uint160(uint256(keccak256(abi.encode("from", i))))),
            address(uint160(uint256(keccak256(abi.encode("to", i))))),
            uint256(1_250 ether + i),
            record
        );
    }

    /// @notice Prints one row; returns the tx gas per message.
    function _row(string memory name, uint256 messages, uint256 exec, bytes memory data)
        internal
        returns (uint256 txPerMessage)
    {
        (uint256 zeros, uint256 nonzeros) = _bytes(data);
        uint256 calldataGas = 16 * nonzeros + 4 * zeros;
        uint256 txGas = 21_000 + calldataGas + exec;
        uint256 floor = 21_000 + 10 * (4 * nonzeros + zeros);
        txPerMessage = txGas / messages;
        string memory line = string.concat(
            name,
            ": exec ",
            vm.toString(exec),
            ", calldata ",
            vm.toString(calldataGas),
            " (",
            vm.toString(data.length),
            " bytes), tx ",
            vm.toString(txGas),
            ", EIP-7623 floor ",
            vm.toString(floor)
        );
        if (messages > 1) {
            line = string.concat(
                line, "; per message: exec ", vm.toString(exec / messages), ", tx ", vm.toString(txPerMessage)
            );
        }
        emit log(line);
    }

    function _bytes(bytes memory data) internal pure returns (uint256 zeros, uint256 nonzeros) {
        for (uint256 i; i < data.length; ++i) {
            if (data[i] == 0) ++zeros;
            else ++nonzeros;
        }
    }
}
