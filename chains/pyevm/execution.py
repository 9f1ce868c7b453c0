"""eth_call and eth_estimateGas: run a transaction object on a state and throw it away.

A call runs as a transaction (intrinsic gas, warm sender and target, refunds) in
the context of the block after the one named: the next block for ``latest``, as
anvil does. When the call names no gas price it pays nothing and the base fee is
zero, as in geth. A revert answers code 3 with the revert data as ``data`` and,
for ``Error(string)`` and ``Panic(uint256)``, the decoded reason in the message,
so web3.py raises ContractLogicError, ContractPanicError or ContractCustomError.

Gas estimation follows geth: run once with the cap; if the gas that run burned
is enough, that is the answer (plain transfers: exactly 21000); else
binary-search between it and the cap, starting with an optimistic guess, until
the bounds are within 1.5%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth.abc import SignedTransactionAPI, VirtualMachineAPI
from eth.exceptions import OutOfGas, Revert, VMError
from eth.vm.spoof import SpoofTransaction
from eth_abi.abi import decode as abi_decode
from eth_typing import Address
from eth_utils.exceptions import ValidationError

from chains.pyevm.admission import calldata_floor_gas
from chains.pyevm.chain import DevChain
from chains.pyevm.errors import ExecutionReverted, ServerError
from chains.pyevm.params import CallRequest

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
CALL_STIPEND = 2_300
ESTIMATE_ERROR_RATIO = 0.015
PANIC_REASONS = {
    0x00: "generic panic",
    0x01: "assert(false)",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "enum overflow",
    0x22: "invalid encoded storage byte array accessed",
    0x31: "out-of-bounds array access; popping on an empty array",
    0x32: "out-of-bounds access of an array or bytesN",
    0x41: "out of memory",
    0x51: "uninitialized function",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """One run of a call: its output, the gas it burned before refunds, its error."""

    output: bytes
    gas_used: int
    error: VMError | None


def call(chain: DevChain, request: CallRequest, number: int) -> bytes:
    """eth_call: the return data, or ExecutionReverted / ServerError."""
    vm = chain.vm_after(number, free=not request.names_a_price)
    gas = _gas_cap(chain, vm, request)
    outcome = _run(chain, vm, request, gas)
    _raise_for(outcome, out_of_gas="out of gas")
    return outcome.output


def estimate_gas(chain: DevChain, request: CallRequest, number: int) -> int:
    """eth_estimateGas: the least gas (within 1.5%) with which the call succeeds."""
    vm = chain.vm_after(number, free=not request.names_a_price)
    cap = _gas_cap(chain, vm, request)
    first = _run(chain, vm, request, cap)
    _raise_for(first, out_of_gas=f"gas required exceeds allowance ({cap})")
    intrinsic = int(_build(chain, vm, request, cap).intrinsic_gas)
    low = max(first.gas_used, intrinsic, calldata_floor_gas(request.data)) - 1
    if low + 1 < cap and _succeeds(chain, vm, request, low + 1):
        return low + 1  # the gas it burned is enough: no 63/64 reserve or refund at stake
    high = cap
    guess = (first.gas_used + CALL_STIPEND) * 64 // 63
    if low < guess < high:
        if _succeeds(chain, vm, request, guess):
            high = guess
        else:
            low = guess
    while high - low > 1 and (high - low) / high > ESTIMATE_ERROR_RATIO:
        middle = min((low + high) // 2, low * 2)
        if _succeeds(chain, vm, request, middle):
            high = middle
        else:
            low = middle
    return high


def revert_reason(output: bytes) -> str:
    """The message of a revert: geth's ``execution reverted[: reason]``."""
    if output[:4] == ERROR_SELECTOR:
        try:
            (reason,) = abi_decode(["string"], output[4:])
        except Exception:  # malformed Error(string) payload: no reason to show
            return "execution reverted"
        return f"execution reverted: {reason}"
    if output[:4] == PANIC_SELECTOR and len(output) == 36:
        code = int.from_bytes(output[4:], "big")
        reason = PANIC_REASONS.get(code, "unknown panic")
        return f"execution reverted: panic: {reason} (0x{code:02x})"
    if len(output) >= 4:
        return f"execution reverted: custom error 0x{output[:4].hex()}"
    return "execution reverted"


