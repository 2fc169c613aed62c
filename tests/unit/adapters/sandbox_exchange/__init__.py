"""Unit tests of the sandbox exchange's parts that need no server."""
