"""The relayer pipeline: indexer, validator, prover and submitter, confirmer, watchers."""
