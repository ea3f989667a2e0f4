"""The event contract: CloudEvents envelope, payload models, topics and the catalog."""
