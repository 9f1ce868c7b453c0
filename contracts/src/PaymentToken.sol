// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title PaymentToken
/// @notice A plain ERC-20 for the devnet's payment leg (e.g. "Devnet USD", dUSD, 6 decimals).
/// Its owner mints freely: it is a faucet, not money.
contract PaymentToken is ERC20, Ownable {
    uint8 private immutable _decimals;

    /// @param name_ ERC-20 name, e.g. "Devnet USD".
    /// @param symbol_ ERC-20 symbol, e.g. "dUSD".
    /// @param decimals_ ERC-20 decimals, e.g. 6.
    /// @param owner_ May mint.
    constructor(string memory name_, string memory symbol_, uint8 decimals_, address owner_)
        ERC20(name_, symbol_)
        Ownable(owner_)
    {
        _decimals = decimals_;
    }

    /// @notice Faucet: mints `amount` to `to`.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }

    /// @notice ERC-20 decimals.
    function decimals() public view override returns (uint8) {
        return _decimals;
    }
}
