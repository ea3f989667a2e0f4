"""HTTP runtime: app factory, problem+json, health, metrics, idempotency, ETags."""
