"""The funding service of the Cooperation Alliance Platform."""
