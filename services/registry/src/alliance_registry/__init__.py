"""The registry service of the Cooperation Alliance Platform."""
