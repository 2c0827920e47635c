"""Readers of what the engine produces: container logs (json-file and API)."""
