"""The evaluation service of the Cooperation Alliance Platform."""
