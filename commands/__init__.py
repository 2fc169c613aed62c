"""The write side: command messages and the application that runs them against the aggregates."""
