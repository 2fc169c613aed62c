"""The trading system as a running process: the loop, its wake-ups, its market feed, its status."""
