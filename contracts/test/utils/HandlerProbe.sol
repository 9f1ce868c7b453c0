// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MirrorIdentityRegistry} from "../../src/MirrorIdentityRegistry.sol";
import {SecurityToken} from "../../src/SecurityToken.sol";
import {IMailbox} from "../../src/interfaces/IMailbox.sol";
import {IIdentityRegistry, IdentityRecord} from "../../src/interfaces/IIdentityRegistry.sol";

/// @notice For the gas breakdown only: makes, for each recipient in turn, the external calls
/// TokenBridge's `handle` makes on the remote chain for a Transfer (currentMessageId,
/// identityRegistry, applyRecord, tryBridgeMint, the TransferReceived event), and returns the
/// average gas of each step (gasleft() deltas), plus, for scale, a detectTransferRestriction
/// after the mint (all slots warm): what a second check of the rules would cost.
/// It needs FORWARDER_ROLE on the mirror and BRIDGE_ROLE on the token.
contract HandlerProbe {
    SecurityToken public immutable token;
    MirrorIdentityRegistry public immutable mirror;
    IMailbox public immutable mailbox;

    /// @notice The shape of ITokenBridge.TransferReceived, so the event costs the same.
    event TransferReceived(
        bytes32 indexed transferId, address indexed homeToken, uint32 indexed origin, address recipient, uint256 amount
    );

    /// @notice The token refused a recipient the probe was given (the probe measures mints).
    error Refused(address recipient, uint8 code);

    constructor(SecurityToken token_, MirrorIdentityRegistry mirror_, IMailbox mailbox_) {
        token = token_;
        mirror = mirror_;
        mailbox = mailbox_;
    }

    /// @notice Average gas per recipient of each step, in the order above.
    function run(address[] calldata to, IdentityRecord[] calldata records, uint256 amount)
        external
        returns (uint256[6] memory average)
    {
        uint256[6] memory sum;
        for (uint256 i; i < to.length; ++i) {
            uint256 g = gasleft();
            bytes32 id = mailbox.currentMessageId();
            sum[0] += g - gasleft();
            g = gasleft();
            IIdentityRegistry registry = token.identityRegistry();
            sum[1] += g - gasleft();
            g = gasleft();
            MirrorIdentityRegistry(address(registry)).applyRecord(to[i], records[i]);
            sum[2] += g - gasleft();
            g = gasleft();
            uint8 code = token.tryBridgeMint(to[i], amount);
            sum[3] += g - gasleft();
            if (code != 0) revert Refused(to[i], code);
            g = gasleft();
            emit TransferReceived(id, address(token), 1, to[i], amount);
            sum[4] += g - gasleft();
            g = gasleft();
            token.detectTransferRestriction(address(0), to[i], amount);
            sum[5] += g - gasleft();
        }
        for (uint256 k; k < 6; ++k) {
            average[k] = sum[k] / to.length;
        }
    }
}
