"""What users do, as functions the CLI and the tests share: send, onboard, inspect."""
