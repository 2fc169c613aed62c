"""Unit tests of the adapters that need no server."""
