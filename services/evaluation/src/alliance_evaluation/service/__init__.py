"""Use cases of the evaluation service: load aggregates, let the domain decide, save state + events."""
