"""Integration tests of the evaluation service on the real servers."""
