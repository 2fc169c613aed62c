"""The cash ledger of an account: capital per strategy, reservations, settled fills."""
