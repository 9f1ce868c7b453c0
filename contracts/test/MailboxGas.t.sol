// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMailbox, Checkpoint} from "../src/interfaces/IMailbox.sol";
import {IdentityRecord} from "../src/interfaces/IIdentityRegistry.sol";
import {MailboxFixture} from "./utils/MailboxFixture.sol";
import {MinimalRecipient} from "./utils/Recipients.sol";

/// @notice Gas of dispatch, process and processBatch with a minimal recipient and a
/// Transfer-sized body (320 bytes, as docs/protocol.md encodes a Transfer), as a checked
/// figure: each test meters only the call it measures (gas metering is paused for the rest),
/// so its gas in contracts/.gas-snapshot is that call's execution gas (no 21,000 base, no
/// calldata) plus a constant few hundred for the call from the test. `make gas-snapshot`
/// writes the file; scripts/gas-check (CI) fails when a figure moves by more than 1%.
///
/// Each figure is measured on cold storage (vm.cool on the mailbox and the recipient, as at
/// the start of a transaction). The bitmap word of the nonces is either fresh (its first bit
/// costs 20,000 more, once per 256 nonces) or already in use ("warm word"). A transaction
/// pays exec + 21,000 + calldata (16 per nonzero byte, 4 per zero byte); under Prague at
/// least the EIP-7623 floor, 21,000 + 10 per calldata token.
contract MailboxGasTest is MailboxFixture {
    MinimalRecipient internal minimal;

    function setUp() public override {
        super.setUp();
        minimal = new MinimalRecipient(address(mailbox));
    }

    function test_gas_dispatch_first() public {
        vm.pauseGasMetering();
        bytes memory data = abi.encodeCall(IMailbox.dispatch, (DESTINATION, _b32(address(minimal)), _transferBody(0)));
        vm.cool(address(outbox));
        vm.prank(APP);
        _metered(address(outbox), data, "dispatch_first");
    }

    /// The next 64 dispatches after the first (the tree's slots exist): 64 times the average.
    function test_gas_dispatch_next64() public {
        vm.pauseGasMetering();
        bytes memory data = abi.encodeCall(IMailbox.dispatch, (DESTINATION, _b32(address(minimal)), _transferBody(0)));
        vm.prank(APP);
        outbox.dispatch(DESTINATION, _b32(address(minimal)), _transferBody(0));
        uint256 total;
        for (uint256 i = 1; i <= 64; ++i) {
            vm.cool(address(outbox));
            vm.prank(APP);
            total += _metered(address(outbox), data, "");
        }
        vm.snapshotValue("MailboxGas", "dispatch_steady_average", total / 64);
    }

    function test_gas_process_1of1_freshWord() public {
        _measureProcess(1, 1, false);
    }

    function test_gas_process_1of1_warmWord() public {
        _measureProcess(1, 1, true);
    }

    function test_gas_process_3of5_freshWord() public {
        _measureProcess(5, 3, false);
    }

    function test_gas_process_3of5_warmWord() public {
        _measureProcess(5, 3, true);
    }

    function test_gas_batch10_1of1_freshWord() public {
        _measureBatch(10, 1, 1, false);
    }

    function test_gas_batch10_1of1_warmWord() public {
        _measureBatch(10, 1, 1, true);
    }

    function test_gas_batch10_3of5_freshWord() public {
        _measureBatch(10, 5, 3, false);
    }

    function test_gas_batch10_3of5_warmWord() public {
        _measureBatch(10, 5, 3, true);
    }

    function test_gas_batch100_1of1_freshWord() public {
        _measureBatch(100, 1, 1, false);
    }

    function test_gas_batch100_1of1_warmWord() public {
        _measureBatch(100, 1, 1, true);
    }

    function test_gas_batch100_3of5_freshWord() public {
        _measureBatch(100, 5, 3, false);
    }

    function test_gas_batch100_3of5_warmWord() public {
        _measureBatch(100, 5, 3, true);
    }

    // --------------------------------------------------------------------------------

    function _configure(uint256 n, uint8 t) internal {
        address[] memory set = new address[](n);
        for (uint256 i; i < n; ++i) {
            set[i] = validatorAddrs[i];
        }
        mailbox.setOrigin(ORIGIN, _b32(address(outbox)), set, t);
    }

    /// @dev `process` of nonce 0 (its bitmap word fresh) or, `warm`, of nonce 1 after nonce 0.
    function _measureProcess(uint256 n, uint8 t, bool warm) internal {
        vm.pauseGasMetering();
        _configure(n, t);
        for (uint256 i; i < 100; ++i) {
            _sendTo(DESTINATION, _b32(address(minimal)), _transferBody(i));
        }
        Checkpoint memory cp = _checkpoint(99);
        bytes memory sigs = _signWith(cp, _firstKeys(t));
        if (warm) mailbox.process(cp, sigs, sent[0], _proof(0, 0, 99));
        uint32 nonce = warm ? 1 : 0;
        bytes memory data = abi.encodeCall(IMailbox.process, (cp, sigs, sent[nonce], _proof(nonce, nonce, 99)));
        vm.cool(address(mailbox));
        vm.cool(address(minimal));
        string memory name = string.concat(
            "process_", vm.toString(t), "of", vm.toString(n), warm ? "_warmWord" : "_freshWord"
        );
        _metered(address(mailbox), data, name);
        vm.assertTrue(mailbox.delivered(ORIGIN, nonce), "delivered");
    }

    /// @dev `processBatch` of nonces 0..size-1 (their bitmap word fresh) or, `warm`, of nonces
    /// 1..size after nonce 0 was delivered alone.
    function _measureBatch(uint256 size, uint256 n, uint8 t, bool warm) internal {
        vm.pauseGasMetering();
        _configure(n, t);
        for (uint256 i; i <= size; ++i) {
            _sendTo(DESTINATION, _b32(address(minimal)), _transferBody(i));
        }
        // forge-lint: disable-next-line(unsafe-typecast) size <= 100
        uint32 index = uint32(size);
        Checkpoint memory cp = _checkpoint(index);
        bytes memory sigs = _signWith(cp, _firstKeys(t));
        if (warm) mailbox.process(cp, sigs, sent[0], _proof(0, 0, index));
        uint256 first = warm ? 1 : 0;
        bytes memory data = abi.encodeCall(
            IMailbox.processBatch, (cp, sigs, _messages(first, first + size - 1), _proof(first, first + size - 1, index))
        );
        vm.cool(address(mailbox));
        vm.cool(address(minimal));
        string memory name = string.concat(
            "batch", vm.toString(size), "_", vm.toString(t), "of", vm.toString(n), warm ? "_warmWord" : "_freshWord"
        );
        _metered(address(mailbox), data, name);
        // forge-lint: disable-next-line(unsafe-typecast) size <= 100
        vm.assertTrue(mailbox.delivered(ORIGIN, uint32(first + size - 1)), "delivered");
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

    /// @dev Calls `target` with `data`, metering gas for this call only (the test pauses
    /// metering first); reverts with the call's own error.
    /// Returns the call's own gas, which goes to contracts/snapshots/MailboxGas.json as `name`
    /// unless `name` is empty.
    function _metered(address target, bytes memory data, string memory name) internal returns (uint256 exec) {
        vm.resumeGasMetering();
        (bool ok, bytes memory reason) = target.call(data);
        vm.pauseGasMetering();
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(reason, 0x20), mload(reason))
            }
        }
        exec = bytes(name).length == 0 ? vm.lastCallGas().gasTotalUsed : vm.snapshotGasLastCall("MailboxGas", name);
    }
}
