// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice Replay protection of docs/protocol.md: one bit per (origin, nonce), 256 nonces of
/// an origin to a storage word keyed by (origin << 24 | nonce >> 8). A message costs about
/// 20,000 gas per 256 (the first bit of a word) plus a few hundred, not 22,100 for a slot of
/// its own.
library DeliveryBitmap {
    /// @notice Whether (origin, nonce) is marked.
    function isSet(mapping(uint256 => uint256) storage words, uint32 origin, uint32 nonce)
        internal
        view
        returns (bool)
    {
        return words[_key(origin, nonce >> 8)] & _bit(nonce) != 0;
    }

    /// @notice Marks (origin, nonce).
    function set(mapping(uint256 => uint256) storage words, uint32 origin, uint32 nonce) internal {
        words[_key(origin, nonce >> 8)] |= _bit(nonce);
    }

    /// @notice Unmarks (origin, nonce), reading its word afresh.
    function clear(mapping(uint256 => uint256) storage words, uint32 origin, uint32 nonce) internal {
        words[_key(origin, nonce >> 8)] &= ~_bit(nonce);
    }

    /// @notice Marks the `n` > 0 nonces from `first`, one SSTORE per word; returns the words as
    /// they were before (see wasSet), which tell the nonces that were marked already.
    function claim(mapping(uint256 => uint256) storage words, uint32 origin, uint32 first, uint256 n)
        internal
        returns (uint256[] memory before)
    {
        uint256 last = uint256(first) + n - 1;
        uint256 firstWord = first >> 8;
        before = new uint256[]((last >> 8) - firstWord + 1);
        for (uint256 w; w < before.length; ++w) {
            uint256 lo = w == 0 ? first & 255 : 0;
            uint256 hi = w == before.length - 1 ? last & 255 : 255;
            uint256 mask;
            unchecked {
                // forge-lint: disable-next-line(incorrect-shift) a run of ones, shifted into place
                mask = ((1 << (hi - lo + 1)) - 1) << lo; // bits lo..hi; all 256 when lo = 0, hi = 255
            }
            uint256 key = _key(origin, firstWord + w);
            uint256 word = words[key];
            before[w] = word;
            words[key] = word | mask;
        }
    }

    /// @notice Whether `nonce` (first <= nonce < first + n) was marked before `claim` returned
    /// `before`. A plain memory read: the word index is within `before` by construction.
    function wasSet(uint256[] memory before, uint32 first, uint256 nonce) internal pure returns (bool result) {
        assembly ("memory-safe") {
            let word := mload(add(before, shl(5, add(sub(shr(8, nonce), shr(8, first)), 1))))
            result := and(shr(and(nonce, 255), word), 1)
        }
    }

    /// @notice The word holding the marks of nonces 256 * wordIndex .. 256 * wordIndex + 255
    /// (bit i: nonce 256 * wordIndex + i).
    function wordAt(mapping(uint256 => uint256) storage words, uint32 origin, uint32 wordIndex)
        internal
        view
        returns (uint256)
    {
        // nonces are uint32, so words stop at 2^24; a higher index would alias the next
        // origin's key, and no message lives there
        if (wordIndex >= 1 << 24) return 0;
        return words[_key(origin, wordIndex)];
    }

    function _key(uint32 origin, uint256 wordIndex) private pure returns (uint256) {
        return (uint256(origin) << 24) | wordIndex;
    }

    function _bit(uint32 nonce) private pure returns (uint256) {
        // forge-lint: disable-next-line(incorrect-shift) the bit of the nonce in its word
        return 1 << (nonce & 255);
    }
}
