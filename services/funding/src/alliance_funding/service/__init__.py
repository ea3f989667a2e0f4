"""Use cases of the funding service."""
