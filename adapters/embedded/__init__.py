"""Embedded PostgreSQL and NATS servers run from Python packages for development and tests."""
