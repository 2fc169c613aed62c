"""Audit bundles: export the verified log with its chain; verify a bundle with only python3."""
