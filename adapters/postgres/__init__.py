"""PostgreSQL adapters: the event store settings, schema migrations and read-model views."""
