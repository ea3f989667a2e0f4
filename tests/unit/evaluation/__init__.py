"""Unit tests of the evaluation domain and its event contracts."""
