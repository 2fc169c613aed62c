"""End-to-end tests: the `ledger` command as a user runs it."""
