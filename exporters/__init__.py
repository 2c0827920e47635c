"""Faces that read the core and export what it knows: the Prometheus exporter, autoscaling signals.

Never imports docker: everything comes from the core's snapshots. Importing this package is
cheap; ``start_exporter`` loads the HTTP server and prometheus_client when called.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exporters.autoscale.engine import AutoscaleEngine
    from exporters.coreview import CoreView
    from exporters.server import ExporterServer, Route

__all__ = ["Exporting", "start_exporter", "start_exporting"]


@dataclass(frozen=True, slots=True)
class Exporting:
    """The running exporter and its autoscaling loop; ``stop`` ends both (the core keeps running)."""

    server: ExporterServer
    autoscaling: AutoscaleEngine

    def stop(self) -> None:
        """Stop the loop first (it may still deliver hook notices), then the HTTP server."""
        try:
            self.autoscaling.stop()
        finally:
            self.server.stop()


def start_exporting(core: CoreView, listen: str | None = None) -> Exporting:
    """``/metrics`` with autoscaling: what ``observe run`` and ``observe exporter`` both start.

    Args:
        core: the core, read through ``exporters.coreview.CoreView``.
        listen: overrides ``core.config.listen``.

    Raises:
        ConfigError: bad listen address, TLS files or credentials.
        EngineUnavailable: the engine cannot be listed.
    """
    from exporters.autoscale import start_autoscaling

    server = start_exporter(core, listen=listen)
    try:
        autoscaling = start_autoscaling(core, server)
    except BaseException:
        server.stop()
        raise
    return Exporting(server, autoscaling)


def start_exporter(core: CoreView, routes: Mapping[str, Route] | None = None,
                   listen: str | None = None) -> ExporterServer:
    """Start the core's stats sampler (and inventory) and serve ``/metrics`` for it; returns the running server.

    Args:
        core: the core (``observe.core.Core``), read through ``exporters.coreview.CoreView``.
        routes: extra paths and their handlers (``/autoscale``).
        listen: overrides ``core.config.listen`` (tests pass ``127.0.0.1:0``).

    Returns:
        The server: ``.url``, ``.port``, ``.add_route()``, and ``.stop()`` (which leaves the core running).

    Raises:
        ConfigError: bad listen address, TLS files or credentials.
        EngineUnavailable: the engine cannot be listed.
    """
    from exporters.prometheus import Exposition, core_source
    from exporters.server import ExporterServer, tls_context
    from observe import __version__
    from observe.stats import StatsSnapshot

    config = core.config
    tls = tls_context(config.web_tls_cert, config.web_tls_key)
    exposition = Exposition(core_source(core, __version__), config.label_allowlist)

    def health() -> tuple[bool, str]:
        snap = core.sampler.snapshot()
        if not snap.health.running:
            return False, "stats sampler is not running"
        age = core.sampler.clock() - snap.time
        if age > 3 * snap.health.interval + 5:
            return False, f"stats sampler has not swept for {age:.0f}s"
        return True, "ok"

    server = ExporterServer(exposition, listen or config.listen, tls, config.web_basic_auth, routes, health,
                            snapshot=core.sampler.snapshot)
    def rebuild(snapshot: StatsSnapshot) -> None:
        exposition.build(snapshot)

    unsubscribe = core.sampler.subscribe(rebuild)
    try:
        core.start_sampler()
    except BaseException:
        unsubscribe()
        server.stop()
        raise
    server.on_stop(unsubscribe)
    server.start()
    return server
