"""Faces that read the core and export what it knows: the Prometheus exporter, autoscaling signals.

Never imports docker: everything comes from the core's snapshots. Importing this package is
cheap; ``start_exporter`` loads the HTTP server and prometheus_client when called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exporters.server import ExporterServer, Route

__all__ = ["start_exporter"]


def start_exporter(core: Any, routes: Mapping[str, Route] | None = None, listen: str | None = None) -> ExporterServer:
    """Start the core's stats sampler (and inventory) and serve ``/metrics`` for it; returns the running server.

    Args:
        core: an ``observe.core.Core`` (read only through its public attributes).
        routes: extra paths and their handlers (``/autoscale``).
        listen: overrides ``core.config.listen`` (tests pass ``127.0.0.1:0``).

    Returns:
        The server: ``.url``, ``.port``, ``.add_route()``, and ``.stop()`` (which leaves the core running).

    Raises:
        ConfigError: bad listen address, TLS files or credentials.
        EngineUnavailable: the engine cannot be listed.
    """
    from exporters.prometheus import ObserveCollector, core_source, make_registry
    from exporters.server import ExporterServer, tls_context

    config = core.config
    tls = tls_context(config.web_tls_cert, config.web_tls_key)
    registry = make_registry(ObserveCollector(core_source(core), config.label_allowlist))

    def health() -> tuple[bool, str]:
        snap = core.sampler.snapshot()
        if not snap.health.running:
            return False, "stats sampler is not running"
        age = core.sampler.clock() - snap.time
        if age > 3 * snap.health.interval + 5:
            return False, f"stats sampler has not swept for {age:.0f}s"
        return True, "ok"

    server = ExporterServer(registry, listen or config.listen, tls, config.web_basic_auth, routes, health)
    try:
        core.start_sampler()
    except BaseException:
        server.stop()
        raise
    server.start()
    return server
