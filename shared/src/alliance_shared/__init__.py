"""Event contract and common runtime shared by every service."""
