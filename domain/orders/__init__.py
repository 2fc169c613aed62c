"""Orders: the order aggregate, its terms and its state machine."""
