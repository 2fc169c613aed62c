"""The pure core of the ledger: value types, rules and event-sourced aggregates (no I/O)."""
