"""Pytest fixtures for the bundled simulator (placeholder: being built)."""
