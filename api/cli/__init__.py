"""The `ledger` command line: one module per command group."""
