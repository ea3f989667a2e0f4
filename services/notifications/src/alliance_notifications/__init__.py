"""The notifications service of the Cooperation Alliance Platform."""
