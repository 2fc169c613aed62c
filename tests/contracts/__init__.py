"""Behaviour every implementation of a port must have (style S5.5), as plain base classes."""
