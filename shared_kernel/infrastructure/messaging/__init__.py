"""Kafka messaging: CloudEvents codec, outbox relay, consumers, topics."""
