"""Local development stack (Kafka, MongoDB-wire server, SMTP sink)."""
