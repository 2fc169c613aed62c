"""NATS JetStream: the relay that publishes the log, and the projectors that consume it."""
