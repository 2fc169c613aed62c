"""Integration tests of the PostgreSQL adapters."""
