"""The Upbit client against the sandbox exchange, over real HTTP on loopback."""
