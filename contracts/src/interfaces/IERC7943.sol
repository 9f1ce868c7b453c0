// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @notice ERC-7943 (uRWA) for ERC-20 based tokens: compliance pre-checks, partial
/// freezes and forced transfers. ERC-165 interface id 0x3edbb4c4. The standard's optional
/// errors (ERC7943CannotSend and friends) are left out: SecurityToken reverts with
/// `TransferRestricted`, which carries the ERC-1404 code, as the standard permits.
interface IERC7943Fungible is IERC165 {
    /// @notice `amount` was taken from `from` and given to `to` by an enforcement action.
    event ForcedTransfer(address indexed from, address indexed to, uint256 amount);
    /// @notice The frozen amount of `account` is now `amount`.
    event Frozen(address indexed account, uint256 amount);

    /// @notice Enforcement: moves `amount` from `from` to `to`, frozen tokens included.
    function forcedTransfer(address from, address to, uint256 amount) external returns (bool result);
    /// @notice Sets (overwrites) the frozen amount of `account`; it may exceed the balance.
    function setFrozenTokens(address account, uint256 amount) external returns (bool result);
    /// @notice Whether `account` may send under the token's account-level rules.
    function canSend(address account) external view returns (bool allowed);
    /// @notice Whether `account` may receive under the token's account-level rules.
    function canReceive(address account) external view returns (bool allowed);
    /// @notice The frozen amount of `account` (may exceed its balance).
    function getFrozenTokens(address account) external view returns (uint256 amount);
    /// @notice Whether the token's rules allow this transfer now, frozen amounts included.
    function canTransfer(address from, address to, uint256 amount) external view returns (bool allowed);
}
