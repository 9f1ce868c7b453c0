"""The bridge user's tools: send tokens across chains, follow a transfer, the balances,
and the checks asked before anything is signed (precheck.py)."""
