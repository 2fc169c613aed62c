"""Tests of upbit-ledger."""
