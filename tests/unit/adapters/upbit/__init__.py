"""Unit tests of the Upbit adapter: parsing, errors, auth, rate limits."""
