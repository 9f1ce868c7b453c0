// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ISecurityToken, Restriction} from "./interfaces/ISecurityToken.sol";
import {IERC7943Fungible} from "./interfaces/IERC7943.sol";
import {IIdentityRegistry} from "./interfaces/IIdentityRegistry.sol";
import {TokenRules} from "./TokenRules.sol";

/// @title SecurityToken
/// @notice An ERC-20 for regulated securities. Every movement is checked against the
/// token's rules (TokenRules: identity, country, freezes, holders, balance, lock-up,
/// pause); wallets can ask first through ERC-1404 (`detectTransferRestriction`) and
/// ERC-7943 (`canSend`, `canReceive`, `canTransfer`), which run the very code the
/// transfer runs. Each public mover names the rules it applies:
///
/// | mover | pause | sender side | unfrozen balance | recipient side |
/// | --- | --- | --- | --- | --- |
/// | transfer, transferFrom | yes | yes | yes | yes |
/// | tryTransferFromCustody (custodian) | yes | yes (a custodian: its freeze) | yes | yes |
/// | mint (agent), bridgeMint, tryBridgeMint (bridge) | yes | - | - | yes |
/// | bridgeBurn (bridge) | yes | yes | yes | - |
/// | restoreMint (bridge) | yes | - | - | no |
/// | release (custodian) | yes | yes (a custodian: its freeze) | yes | no |
/// | forcedTransfer (agent) | no | no | no (unfreezes) | freeze, identity, country; no limits |
/// | burn (agent) | no | no | no (unfreezes) | - |
///
/// The two `try` movers refuse by returning the ERC-1404 code instead of reverting (one
/// check for the bridge's delivery, where a refusal bounces); every other failure (roles,
/// a balance shortfall, out of gas) still reverts.
///
/// A custodian on either side skips that side's identity-derived rules (registry status,
/// country, lock-up, holder and balance limits); the token's own freezes bind it too.
contract SecurityToken is ERC20, AccessControl, Pausable, TokenRules, ISecurityToken, IERC7943Fungible {
    /// @notice Mint, burn, freeze, forced transfer, pause and rule changes.
    bytes32 public constant AGENT_ROLE = keccak256("AGENT_ROLE");
    /// @notice bridgeMint, bridgeBurn and restoreMint (the TokenBridge).
    bytes32 public constant BRIDGE_ROLE = keccak256("BRIDGE_ROLE");

    uint8 private immutable _decimals;

    /// @notice A zero address where an account is required.
    error ZeroAddress();

    /// @param name_ ERC-20 name.
    /// @param symbol_ ERC-20 symbol.
    /// @param decimals_ ERC-20 decimals.
    /// @param registry The identity registry (home registry or mirror) this token asks.
    /// @param admin Holds DEFAULT_ADMIN_ROLE: grants roles and sets custodians.
    constructor(string memory name_, string memory symbol_, uint8 decimals_, IIdentityRegistry registry, address admin)
        ERC20(name_, symbol_)
        TokenRules(registry)
    {
        if (admin == address(0)) revert ZeroAddress();
        _decimals = decimals_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------------ investors

    /// @notice ERC-20 transfer under every rule.
    function transfer(address to, uint256 value) public override(ERC20, IERC20) returns (bool) {
        _enforce(_msgSender(), to, value, true);
        return super.transfer(to, value);
    }

    /// @notice ERC-20 transferFrom under every rule (the allowance is checked after them).
    function transferFrom(address from, address to, uint256 value) public override(ERC20, IERC20) returns (bool) {
        _enforce(from, to, value, true);
        return super.transferFrom(from, to, value);
    }

    // ------------------------------------------------------------------ agent

    /// @notice Issues `amount` to `to` under the recipient-side rules (not during a pause).
    function mint(address to, uint256 amount) external onlyRole(AGENT_ROLE) {
        _enforce(address(0), to, amount, true);
        _mint(to, amount);
    }

    /// @notice Destroys `amount` of `from`, frozen tokens included (ERC-7943 permissioned burn).
    function burn(address from, uint256 amount) external onlyRole(AGENT_ROLE) {
        _unfreezeFor(from, amount);
        _burn(from, amount);
    }

    /// @notice ERC-7943 enforcement transfer: moves `amount`, frozen tokens included (their
    /// frozen amount shrinks by the frozen part moved), ignoring pause, lock-up, the sender's
    /// status and the holder and balance limits. The recipient must still be able to receive
    /// (`canReceive`): an enforcement action may not hand securities to an ineligible wallet.
    function forcedTransfer(address from, address to, uint256 amount) external onlyRole(AGENT_ROLE) returns (bool) {
        if (to != address(0)) {
            uint8 code = _receiveCode(to, _accounts[to]);
            if (code != Restriction.SUCCESS) revert TransferRestricted(code, from, to, amount);
        }
        _unfreezeFor(from, amount);
        _transfer(from, to, amount);
        emit ForcedTransfer(from, to, amount);
        return true;
    }

    /// @notice ERC-7943: sets the frozen amount of `account` (may exceed its balance).
    function setFrozenTokens(address account, uint256 amount) external onlyRole(AGENT_ROLE) returns (bool) {
        if (account == address(0)) revert ZeroAddress();
        _frozenTokens[account] = amount;
        emit Frozen(account, amount);
        return true;
    }

    /// @notice Freezes or unfreezes every token of `account`: it can neither send nor receive
    /// (custodians included), except tokens given back to it by `release` or `restoreMint`.
    function setAddressFrozen(address account, bool frozen) external onlyRole(AGENT_ROLE) {
        if (account == address(0)) revert ZeroAddress();
        _accounts[account].frozen = frozen;
        emit AddressFrozen(account, frozen);
    }

    /// @notice Stops every movement except the agent's burn and forcedTransfer.
    function pause() external onlyRole(AGENT_ROLE) {
        _pause();
    }

    /// @notice Lifts the pause.
    function unpause() external onlyRole(AGENT_ROLE) {
        _unpause();
    }

    /// @notice Allows or disallows receiving for holders of these countries (allow list).
    function setCountriesAllowed(uint16[] calldata countries, bool allowed) external onlyRole(AGENT_ROLE) {
        _setCountries(countryAllowed, countries, allowed, false);
    }

    /// @notice Bars or unbars receiving for holders of these countries (deny list).
    function setCountriesDenied(uint16[] calldata countries, bool denied) external onlyRole(AGENT_ROLE) {
        _setCountries(countryDenied, countries, denied, true);
    }

    /// @notice Turns the country allow list on (only allowed countries receive) or off.
    function setAllowListEnabled(bool enabled) external onlyRole(AGENT_ROLE) {
        _rules.allowListEnabled = enabled;
        emit AllowListEnabled(enabled);
    }

    /// @notice Maximum number of holders (0: no limit). Lowering it below the current
    /// count keeps existing holders; it only refuses new ones.
    function setMaxHolders(uint32 maxHolders_) external onlyRole(AGENT_ROLE) {
        _rules.maxHolders = maxHolders_;
        emit MaxHoldersSet(maxHolders_);
    }

    /// @notice Maximum balance of one wallet (0: no limit).
    function setMaxBalance(uint128 maxBalance_) external onlyRole(AGENT_ROLE) {
        _rules.maxBalance = maxBalance_;
        emit MaxBalanceSet(maxBalance_);
    }

    /// @notice Investors may not send before `until` (0: no lock-up).
    function setLockupUntil(uint64 until) external onlyRole(AGENT_ROLE) {
        _rules.lockupUntil = until;
        emit LockupSet(until);
    }

    // ------------------------------------------------------------------ admin

    /// @notice Marks `account` as a custodian (bridge escrow, timelock) or not. The holder
    /// count follows: a custodian with a balance stops counting, and counts again when unmarked.
    function setCustodian(address account, bool custodian) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (account == address(0)) revert ZeroAddress();
        if (_accounts[account].custodian == custodian) return;
        _accounts[account].custodian = custodian;
        if (balanceOf(account) != 0) {
            if (custodian) --holderCount;
            else ++holderCount;
        }
        emit CustodianSet(account, custodian);
    }

    // ------------------------------------------------------------------ bridge and custodians

    /// @inheritdoc ISecurityToken
    function bridgeMint(address to, uint256 amount) external onlyRole(BRIDGE_ROLE) {
        _enforce(address(0), to, amount, true);
        _mint(to, amount);
    }

    /// @inheritdoc ISecurityToken
    function tryBridgeMint(address to, uint256 amount) external onlyRole(BRIDGE_ROLE) returns (uint8 code) {
        code = _code(address(0), to, amount, true);
        if (code == Restriction.SUCCESS) _mint(to, amount);
    }

    /// @inheritdoc ISecurityToken
    function bridgeBurn(address from, uint256 amount) external onlyRole(BRIDGE_ROLE) {
        _enforce(from, address(0), amount, false);
        _burn(from, amount);
    }

    /// @inheritdoc ISecurityToken
    function restoreMint(address to, uint256 amount) external onlyRole(BRIDGE_ROLE) {
        _enforce(address(0), to, amount, false);
        _mint(to, amount);
    }

    /// @inheritdoc ISecurityToken
    function release(address to, uint256 amount) external {
        address custodian = _msgSender();
        if (!_accounts[custodian].custodian) revert NotCustodian(custodian);
        _enforce(custodian, to, amount, false);
        _transfer(custodian, to, amount);
    }

    /// @inheritdoc ISecurityToken
    function tryTransferFromCustody(address to, uint256 amount) external returns (uint8 code) {
        address custodian = _msgSender();
        if (!_accounts[custodian].custodian) revert NotCustodian(custodian);
        code = _code(custodian, to, amount, true);
        if (code == Restriction.SUCCESS) _transfer(custodian, to, amount);
    }

    // ------------------------------------------------------------------ views

    /// @notice ERC-20 decimals.
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @inheritdoc ISecurityToken
    function detectTransferRestriction(address from, address to, uint256 value) public view returns (uint8) {
        return _code(from, to, value, true);
    }

    /// @inheritdoc ISecurityToken
    function messageForTransferRestriction(uint8 code) external pure returns (string memory) {
        return _message(code);
    }

    /// @inheritdoc ISecurityToken
    function canTransfer(address from, address to, uint256 amount)
        external
        view
        override(ISecurityToken, IERC7943Fungible)
        returns (bool)
    {
        return detectTransferRestriction(from, to, amount) == Restriction.SUCCESS;
    }

    /// @notice Account-level sending rules: not frozen, verified, not locked up (a custodian:
    /// not frozen).
    function canSend(address account) external view override(ISecurityToken, IERC7943Fungible) returns (bool) {
        return _sendCode(account, _accounts[account]) == Restriction.SUCCESS;
    }

    /// @notice Account-level receiving rules: not frozen, verified, country allowed (a
    /// custodian: not frozen).
    function canReceive(address account) external view override(ISecurityToken, IERC7943Fungible) returns (bool) {
        return _receiveCode(account, _accounts[account]) == Restriction.SUCCESS;
    }

    /// @inheritdoc IERC7943Fungible
    function getFrozenTokens(address account) external view returns (uint256) {
        return _frozenTokens[account];
    }

    /// @inheritdoc ISecurityToken
    function identityRegistry() external view returns (IIdentityRegistry) {
        return _registry;
    }

    /// @inheritdoc ISecurityToken
    function isCustodian(address account) external view returns (bool) {
        return _accounts[account].custodian;
    }

    /// @notice Whether every token of `account` is frozen by this token.
    function isAddressFrozen(address account) external view returns (bool) {
        return _accounts[account].frozen;
    }

    /// @notice ERC-165: AccessControl and ERC-7943 (fungible).
    function supportsInterface(bytes4 interfaceId) public view override(AccessControl, IERC165) returns (bool) {
        return interfaceId == type(IERC7943Fungible).interfaceId || super.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Reverts unless the rules allow the movement (a balance shortfall is left to
    /// ERC-20's own error, as ERC-7943 asks).
    function _enforce(address from, address to, uint256 amount, bool recipientSide) private view {
        uint8 code = _code(from, to, amount, recipientSide);
        if (code != Restriction.SUCCESS) revert TransferRestricted(code, from, to, amount);
    }

    /// @dev The restriction code of a movement: pause, then every rule (TokenRules). The
    /// pre-checks, the reverting movers and the `try` movers all ask this.
    function _code(address from, address to, uint256 amount, bool recipientSide) private view returns (uint8) {
        return paused() ? Restriction.PAUSED : _ruleCode(from, to, amount, recipientSide);
    }

    /// @dev Enforcement moves may take frozen tokens: the frozen amount first shrinks by the
    /// frozen part being moved (ERC-7943: `Frozen` is emitted before `Transfer`).
    function _unfreezeFor(address from, uint256 amount) private {
        uint256 frozen = _frozenTokens[from];
        if (frozen == 0) return;
        uint256 balance = balanceOf(from);
        uint256 unfrozen = _unfrozen(balance, frozen);
        if (amount <= unfrozen || amount > balance) return; // nothing frozen moves, or ERC-20 reverts
        uint256 remaining = frozen - (amount - unfrozen);
        _frozenTokens[from] = remaining;
        emit Frozen(from, remaining);
    }

    /// @dev The one place balances change (OpenZeppelin 5): keeps the holder count, i.e. the
    /// non-custodian accounts with a nonzero balance.
    function _update(address from, address to, uint256 value) internal override {
        bool leaves;
        bool joins;
        if (value != 0 && from != to) {
            leaves = from != address(0) && !_accounts[from].custodian && balanceOf(from) == value;
            joins = to != address(0) && !_accounts[to].custodian && balanceOf(to) == 0;
        }
        super._update(from, to, value);
        if (joins && !leaves) ++holderCount;
        else if (leaves && !joins) --holderCount;
    }

    /// @dev TokenRules reads balances through this.
    function _balanceOf(address account) internal view override returns (uint256) {
        return balanceOf(account);
    }
}
