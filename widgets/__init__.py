"""Reusable Textual widgets that present the headless core in ``console/``."""
