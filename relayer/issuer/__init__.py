"""The issuer's tools: investors, the token's agent actions, the cap table, the ledger
at a cut, the holdings review, the audit and the devnet onboarding."""
