"""Adapters: stores, read models, HTTP routes and Kafka handlers."""
