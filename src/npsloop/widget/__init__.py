"""The web widget: one dependency-free script, its publishable site keys and public endpoints."""
