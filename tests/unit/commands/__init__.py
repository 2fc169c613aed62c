"""Unit tests of the write side: the Trading application on the in-memory event store."""
