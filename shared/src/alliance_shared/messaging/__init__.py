"""Kafka messaging: client configuration, topic bootstrap, outbox relay, consumer runner."""
