// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Restriction} from "./interfaces/ISecurityToken.sol";
import {IIdentityRegistry, FLAG_FROZEN} from "./interfaces/IIdentityRegistry.sol";
import {IdentityLib} from "./libs/IdentityLib.sol";

/// @title TokenRules
/// @notice The compliance state and rules of SecurityToken, as views returning ERC-1404
/// codes. The same functions answer the pre-checks and guard the movers, so the two
/// cannot disagree.
///
/// Order of evaluation (the first failing rule is reported):
/// pause (by the caller); sender side: frozen (token or registry), not verified, lock-up;
/// unfrozen balance; recipient side: frozen, not verified, country, holders, balance.
///
/// Custodians (bridge escrow, timelock) skip every rule that comes from an investor's
/// identity or holdings (registry status, country, lock-up, holder and balance limits) but
/// not the token's own freezes: an agent who freezes an address, or part of its balance,
/// stops it whatever it is.
///
/// A plain balance shortfall (amount above the whole balance) is not a restriction: as
/// ERC-7943 requires, the pre-checks answer only the token's rules and ERC-20 reverts with
/// its own error. So a transfer succeeds exactly when the code is 0 and the amount is within
/// the balance (and allowance); this lets a custodian that does not hold the tokens yet (the
/// timelock, before pulling them) ask whether a receiver could get them.
abstract contract TokenRules {
    /// @dev One slot per account: custodian flag and whole-address freeze.
    struct Account {
        bool custodian;
        bool frozen;
    }

    /// @dev Token-wide limits, packed in one slot (read by every transfer).
    struct Rules {
        uint128 maxBalance; // per wallet; 0 = no limit
        uint64 lockupUntil; // investors may not send before it; 0 = none
        uint32 maxHolders; // 0 = no limit
        bool allowListEnabled; // only countryAllowed countries may receive
    }

    /// @dev The registry this token asks about investors.
    IIdentityRegistry internal immutable _registry;

    /// @notice Number of non-custodian accounts with a nonzero balance.
    uint256 public holderCount;
    /// @notice Countries on the allow list (used while the allow list is enabled).
    mapping(uint16 country => bool) public countryAllowed;
    /// @notice Countries on the deny list (always applied).
    mapping(uint16 country => bool) public countryDenied;

    mapping(address account => Account) internal _accounts;
    mapping(address account => uint256) internal _frozenTokens;
    Rules internal _rules;

    /// @notice Every token of `account` was frozen or unfrozen.
    event AddressFrozen(address indexed account, bool frozen);
    /// @notice `account` became, or stopped being, a custodian.
    event CustodianSet(address indexed account, bool custodian);
    /// @notice A country was put on or taken off the allow list.
    event CountryAllowed(uint16 indexed country, bool allowed);
    /// @notice A country was put on or taken off the deny list.
    event CountryDenied(uint16 indexed country, bool denied);
    /// @notice The allow list was turned on or off.
    event AllowListEnabled(bool enabled);
    /// @notice The maximum number of holders changed (0: none).
    event MaxHoldersSet(uint32 maxHolders);
    /// @notice The maximum balance per wallet changed (0: none).
    event MaxBalanceSet(uint128 maxBalance);
    /// @notice The lock-up end changed (0: none).
    event LockupSet(uint64 until);

    /// @notice The token's rules refuse the movement; `code` is the ERC-1404 restriction.
    error TransferRestricted(uint8 code, address from, address to, uint256 amount);
    /// @notice Only a custodian may call `release` or `tryTransferFromCustody`.
    error NotCustodian(address account);
    /// @notice Not an ISO 3166-1 numeric country code (1..999).
    error InvalidCountry(uint16 country);
    /// @notice The registry is the zero address.
    error ZeroRegistry();

    constructor(IIdentityRegistry registry) {
        if (address(registry) == address(0)) revert ZeroRegistry();
        _registry = registry;
    }

    /// @notice Maximum balance per wallet (0: none).
    function maxBalance() external view returns (uint128) {
        return _rules.maxBalance;
    }

    /// @notice Investors may not send before this time (0: none).
    function lockupUntil() external view returns (uint64) {
        return _rules.lockupUntil;
    }

    /// @notice Maximum number of holders (0: none).
    function maxHolders() external view returns (uint32) {
        return _rules.maxHolders;
    }

    /// @notice Whether only allow-listed countries may receive.
    function allowListEnabled() external view returns (bool) {
        return _rules.allowListEnabled;
    }

    /// @dev Balance lookup, provided by the token.
    function _balanceOf(address account) internal view virtual returns (uint256);

    /// @dev Every rule but pause. `recipientSide` false skips the recipient's rules
    /// (restoreMint, release). A zero `from` is a mint, a zero `to` a burn.
    function _ruleCode(address from, address to, uint256 amount, bool recipientSide)
        internal
        view
        returns (uint8 code)
    {
        bool fromCustodian;
        if (from != address(0)) {
            Account memory f = _accounts[from];
            fromCustodian = f.custodian;
            code = _sendCode(from, f);
            if (code != Restriction.SUCCESS) return code;
            uint256 balance = _balanceOf(from);
            if (amount <= balance && amount > _unfrozen(balance, _frozenTokens[from])) {
                return Restriction.INSUFFICIENT_UNFROZEN_BALANCE;
            }
        }
        if (to == address(0) || !recipientSide) return Restriction.SUCCESS;
        Account memory t = _accounts[to];
        code = _receiveCode(to, t);
        if (code != Restriction.SUCCESS || t.custodian) return code;
        if (from == to) return Restriction.SUCCESS; // a self-transfer changes no balance
        return _limitCode(from, fromCustodian, to, amount);
    }

    /// @dev Sender side, account level: frozen (token, then registry), not verified, lock-up.
    /// A custodian answers to the token's own freeze only.
    function _sendCode(address from, Account memory a) internal view returns (uint8) {
        if (a.frozen) return Restriction.SENDER_FROZEN;
        if (a.custodian) return Restriction.SUCCESS;
        (, uint64 expiresAt, uint32 flags, uint64 version) = _registry.statusOf(from);
        if (flags & FLAG_FROZEN != 0) return Restriction.SENDER_FROZEN;
        if (!IdentityLib.isValid(expiresAt, flags, version, block.timestamp)) return Restriction.SENDER_NOT_VERIFIED;
        if (block.timestamp < _rules.lockupUntil) return Restriction.LOCKED_UP;
        return Restriction.SUCCESS;
    }

    /// @dev Recipient side, account level: frozen (token, then registry), not verified,
    /// country. A custodian answers to the token's own freeze only.
    function _receiveCode(address to, Account memory a) internal view returns (uint8) {
        if (a.frozen) return Restriction.RECIPIENT_FROZEN;
        if (a.custodian) return Restriction.SUCCESS;
        (uint16 country, uint64 expiresAt, uint32 flags, uint64 version) = _registry.statusOf(to);
        if (flags & FLAG_FROZEN != 0) return Restriction.RECIPIENT_FROZEN;
        if (!IdentityLib.isValid(expiresAt, flags, version, block.timestamp)) {
            return Restriction.RECIPIENT_NOT_VERIFIED;
        }
        if (countryDenied[country]) return Restriction.COUNTRY_NOT_ALLOWED;
        if (_rules.allowListEnabled && !countryAllowed[country]) return Restriction.COUNTRY_NOT_ALLOWED;
        return Restriction.SUCCESS;
    }

    /// @dev Recipient side, quantities: a new holder beyond the maximum (counting the sender
    /// who leaves by sending everything), a wallet balance beyond the maximum.
    function _limitCode(address from, bool fromCustodian, address to, uint256 amount) private view returns (uint8) {
        Rules memory rules = _rules;
        uint256 toBalance = _balanceOf(to);
        if (rules.maxHolders != 0 && toBalance == 0 && amount != 0) {
            uint256 holdersAfter = holderCount + 1;
            if (from != address(0) && !fromCustodian && _balanceOf(from) == amount) --holdersAfter;
            if (holdersAfter > rules.maxHolders) return Restriction.MAX_HOLDERS_REACHED;
        }
        if (
            rules.maxBalance != 0 && amount != 0
                && (toBalance > rules.maxBalance || amount > rules.maxBalance - toBalance)
        ) {
            return Restriction.MAX_BALANCE_EXCEEDED;
        }
        return Restriction.SUCCESS;
    }

    /// @dev Balance minus frozen amount, floored at zero (the frozen amount may exceed the balance).
    function _unfrozen(uint256 balance, uint256 frozen) internal pure returns (uint256) {
        return balance > frozen ? balance - frozen : 0;
    }

    function _setCountries(mapping(uint16 => bool) storage list, uint16[] calldata countries, bool on, bool isDenyList)
        internal
    {
        for (uint256 i = 0; i < countries.length; ++i) {
            uint16 c = countries[i];
            if (c == 0 || c > 999) revert InvalidCountry(c);
            list[c] = on;
            if (isDenyList) emit CountryDenied(c, on);
            else emit CountryAllowed(c, on);
        }
    }

    /// @dev ERC-1404 texts.
    function _message(uint8 code) internal pure returns (string memory) {
        if (code == Restriction.SUCCESS) return "No restriction";
        if (code == Restriction.PAUSED) return "Token is paused";
        if (code == Restriction.SENDER_FROZEN) return "Sender is frozen";
        if (code == Restriction.RECIPIENT_FROZEN) return "Recipient is frozen";
        if (code == Restriction.INSUFFICIENT_UNFROZEN_BALANCE) return "Insufficient unfrozen balance";
        if (code == Restriction.RECIPIENT_NOT_VERIFIED) return "Recipient is not a verified investor";
        if (code == Restriction.SENDER_NOT_VERIFIED) return "Sender is not a verified investor";
        if (code == Restriction.COUNTRY_NOT_ALLOWED) return "Recipient's country is not allowed";
        if (code == Restriction.MAX_HOLDERS_REACHED) return "Maximum number of holders reached";
        if (code == Restriction.MAX_BALANCE_EXCEEDED) return "Recipient's balance would exceed the maximum";
        if (code == Restriction.LOCKED_UP) return "Tokens are locked up";
        return "Unknown restriction code";
    }
}
