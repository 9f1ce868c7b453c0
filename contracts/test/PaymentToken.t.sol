// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {BaseTest} from "./utils/BaseTest.sol";
import {PaymentToken} from "../src/PaymentToken.sol";

contract PaymentTokenTest is BaseTest {
    PaymentToken dusd;
    address owner = makeAddr("owner");
    address alice = makeAddr("alice");

    function setUp() public {
        dusd = new PaymentToken("Devnet USD", "dUSD", 6, owner);
    }

    function test_metadata() public view {
        assertEq(dusd.decimals(), 6, "decimals");
        assertEq(keccak256(bytes(dusd.symbol())), keccak256("dUSD"), "symbol");
        assertEq(dusd.owner(), owner, "owner");
    }

    function test_ownerMints() public {
        vm.prank(owner);
        dusd.mint(alice, 5e6);
        assertEq(dusd.balanceOf(alice), 5e6, "minted");
    }

    function test_mint_onlyOwner() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        dusd.mint(alice, 1);
        assertEq(dusd.totalSupply(), 0, "nothing minted");
    }
}
