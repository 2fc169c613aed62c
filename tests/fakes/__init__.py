"""In-memory fakes of the ports in `commands/ports.py` (style S5.4)."""
