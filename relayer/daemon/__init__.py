"""The relayer daemon: the Relayer (relayer.py) and the stages a message passes through.

indexer -> origin (tree) -> validator (checkpoint) -> lane (policy, proofs, batch) ->
the chain's TxSender -> confirmer; refusal, waiting, backoff and compliance_order serve
the lane. standalone_validator.py runs the validator alone, without lanes.
"""
