// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IIdentityRegistry} from "./IIdentityRegistry.sol";

/// @notice ERC-1404 restriction codes of SecurityToken (0 = allowed).
library Restriction {
    uint8 internal constant SUCCESS = 0;
    uint8 internal constant PAUSED = 1;
    uint8 internal constant SENDER_FROZEN = 2;
    uint8 internal constant RECIPIENT_FROZEN = 3;
    uint8 internal constant INSUFFICIENT_UNFROZEN_BALANCE = 4;
    uint8 internal constant RECIPIENT_NOT_VERIFIED = 5;
    uint8 internal constant SENDER_NOT_VERIFIED = 6;
    uint8 internal constant COUNTRY_NOT_ALLOWED = 7;
    uint8 internal constant MAX_HOLDERS_REACHED = 8;
    uint8 internal constant MAX_BALANCE_EXCEEDED = 9;
    uint8 internal constant LOCKED_UP = 10;
}

/// @notice What the bridge and the timelock need of a security token.
interface ISecurityToken is IERC20 {
    /// @notice ERC-1404: the restriction that would stop `from` sending `value` to `to`
    /// (from = address(0) for a mint); 0 when the transfer would succeed.
    function detectTransferRestriction(address from, address to, uint256 value) external view returns (uint8);
    /// @notice ERC-1404: the text of a restriction code.
    function messageForTransferRestriction(uint8 code) external view returns (string memory);
    /// @notice ERC-7943 style pre-checks.
    function canSend(address account) external view returns (bool);
    function canReceive(address account) external view returns (bool);
    function canTransfer(address from, address to, uint256 amount) external view returns (bool);

    /// @notice The registry this token asks about investors.
    function identityRegistry() external view returns (IIdentityRegistry);

    /// @notice Bridge role: mint under the token's rules (remote chains).
    function bridgeMint(address to, uint256 amount) external;
    /// @notice Bridge role: mint under the token's rules, as `bridgeMint`, but a refusal mints
    /// nothing and returns its ERC-1404 code instead of reverting (0: minted). The bridge's
    /// delivery checks the rules once this way and bounces on a nonzero code. Anything else
    /// that fails (the role, out of gas) reverts.
    function tryBridgeMint(address to, uint256 amount) external returns (uint8 code);
    /// @notice Custodian only (the bridge escrow on the home chain): transfer `amount` of the
    /// caller's tokens to `to` under every rule `transfer` applies (pause, the custodian's
    /// freezes, the recipient's side with its limits); a refusal moves nothing and returns its
    /// ERC-1404 code instead of reverting (0: moved). A balance shortfall reverts, as ERC-20's
    /// transfer does; a caller that is not a custodian reverts with `NotCustodian`.
    function tryTransferFromCustody(address to, uint256 amount) external returns (uint8 code);
    /// @notice Bridge role: burn under the sender-side rules (remote chains).
    function bridgeBurn(address from, uint256 amount) external;
    /// @notice Bridge role: re-mint a bounced transfer to its sender (remote chains), without
    /// the recipient-side rules: the tokens were `to`'s before. Freezes still bind afterwards.
    function restoreMint(address to, uint256 amount) external;
    /// @notice Custodian role (bridge escrow, timelock): give back tokens the custodian holds
    /// for `to` without the recipient-side rules (a bounced transfer, an expired lock).
    function release(address to, uint256 amount) external;
    /// @notice Custodians (bridge, timelock) hold tokens for investors: they need no identity,
    /// are not counted as holders and are not bound by the maximum balance.
    function isCustodian(address account) external view returns (bool);
}
