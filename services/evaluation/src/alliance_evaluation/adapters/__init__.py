"""Adapters of the evaluation service: repositories, HTTP routes, Kafka consumers."""
