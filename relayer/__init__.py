"""stbridge: a cross-chain settlement relayer and bridge for regulated security tokens."""

__version__ = "0.1.0"
