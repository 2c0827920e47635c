"""observe: the collector core. It alone talks to the Docker engine.

Kept import-light: importing ``observe`` loads neither Textual nor prometheus_client.
"""

from __future__ import annotations

from observe.errors import ObserveError

__all__ = ["ObserveError", "__version__"]
__version__ = "0.1.0"
