"""The event backbone end to end: outbox relay, Kafka, idempotent consumers."""
