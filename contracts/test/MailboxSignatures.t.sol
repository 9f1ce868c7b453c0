// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IMailbox, Checkpoint} from "../src/interfaces/IMailbox.sol";
import {MailboxFixture} from "./utils/MailboxFixture.sol";

/// @notice Every way a signature set could try to get past the checkpoint check (3-of-5).
contract MailboxSignaturesTest is MailboxFixture {
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    Checkpoint internal cp;
    bytes32[] internal proof;

    function setUp() public override {
        super.setUp();
        _sendMany(4);
        cp = _checkpoint(3);
        proof = _proof(2, 2, 3);
    }

    function test_threshold_signaturesDeliver() public {
        _deliver(_sign(cp));
        vm.assertTrue(mailbox.delivered(ORIGIN, 2), "delivered");
    }

    function test_allValidatorsSigning_deliver() public {
        _deliver(_signWith(cp, validatorKeys));
        vm.assertTrue(mailbox.delivered(ORIGIN, 2), "more than the threshold is fine");
    }

    function test_fuzz_anyAscendingSubset(uint8 mask) public {
        uint256[] memory keys = _subset(mask);
        if (keys.length < THRESHOLD) {
            _expect(abi.encodeWithSelector(IMailbox.BelowThreshold.selector, keys.length, THRESHOLD));
        }
        _deliver(_signWith(cp, keys));
        vm.assertEq(mailbox.delivered(ORIGIN, 2) ? 1 : 0, keys.length >= THRESHOLD ? 1 : 0, "delivered iff enough");
    }

    function test_refusesBelowThreshold() public {
        _expect(abi.encodeWithSelector(IMailbox.BelowThreshold.selector, 2, THRESHOLD));
        _deliver(_signWith(cp, _firstKeys(2)));
    }

    function test_refusesNoSignatures() public {
        _expect(abi.encodeWithSelector(IMailbox.BelowThreshold.selector, 0, THRESHOLD));
        _deliver("");
    }

    function test_refusesDuplicatedSigner() public {
        uint256[] memory keys = new uint256[](3);
        (keys[0], keys[1], keys[2]) = (validatorKeys[0], validatorKeys[1], validatorKeys[1]);
        _expect(abi.encodeWithSelector(IMailbox.SignersNotAscending.selector, 2));
        _deliver(_signWith(cp, keys));
    }

    function test_refusesOutOfOrder() public {
        uint256[] memory keys = new uint256[](3);
        (keys[0], keys[1], keys[2]) = (validatorKeys[0], validatorKeys[2], validatorKeys[1]);
        _expect(abi.encodeWithSelector(IMailbox.SignersNotAscending.selector, 2));
        _deliver(_signWith(cp, keys));
    }

    function test_refusesNonValidator() public {
        uint256 stranger = uint256(keccak256("not a validator"));
        uint256[] memory keys = _withExtra(_firstKeys(2), stranger);
        _expectNotValidator(vm.addr(stranger), keys);
        _deliver(_signWith(cp, keys));
    }

    function test_refusesForgedSignature() public {
        _oneOfOne();
        bytes memory sig = _signWith(cp, _firstKeys(1));
        sig[5] = bytes1(uint8(sig[5]) ^ 0x01); // a bit of r
        _expectRecovered(sig);
        _deliver(sig);
        // Random bytes in place of a signature.
        bytes memory junk = new bytes(65);
        for (uint256 i; i < 64; ++i) {
            junk[i] = bytes1(uint8(uint256(keccak256(abi.encode(i)))));
        }
        junk[64] = bytes1(uint8(27));
        _expectRecovered(junk);
        _deliver(junk);
        vm.assertFalse(mailbox.delivered(ORIGIN, 2), "not delivered");
    }

    function test_refusesMalleableHighS() public {
        bytes memory sigs = _sign(cp);
        // Second signature: s -> n - s, v flipped. ecrecover accepts it; OZ's tryRecover must not.
        bytes32 s;
        assembly {
            s := mload(add(sigs, add(0x20, 97)))
        }
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        uint8 v = uint8(sigs[129]) == 27 ? 28 : 27;
        for (uint256 i; i < 32; ++i) {
            sigs[97 + i] = highS[i];
        }
        sigs[129] = bytes1(v);
        _expect(abi.encodeWithSelector(IMailbox.InvalidSignature.selector, 1));
        _deliver(sigs);
    }

    function test_refusesBadV() public {
        bytes memory sigs = _sign(cp);
        sigs[64] = bytes1(uint8(sigs[64]) - 27); // 0/1 style v
        _expect(abi.encodeWithSelector(IMailbox.InvalidSignature.selector, 0));
        _deliver(sigs);
    }

    function test_refusesTruncatedSignatures() public {
        bytes memory sigs = _sign(cp);
        bytes memory cut = new bytes(sigs.length - 1);
        for (uint256 i; i < cut.length; ++i) {
            cut[i] = sigs[i];
        }
        _expect(abi.encodeWithSelector(IMailbox.InvalidSignature.selector, 2));
        _deliver(cut);
    }

    function test_refusesValidatorsOfAnotherOrigin() public {
        // OTHER_ORIGIN has its own committee; it signs ORIGIN's checkpoint.
        uint256[] memory otherKeys = new uint256[](1);
        otherKeys[0] = uint256(keccak256("other committee"));
        address[] memory otherSet = new address[](1);
        otherSet[0] = vm.addr(otherKeys[0]);
        mailbox.setOrigin(OTHER_ORIGIN, _b32(address(0xD0D0)), otherSet, 1);
        uint256[] memory keys = _withExtra(_firstKeys(2), otherKeys[0]);
        _expectNotValidator(otherSet[0], keys);
        _deliver(_signWith(cp, keys));
    }

    function test_refusesSignatureOverAnotherIndex() public {
        _refusesSignatureOver(_signedDigest(ORIGIN, _b32(address(outbox)), cp.root, cp.index + 1));
    }

    function test_refusesSignatureOverAnotherRoot() public {
        _refusesSignatureOver(_signedDigest(ORIGIN, _b32(address(outbox)), roots[2], cp.index));
    }

    function test_refusesSignatureOverAnotherOrigin() public {
        _refusesSignatureOver(_signedDigest(OTHER_ORIGIN, _b32(address(outbox)), cp.root, cp.index));
    }

    function test_refusesSignatureOverAnotherMailbox() public {
        _refusesSignatureOver(_signedDigest(ORIGIN, _b32(address(0xBAD)), cp.root, cp.index));
    }

    function test_refusesRawDigestWithoutEip191Prefix() public {
        bytes32 domain = keccak256(abi.encodePacked(ORIGIN, _b32(address(outbox)), "STBRIDGE"));
        _refusesSignatureOver(keccak256(abi.encodePacked(domain, cp.root, cp.index)));
    }

    // ------------------------------------------------------------------------ helpers

    function _deliver(bytes memory sigs) internal {
        mailbox.process(cp, sigs, sent[2], proof);
    }

    function _expect(bytes memory revertData) internal {
        vm.expectRevert(revertData);
    }

    /// @notice The set becomes the first validator alone, so a bad signature has exactly
    /// one way to fail, which the tests can compute.
    function _oneOfOne() internal {
        address[] memory set = new address[](1);
        set[0] = validatorAddrs[0];
        mailbox.setOrigin(ORIGIN, _b32(address(outbox)), set, 1);
    }

    /// @notice The only validator signs `wrong` instead of the checkpoint's digest.
    function _refusesSignatureOver(bytes32 wrong) internal {
        _oneOfOne();
        bytes memory sig = _signDigest(wrong, _firstKeys(1));
        _expectRecovered(sig);
        _deliver(sig);
        vm.assertFalse(mailbox.delivered(ORIGIN, 2), "not delivered");
    }

    /// @notice Expects what a lone signature that is not the validator's over the checkpoint
    /// fails with: InvalidSignature(0) when s is high or it recovers to nobody, else
    /// NotValidator(whoever it recovers to).
    function _expectRecovered(bytes memory sig) internal {
        bytes32 signed = _signedDigest(ORIGIN, _b32(address(outbox)), cp.root, cp.index);
        (bytes32 r, bytes32 s) = (bytes32(0), bytes32(0));
        assembly {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
        }
        address recovered = ecrecover(signed, uint8(sig[64]), r, s);
        vm.assertTrue(recovered != validatorAddrs[0], "the bad signature must not be the validator's");
        if (uint256(s) > SECP256K1_N / 2 || recovered == address(0)) {
            vm.expectRevert(abi.encodeWithSelector(IMailbox.InvalidSignature.selector, 0));
        } else {
            vm.expectRevert(abi.encodeWithSelector(IMailbox.NotValidator.selector, recovered));
        }
    }

    /// @notice Expects NotValidator(stranger) when the sorted `keys` put the stranger after
    /// every validator it follows, SignersNotAscending when it breaks the order.
    function _expectNotValidator(address stranger, uint256[] memory keys) internal {
        address previous;
        for (uint256 i; i < keys.length; ++i) {
            address signer = vm.addr(keys[i]);
            if (signer <= previous) {
                vm.expectRevert(abi.encodeWithSelector(IMailbox.SignersNotAscending.selector, i));
                return;
            }
            if (signer == stranger) {
                vm.expectRevert(abi.encodeWithSelector(IMailbox.NotValidator.selector, stranger));
                return;
            }
            previous = signer;
        }
    }

    /// @notice `keys` plus `extra`, sorted by address.
    function _withExtra(uint256[] memory keys, uint256 extra) internal pure returns (uint256[] memory out) {
        out = new uint256[](keys.length + 1);
        for (uint256 i; i < keys.length; ++i) {
            out[i] = keys[i];
        }
        out[keys.length] = extra;
        for (uint256 i = 1; i < out.length; ++i) {
            for (uint256 j = i; j > 0 && vm.addr(out[j]) < vm.addr(out[j - 1]); --j) {
                (out[j], out[j - 1]) = (out[j - 1], out[j]);
            }
        }
    }

    /// @notice The validators whose bit is set in `mask`, ascending.
    function _subset(uint8 mask) internal view returns (uint256[] memory keys) {
        uint256 k;
        for (uint256 i; i < VALIDATOR_COUNT; ++i) {
            if (mask & (1 << i) != 0) ++k;
        }
        keys = new uint256[](k);
        k = 0;
        for (uint256 i; i < VALIDATOR_COUNT; ++i) {
            if (mask & (1 << i) != 0) keys[k++] = validatorKeys[i];
        }
    }
}
