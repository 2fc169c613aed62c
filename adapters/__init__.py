"""Adapters: the concrete implementations of ports, one external system per package."""
