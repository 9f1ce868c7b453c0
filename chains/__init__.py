"""Running EVM chains locally: the two-chain devnet on anvil or the embedded py-evm node."""
