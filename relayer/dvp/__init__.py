"""Delivery versus payment, in one package: the protocol's pure part (protocol.py), the
daemon's watcher (watcher.py) and the traders' actions (actions, files, status, verify)."""
