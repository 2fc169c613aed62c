"""Unit tests of domain/indicators."""
