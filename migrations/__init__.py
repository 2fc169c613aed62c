"""Versioned SQL migrations (NNNN_name.up.sql / NNNN_name.down.sql) run by adapters.postgres."""
