"""`stbridge devnet fund`: give the config's devnet accounts gas money on chains started
elsewhere (docker compose's anvil), as `devnet up` does for the chains it starts."""

from __future__ import annotations

from chains.devnet import DEVNET_BALANCE_WEI
from chains.processes import rpc_call
from relayer.cli.common import ConfigOption, console, get_config
from relayer.errors import ConfigError


def fund(config_path: ConfigOption = None) -> None:
    """Top up every devnet account to 10,000 ETH on every chain (anvil or the embedded node).

    Accounts that hold that much already are left alone, so running it twice, or on a
    chain restarted from its saved state, changes nothing.
    """
    config = get_config(config_path)
    if not config.accounts.devnet_only:
        raise ConfigError("devnet fund sets balances by fiat: the config is not a devnet's")
    for chain in config.chains:
        topped = 0
        for _role, key in config.accounts.roles():
            held = int(rpc_call(chain.rpc_url, "eth_getBalance", [key.address, "latest"], 10), 16)
            if held < DEVNET_BALANCE_WEI:
                rpc_call(
                    chain.rpc_url, "anvil_setBalance", [key.address, hex(DEVNET_BALANCE_WEI)], 10
                )
                topped += 1
        console.print(f"chain {chain.name}: funded {topped} account(s), the others hold enough")
