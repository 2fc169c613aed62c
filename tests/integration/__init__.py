"""Integration tests against real PostgreSQL and NATS servers."""
