"""The HTTP API (FastAPI): command and query routes over the ledger."""
