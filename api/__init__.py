"""Entry points and wiring: settings, the composition root, the HTTP API and the CLI."""
