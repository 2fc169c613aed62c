"""Unit tests of domain/fills."""
