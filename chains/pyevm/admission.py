"""Admission of raw transactions: decode, then every check geth makes before pooling.

py-evm executes any well-formed signed transaction, whatever chain id it was
signed for; this module is where the node's own chain id is enforced. A
transaction is refused, with geth's wording, when it

- cannot be decoded, or has a type the node does not take (blob and set-code
  transactions: type 3 and 4);
- has no chain id (a legacy transaction signed before EIP-155), or another one;
- has a bad signature, or a malleable one (high s, EIP-2);
- asks for more gas than a block holds, or less than its intrinsic cost (or the
  EIP-7623 calldata floor), or deploys more init code than EIP-3860 allows;
- offers a tip above its fee cap, or a fee cap below the next block's base fee;
- has a nonce below the sender's, or costs more than the sender holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth.abc import SignedTransactionAPI
from eth.vm.forks.prague import PragueVM
from eth_keys.exceptions import BadSignature
from eth_typing import Address
from eth_utils.exceptions import ValidationError

from chains.pyevm.errors import TransactionRejected

SUPPORTED_TYPES = (0, 1, 2)  # legacy (EIP-155), access list (EIP-2930), dynamic fee (EIP-1559)
MAX_INITCODE_SIZE = 2 * 24_576  # EIP-3860
TX_BASE_GAS = 21_000
FLOOR_GAS_PER_TOKEN = 10  # EIP-7623 (Prague)
NONZERO_BYTE_TOKENS = 4
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True, slots=True)
class DecodedTx:
    """A transaction that passed the checks that need no chain state."""

    tx: SignedTransactionAPI
    sender: Address
    hash: bytes


@dataclass(frozen=True, slots=True)
class SenderState:
    """What the state-dependent checks need: the sender's nonce and balance, the base fee."""

    nonce: int
    balance: int
    base_fee: int


def transaction_type(tx: SignedTransactionAPI) -> int:
    """0 for legacy, else the EIP-2718 type byte."""
    type_id = tx.type_id
    return 0 if type_id is None else int(type_id)


def legacy_chain_id(v: int) -> int | None:
    """The EIP-155 chain id carried in a legacy ``v``, or None for a pre-EIP-155 one."""
    if v in (27, 28):
        return None
    return (v - 35) // 2 if v >= 35 else None


def legacy_v(tx: Any) -> int:
    """The ``v`` of a legacy transaction (typed ones carry ``y_parity`` instead)."""
    return int(tx.v)


def calldata_floor_gas(data: bytes) -> int:
    """The EIP-7623 minimum gas of a transaction carrying ``data``."""
    zeros = data.count(0)
    tokens = zeros + (len(data) - zeros) * NONZERO_BYTE_TOKENS
    return TX_BASE_GAS + FLOOR_GAS_PER_TOKEN * tokens


def decode_transaction(raw: bytes, chain_id: int, block_gas_limit: int) -> DecodedTx:
    """Decode ``raw`` and run the checks that do not depend on state.

    Raises TransactionRejected with a one-line, geth-style reason.
    """
    if not raw:
        raise TransactionRejected("transaction is empty")
    first = raw[0]
    if first < 0x80 and first not in SUPPORTED_TYPES:
        raise TransactionRejected(
            f"transaction type not supported: type {first} (this node takes types 0, 1 and 2)"
        )
    try:
        tx = PragueVM.get_transaction_builder().decode(raw)
    except Exception as exc:  # rlp and py-evm raise many kinds on bad bytes
        reason = _one_line(exc)
        raise TransactionRejected(f"invalid transaction: could not decode ({reason})") from None

    tx_chain_id = tx.chain_id if tx.type_id is not None else legacy_chain_id(legacy_v(tx))
    if tx_chain_id is None:
        raise TransactionRejected(
            "only replay-protected (EIP-155) transactions allowed over RPC: "
            f"sign with chain id {chain_id}"
        )
    if tx_chain_id != chain_id:
        raise TransactionRejected(
            f"invalid chain id for signer: have {tx_chain_id} want {chain_id} "
            "(the transaction was signed for another chain)"
        )
    _check_signature_values(tx)
    try:
        tx.validate()  # field ranges, signature validity, intrinsic gas
        sender = Address(bytes(tx.sender))
    except (ValidationError, BadSignature, ValueError) as exc:
        message = _one_line(exc)
        if "Insufficient gas" in message:
            raise TransactionRejected(
                f"intrinsic gas too low: gas {tx.gas}, minimum needed {tx.intrinsic_gas}"
            ) from None
        raise TransactionRejected(f"invalid sender: {message}") from None

    _check_gas(tx, block_gas_limit)
    if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
        raise TransactionRejected(
            "max priority fee per gas higher than max fee per gas: "
            f"tip {tx.max_priority_fee_per_gas}, fee cap {tx.max_fee_per_gas}"
        )
    return DecodedTx(tx, sender, bytes(tx.hash))


def _check_signature_values(tx: SignedTransactionAPI) -> None:
    """EIP-2: 0 < r < n and 0 < s <= n/2, for every type (py-evm checks only legacy)."""
    r, s = int(tx.r), int(tx.s)
    if not (0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2):
        raise TransactionRejected(
            "invalid transaction v, r, s values: r must be in (0, n) and s in (0, n/2] (EIP-2)"
        )
    if tx.type_id is not None and tx.y_parity not in (0, 1):
        raise TransactionRejected("invalid transaction v, r, s values: y parity must be 0 or 1")


def _check_gas(tx: SignedTransactionAPI, block_gas_limit: int) -> None:
    gas = int(tx.gas)
    if gas > block_gas_limit:
        raise TransactionRejected(
            f"exceeds block gas limit: gas {gas}, block limit {block_gas_limit}"
        )
    intrinsic = int(tx.intrinsic_gas)
    if gas < intrinsic:
        raise TransactionRejected(f"intrinsic gas too low: gas {gas}, minimum needed {intrinsic}")
    floor = calldata_floor_gas(bytes(tx.data))
    if gas < floor:
        raise TransactionRejected(
            f"insufficient gas for floor data gas cost: gas {gas}, minimum needed {floor}"
        )
    if not tx.to and len(tx.data) > MAX_INITCODE_SIZE:
        raise TransactionRejected(
            f"max initcode size exceeded: code size {len(tx.data)}, limit {MAX_INITCODE_SIZE}"
        )


def check_against_state(decoded: DecodedTx, state: SenderState) -> None:
    """The checks that need the sender's state and the next block's base fee."""
    tx = decoded.tx
    address = "0x" + decoded.sender.hex()
    if tx.max_fee_per_gas < state.base_fee:
        raise TransactionRejected(
            f"max fee per gas less than block base fee: address {address}, "
            f"maxFeePerGas: {tx.max_fee_per_gas}, baseFee: {state.base_fee}"
        )
    if tx.nonce < state.nonce:
        raise TransactionRejected(
            f"nonce too low: address {address}, tx: {tx.nonce} state: {state.nonce}"
        )
    cost = int(tx.gas) * int(tx.max_fee_per_gas) + int(tx.value)
    if cost > state.balance:
        raise TransactionRejected(
            f"insufficient funds for gas * price + value: address {address} "
            f"have {state.balance} want {cost}"
        )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
