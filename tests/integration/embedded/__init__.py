"""Integration tests of the embedded PostgreSQL and NATS servers."""