def _raise_for(outcome: Outcome, *, out_of_gas: str) -> None:
    error = outcome.error
    if error is None:
        return
    if isinstance(error, Revert):
        raise ExecutionReverted(revert_reason(outcome.output), data="0x" + outcome.output.hex())
    if isinstance(error, OutOfGas):
        raise ServerError(out_of_gas)
    raise ServerError(f"execution failed: {' '.join(str(error).split()) or type(error).__name__}")


def _gas_cap(chain: DevChain, vm: VirtualMachineAPI, request: CallRequest) -> int:
    """The gas to run with: the request's, else the block limit, within the sender's funds."""
    if request.gas is not None:
        return request.gas
    cap = chain.gas_limit
    price = request.max_fee if request.max_fee is not None else request.gas_price
    if price:
        balance = int(vm.state.get_balance(request.sender))
        if balance < request.value:
            raise ServerError(_funds_message(request, balance, request.value))
        cap = min(cap, (balance - request.value) // price)
    return cap


def _funds_message(request: CallRequest, have: int, want: int) -> str:
    return (
        f"insufficient funds for gas * price + value: address 0x{request.sender.hex()} "
        f"have {have} want {want}"
    )


def _build(
    chain: DevChain, vm: VirtualMachineAPI, request: CallRequest, gas: int
) -> SignedTransactionAPI:
    """The call as an unsigned transaction from ``request.sender``."""
    builder: Any = vm.get_transaction_builder()
    nonce = int(vm.state.get_nonce(request.sender))
    to = request.to or Address(b"")
    access = request.access_list or ()
    if request.max_fee is not None or request.max_tip is not None:
        base_fee = int(vm.get_header().base_fee_per_gas or 0)
        tip = request.max_tip or 0
        fee = request.max_fee if request.max_fee is not None else tip + base_fee
        if tip > fee:
            raise ServerError(
                f"max priority fee per gas higher than max fee per gas: tip {tip}, fee cap {fee}"
            )
        unsigned = builder.new_unsigned_dynamic_fee_transaction(
            chain.chain_id, nonce, tip, fee, gas, to, request.value, request.data, access
        )
    elif request.access_list is not None:
        price = request.gas_price or 0
        unsigned = builder.new_unsigned_access_list_transaction(
            chain.chain_id, nonce, price, gas, to, request.value, request.data, access
        )
    else:
        unsigned = vm.create_unsigned_transaction(
            nonce=nonce,
            gas_price=request.gas_price or 0,
            gas=gas,
            to=to,
            value=request.value,
            data=request.data,
        )
    return SpoofTransaction(unsigned, from_=request.sender)  # type: ignore[return-value]


def _run(chain: DevChain, vm: VirtualMachineAPI, request: CallRequest, gas: int) -> Outcome:
    """Execute on ``vm``'s state and roll the state back."""
    tx = _build(chain, vm, request, gas)
    state = vm.state
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(tx)
    except ValidationError as exc:
        message = " ".join(str(exc).split())
        if "balance" in message or "afford" in message:
            balance = int(state.get_balance(request.sender))
            price = request.max_fee if request.max_fee is not None else request.gas_price or 0
            want = gas * price + request.value
            raise ServerError(_funds_message(request, balance, want)) from None
        raise ServerError(f"invalid call: {message}") from None
    finally:
        state.revert(snapshot)
    error = computation.error if computation.is_error else None
    return Outcome(bytes(computation.output), gas - int(computation.get_gas_remaining()), error)


def _succeeds(chain: DevChain, vm: VirtualMachineAPI, request: CallRequest, gas: int) -> bool:
    try:
        return _run(chain, vm, request, gas).error is None
    except ServerError:
        return False
