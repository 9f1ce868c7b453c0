"""Holder votes over every chain from one record date (docs/distributions.md, "Votes")."""
