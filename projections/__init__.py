"""Read models: projectors from the event log to query tables (the query side of CQRS)."""
