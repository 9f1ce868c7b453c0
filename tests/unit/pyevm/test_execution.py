"""eth_call and eth_estimateGas on the chain: results, revert data and reasons, gas."""

from __future__ import annotations

import pytest
from eth_abi.abi import decode, encode
from eth_typing import Address
from eth_utils import keccak, to_checksum_address

from chains.pyevm import execution
from chains.pyevm.chain import DevChain
from chains.pyevm.errors import ExecutionReverted, ServerError
from chains.pyevm.params import CallRequest
from tests.fixtures.pyevm.support import (
    CHAIN_ID,
    ETHER,
    GWEI,
    account,
    calldata,
    deploy_code,
    sign_tx,
)

OWNER = Address(bytes.fromhex(account(0).address[2:]))
NOBODY = Address(b"\x77" * 20)


@pytest.fixture(scope="module")
def chain_and_probe() -> tuple[DevChain, Address]:
    chain = DevChain(CHAIN_ID, 30_000_000, {OWNER: 1000 * ETHER})
    chain.submit(sign_tx(account(0), nonce=0, data=deploy_code(supply=500), gas=2_000_000))
    probe = chain.head.receipts[0].contract_address
    assert probe is not None
    store = calldata("store(uint256,bytes32)", ["uint256", "bytes32"], [11, b"\0" * 32])
    chain.submit(
        sign_tx(account(0), nonce=1, to=to_checksum_address(probe), data=store, gas=100_000)
    )
    return chain, Address(probe)


def request(to: Address | None, data: bytes, sender: Address = OWNER, **fields: int) -> CallRequest:
    values = {"gas": None, "gas_price": None, "max_fee": None, "max_tip": None, "value": 0}
    values.update(fields)
    return CallRequest(sender=sender, to=to, data=data, access_list=None, **values)  # type: ignore[arg-type]


def test_calls_read_state_at_the_block_asked(chain_and_probe: tuple[DevChain, Address]) -> None:
    chain, probe = chain_and_probe
    stored = calldata("stored()", [], [])
    assert decode(["uint256"], execution.call(chain, request(probe, stored), 2)) == (11,)
    assert decode(["uint256"], execution.call(chain, request(probe, stored), 1)) == (0,)
    chain_id = execution.call(
        chain, request(probe, calldata("chainId()", [], []), sender=NOBODY), 2
    )
    assert decode(["uint256"], chain_id) == (CHAIN_ID,)


def test_reverts_carry_their_data(chain_and_probe: tuple[DevChain, Address]) -> None:
    chain, probe = chain_and_probe
    with pytest.raises(ExecutionReverted) as custom:
        execution.call(chain, request(probe, calldata("failCustom(uint256)", ["uint256"], [3])), 2)
    expected = keccak(text="ProbeFailed(uint256,address)")[:4] + encode(
        ["uint256", "address"], [3, OWNER]
    )
    assert custom.value.code == 3 and custom.value.data == "0x" + expected.hex()
    with pytest.raises(ExecutionReverted, match="execution reverted: nope") as text:
        execution.estimate_gas(
            chain, request(probe, calldata("failString(string)", ["string"], ["nope"])), 2
        )
    assert text.value.data is not None and text.value.data.startswith("0x08c379a0")


def test_revert_reasons() -> None:
    error = bytes.fromhex("08c379a0") + encode(["string"], ["why"])
    assert execution.revert_reason(error) == "execution reverted: why"
    panic = bytes.fromhex("4e487b71") + encode(["uint256"], [0x11])
    assert execution.revert_reason(panic) == (
        "execution reverted: panic: arithmetic underflow or overflow (0x11)"
    )
    assert (
        execution.revert_reason(b"\x12\x34\x56\x78")
        == "execution reverted: custom error 0x12345678"
    )
    assert execution.revert_reason(b"") == "execution reverted"
    assert execution.revert_reason(bytes.fromhex("08c379a0") + b"\x01") == "execution reverted"


def test_estimate_is_enough_and_tight(chain_and_probe: tuple[DevChain, Address]) -> None:
    chain, probe = chain_and_probe
    move = calldata("transfer(address,uint256)", ["address", "uint256"], [NOBODY, 5])
    estimate = execution.estimate_gas(chain, request(probe, move), 2)
    execution.call(chain, request(probe, move, gas=estimate), 2)  # enough
    with pytest.raises(ServerError, match="out of gas"):
        execution.call(chain, request(probe, move, gas=estimate - 5_000), 2)
    plain = execution.estimate_gas(chain, request(NOBODY, b"", value=1), 2)
    assert plain == 21_000
    deploy = execution.estimate_gas(chain, request(None, deploy_code()), 2)
    assert 300_000 < deploy < 500_000


def test_priced_calls_need_funds(chain_and_probe: tuple[DevChain, Address]) -> None:
    chain, probe = chain_and_probe
    stored = calldata("stored()", [], [])
    execution.call(chain, request(probe, stored, sender=NOBODY), 2)  # free: no funds needed
    with pytest.raises(ServerError, match="insufficient funds for gas \\* price \\+ value"):
        execution.call(chain, request(probe, stored, sender=NOBODY, gas=50_000, gas_price=GWEI), 2)
    with pytest.raises(ServerError, match="insufficient funds"):
        execution.call(chain, request(probe, stored, sender=NOBODY, value=1), 2)
    with pytest.raises(ServerError, match="gas required exceeds allowance"):
        execution.estimate_gas(chain, request(probe, stored, gas=21_500), 2)
