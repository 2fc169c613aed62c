"""Benchmarks (not collected by pytest): run them with `make bench` (python -m tests.bench)."""
