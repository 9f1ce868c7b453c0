"""Chain access: JSON-RPC, contract wrappers, transaction sending."""
