// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {TokenFixture} from "./utils/TokenFixture.sol";
import {TokenRules} from "../src/TokenRules.sol";

/// The pre-checks (detectTransferRestriction, canTransfer, canSend, canReceive) against the
/// real outcome of the movers, over random token and registry states.
///
/// Agreement, exactly: a transfer succeeds iff detectTransferRestriction is 0 and the amount
/// is within the sender's balance; when the code is not 0 it reverts with
/// TransferRestricted(code, ...); when only the balance is short it reverts with ERC-20's
/// own ERC20InsufficientBalance (ERC-7943: pre-checks answer the token's rules only).
/// The `try` movers return the pre-check's code exactly, and move exactly when it is 0.
contract SecurityTokenPrecheckTest is TokenFixture {
    uint16[4] countries = [DE, FR, KP, 840];
    address dave = makeAddr("dave");
    address erin = makeAddr("erin");
    address[7] actors;
    uint256 rng;

    function setUp() public override {
        super.setUp();
        actors = [alice, bob, carol, dave, erin, vault, stranger];
    }

    function _next() internal returns (uint256) {
        rng = uint256(keccak256(abi.encode(rng)));
        return rng;
    }

    /// Builds a random state: identities (valid, revoked, registry-frozen, expired; `stranger` has none),
    /// countries, balances, token freezes and partial freezes, holder and balance limits,
    /// lock-up, country lists, pause. Ends at T0 + 500.
    function _randomState(uint256 seed) internal {
        rng = seed;
        uint256[5] memory status;
        vm.startPrank(agent);
        for (uint256 i = 0; i < 5; ++i) {
            address a = actors[i];
            status[i] = _next() % 12; // 1 revoked, 2 registry-frozen, 3 expires at T0+100, else valid
            uint64 exp = status[i] == 3 ? uint64(T0 + 100) : expiry;
            registry.setRecord(a, keccak256(abi.encode(a)), countries[_next() % 4], exp, 0);
            if (_next() % 2 == 0) token.mint(a, _next() % 500);
        }
        token.mint(vault, _next() % 500);
        for (uint256 i = 0; i < 5; ++i) {
            address a = actors[i];
            if (status[i] == 1) registry.revoke(a);
            if (status[i] == 2) registry.freeze(a);
            if (_next() % 10 == 0) token.setAddressFrozen(a, true);
            if (_next() % 3 == 0) token.setFrozenTokens(a, _next() % 600);
        }
        if (_next() % 10 == 0) token.setAddressFrozen(vault, true); // custodians obey the token's freezes
        if (_next() % 4 == 0) token.setFrozenTokens(vault, _next() % 600);
        if (_next() % 2 == 0) token.setMaxHolders(uint32(token.holderCount() + (_next() % 3)));
        if (_next() % 2 == 0) token.setMaxBalance(uint128(100 + _next() % 600));
        uint256 lockup = _next() % 6;
        if (lockup < 2) token.setLockupUntil(uint64(lockup == 0 ? T0 + 500 : T0 + 501)); // boundary: ends at now / now + 1
        uint16[] memory one = new uint16[](1);
        one[0] = countries[_next() % 4];
        if (_next() % 3 == 0) token.setCountriesDenied(one, true);
        if (_next() % 3 == 0) {
            uint16[] memory two = new uint16[](2);
            two[0] = countries[_next() % 4];
            two[1] = countries[_next() % 4];
            token.setCountriesAllowed(two, true);
            token.setAllowListEnabled(true);
        }
        if (_next() % 16 == 0) token.pause();
        vm.stopPrank();
        vm.warp(T0 + 500);
    }

    /// Boundaries more often than chance would: the whole balance (the sender leaves), the
    /// unfrozen part and one more, one more than the balance; else anything up to the balance.
    function _pickAmount(address from, uint256 seed) internal view returns (uint256) {
        uint256 balance = token.balanceOf(from);
        uint256 frozen = token.getFrozenTokens(from);
        uint256 unfrozen = balance > frozen ? balance - frozen : 0;
        uint256 mode = seed % 6;
        if (mode == 0) return balance;
        if (mode == 1) return unfrozen;
        if (mode == 2) return unfrozen + 1;
        if (mode == 3) return balance + 1;
        return bound(seed >> 8, 0, balance);
    }

    function _actualHolders() internal view returns (uint256 n) {
        for (uint256 i = 0; i < actors.length; ++i) {
            if (!token.isCustodian(actors[i]) && token.balanceOf(actors[i]) != 0) ++n;
        }
    }

    /// The account-level checks bound canTransfer as ERC-7943 requires.
    function _assertAccountLevel(address from, address to, bool can) internal view {
        if (can) {
            assertTrue(from == address(0) || token.canSend(from), "canTransfer without canSend");
            assertTrue(to == address(0) || token.canReceive(to), "canTransfer without canReceive");
        }
    }

    /// What `mover` did, against what the pre-check said it would.
    function _assertOutcome(
        bool ok,
        bytes memory ret,
        uint8 code,
        address from,
        address to,
        uint256 amount,
        uint256 balance
    ) internal pure {
        if (code != 0) {
            assertFalse(ok, "moved although restricted");
            assertEq(
                ret, abi.encodeWithSelector(TokenRules.TransferRestricted.selector, code, from, to, amount), "error"
            );
        } else if (from != address(0) && amount > balance) {
            assertFalse(ok, "moved more than the balance");
            assertEq(
                ret,
                abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, from, balance, amount),
                "error"
            );
        } else {
            assertTrue(ok, "refused although the pre-check allowed it");
        }
    }

    function test_fuzz_precheckAgreesWithTransfer(uint256 seed, uint8 fromIdx, uint8 toIdx, uint256 amount) public {
        _randomState(seed);
        address from = actors[fromIdx % actors.length];
        address to = actors[toIdx % actors.length];
        amount = _pickAmount(from, amount);
        uint8 code = token.detectTransferRestriction(from, to, amount);
        bool can = token.canTransfer(from, to, amount);
        assertEq(can, code == 0, "canTransfer == (code == 0)");
        _assertAccountLevel(from, to, can);
        uint256 fromBalance = token.balanceOf(from);
        uint256 toBalance = token.balanceOf(to);
        uint256 holders = token.holderCount();

        vm.prank(from);
        (bool ok, bytes memory ret) = address(token).call(abi.encodeCall(token.transfer, (to, amount)));
        _assertOutcome(ok, ret, code, from, to, amount, fromBalance);
        if (ok && from != to) {
            assertEq(token.balanceOf(from), fromBalance - amount, "sender balance");
            assertEq(token.balanceOf(to), toBalance + amount, "recipient balance");
        }
        if (!ok) assertEq(token.holderCount(), holders, "a refused transfer changed the holder count");
        assertEq(token.holderCount(), _actualHolders(), "holderCount");
    }

    function test_fuzz_precheckAgreesWithTransferFrom(uint256 seed, uint8 fromIdx, uint8 toIdx, uint256 amount) public {
        _randomState(seed);
        address from = actors[fromIdx % actors.length];
        address to = actors[toIdx % actors.length];
        amount = _pickAmount(from, amount);
        uint8 code = token.detectTransferRestriction(from, to, amount);
        uint256 fromBalance = token.balanceOf(from);
        vm.prank(from);
        token.approve(stranger, type(uint256).max);
        vm.prank(stranger);
        (bool ok, bytes memory ret) = address(token).call(abi.encodeCall(token.transferFrom, (from, to, amount)));
        _assertOutcome(ok, ret, code, from, to, amount, fromBalance);
        assertEq(token.holderCount(), _actualHolders(), "holderCount");
    }

    /// detectTransferRestriction(0, to, amount) describes a mint (agent or bridge).
    function test_fuzz_precheckAgreesWithMint(uint256 seed, uint8 toIdx, uint256 amount, bool viaBridge) public {
        _randomState(seed);
        address to = actors[toIdx % actors.length];
        amount = bound(amount, 0, 700);
        uint8 code = token.detectTransferRestriction(address(0), to, amount);
        vm.prank(viaBridge ? bridge : agent);
        (bool ok, bytes memory ret) = address(token)
            .call(viaBridge ? abi.encodeCall(token.bridgeMint, (to, amount)) : abi.encodeCall(token.mint, (to, amount)));
        _assertOutcome(ok, ret, code, address(0), to, amount, 0);
        assertEq(token.holderCount(), _actualHolders(), "holderCount");
    }

    /// detectTransferRestriction(from, 0, amount) describes a bridge burn.
    function test_fuzz_precheckAgreesWithBridgeBurn(uint256 seed, uint8 fromIdx, uint256 amount) public {
        _randomState(seed);
        address from = actors[fromIdx % actors.length];
        amount = _pickAmount(from, amount);
        uint8 code = token.detectTransferRestriction(from, address(0), amount);
        uint256 fromBalance = token.balanceOf(from);
        vm.prank(bridge);
        (bool ok, bytes memory ret) = address(token).call(abi.encodeCall(token.bridgeBurn, (from, amount)));
        _assertOutcome(ok, ret, code, from, address(0), amount, fromBalance);
        assertEq(token.holderCount(), _actualHolders(), "holderCount");
    }

    /// tryBridgeMint returns detectTransferRestriction(0, to, amount) and mints exactly when it is 0.
    function test_fuzz_precheckAgreesWithTryBridgeMint(uint256 seed, uint8 toIdx, uint256 amount) public {
        _randomState(seed);
        address to = actors[toIdx % actors.length];
        amount = bound(amount, 0, 700);
        uint8 code = token.detectTransferRestriction(address(0), to, amount);
        uint256 toBalance = token.balanceOf(to);
        uint256 supply = token.totalSupply();
        vm.prank(bridge);
        (bool ok, bytes memory ret) = address(token).call(abi.encodeCall(token.tryBridgeMint, (to, amount)));
        assertTrue(ok, "a restriction is returned, never a revert");
        assertEq(abi.decode(ret, (uint8)), code, "returned code == pre-check");
        uint256 minted = code == 0 ? amount : 0;
        assertEq(token.balanceOf(to), toBalance + minted, "recipient balance");
        assertEq(token.totalSupply(), supply + minted, "supply");
        assertEq(token.holderCount(), _actualHolders(), "holderCount");
    }

    /// tryTransferFromCustody (the custodian `vault` sending) returns
    /// detectTransferRestriction(vault, to, amount) and moves exactly when it is 0; a shortfall
    /// under no restriction is ERC-20's error.
    function test_fuzz_precheckAgreesWithTryTransferFromCustody(uint256 seed, uint8 toIdx, uint256 amount) public {
        _randomState(seed);
        address to = actors[toIdx % actors.length];
        amount = _pickAmount(vault, amount);
        uint8 code = token.detectTransferRestriction(vault, to, amount);
        uint256 vaultBalance = token.balanceOf(vault);
        uint256 toBalance = token.balanceOf(to);
        vm.prank(vault);
        (bool ok, bytes memory ret) = address(token).call(abi.encodeCall(token.tryTransferFromCustody, (to, amount)));
        if (code == 0 && amount > vaultBalance) {
            assertFalse(ok, "moved more than the balance");
            assertEq(
                ret,
                abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, vault, vaultBalance, amount),
                "error"
            );
        } else {
            assertTrue(ok, "a restriction is returned, never a revert");
            assertEq(abi.decode(ret, (uint8)), code, "returned code == pre-check");
            uint256 moved = code == 0 && to != vault ? amount : 0;
            assertEq(token.balanceOf(vault), vaultBalance - moved, "custodian balance");
            assertEq(token.balanceOf(to), to == vault ? toBalance : toBalance + moved, "recipient balance");
        }
        assertEq(token.holderCount(), _actualHolders(), "holderCount");
    }
}
