"""Distributions: record-date entitlements, per-chain Merkle roots, and the actions that
declare, fund, pay and close them (docs/distributions.md).

``entitlements`` and ``merkle`` are pure (no I/O); ``snapshot`` reads the chains.
"""
