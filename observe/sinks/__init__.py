"""Where normalised records go. Sinks are named by URL: ``stdout``, ``file:///path`` ...

``open_sink(url, default_format)`` is the one place that turns a URL into a sink; unknown
schemes and bad options fail at start with one line (ConfigError).
"""

from __future__ import annotations

from observe.sinks.base import Sink, SinkError, open_sink, redact

__all__ = ["Sink", "SinkError", "open_sink", "redact"]
