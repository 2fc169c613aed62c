"""The audit trail: the tamper-evident hash chain over the event log (issue 8)."""
