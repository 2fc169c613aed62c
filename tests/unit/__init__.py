"""Unit tests: no I/O; the in-memory (POPO) event store, fakes and builders."""
