"""Unit tests of the order state machine and the order aggregate."""
