"""Upbit: the REST and WebSocket clients, their errors, auth, parsing and rate limits."""
