"""The trading system's processes: consumers of the log that decide and execute (issue 7)."""
