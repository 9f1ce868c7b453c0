// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IMailbox} from "../../src/interfaces/IMailbox.sol";
import {IIdentityRegistry} from "../../src/interfaces/IIdentityRegistry.sol";

/// @notice An app nobody enrolled: dispatches whatever body it is given through a real
/// mailbox, so its messages are proven like any other but carry its address as sender.
contract AttackerApp {
    /// @notice Dispatches `body` to `recipient` on `destination` through `mailbox`.
    function dispatch(IMailbox mailbox, uint32 destination, address recipient, bytes calldata body)
        external
        returns (bytes32)
    {
        return mailbox.dispatch(destination, bytes32(uint256(uint160(recipient))), body);
    }
}

/// @notice A token with the few security-token views the bridge's `send` asks (anyone may
/// receive) that keeps `feeBps` of every transfer: what the bridge's balance-delta check on
/// the home lock is there for. Only the home lock is exercised with it.
contract FeeOnTransferSecurityToken is ERC20 {
    IIdentityRegistry private immutable _registry;
    /// @notice Basis points kept back from every transfer between two accounts.
    uint256 public feeBps;

    constructor(IIdentityRegistry registry_) ERC20("Fee Shares", "FEE") {
        _registry = registry_;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setFee(uint256 bps) external {
        feeBps = bps;
    }

    function canReceive(address) external pure returns (bool) {
        return true;
    }

    function identityRegistry() external view returns (IIdentityRegistry) {
        return _registry;
    }

    function _update(address from, address to, uint256 value) internal override {
        uint256 fee = from == address(0) || to == address(0) ? 0 : value * feeBps / 10_000;
        if (fee != 0) super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}

/// @notice A remote token whose `tryBridgeMint` burns every unit of gas it is given (a mint
/// that runs out of gas): the bridge must treat that as a failed delivery, retried later,
/// never as a refusal that bounces. It names a real registry so the bridge can forward the
/// carried record first.
contract GasBurningToken {
    IIdentityRegistry private immutable _registry;
    /// @notice Counts loop rounds; written so the loop is not optimized away.
    uint256 public rounds;

    constructor(IIdentityRegistry registry_) {
        _registry = registry_;
    }

    function identityRegistry() external view returns (IIdentityRegistry) {
        return _registry;
    }

    /// @notice Never returns: loops until the gas is gone.
    function tryBridgeMint(address, uint256) external returns (uint8) {
        while (rounds < type(uint256).max) {
            ++rounds;
        }
        return 0;
    }
}
