"""A deployment: its record (record.py: which contract is where), how it is made
(deployer.py: deploys and wires the contracts) and how a tool reaches it (session.py:
the config, the record, an RPC and a wallet per chain; chainread.py: reads over a
session)."""
