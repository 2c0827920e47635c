"""Autoscaling signals: per-service replica recommendations, computed the way Kubernetes' HPA does.

- ``policy``: what a service group asks for (min/max, metric targets, behaviour), as checked data;
  ``policy_sources`` reads it from the TOML file's ``[autoscale."<group>"]`` tables and from
  ``observe.autoscale.*`` labels.
- ``decision``: what the algorithm takes and gives (replicas, ``Decision``); ``hpa``: the pure
  algorithm (``decide``) and the small stateful ``Autoscaler`` that keeps the recommendation and
  scale-event history it needs.
- ``signals``: the pure step from raw per-replica readings (CPU seconds, working set, error
  lines) to the per-replica metric values the algorithm takes; ``readings`` builds those
  readings from the core's snapshots.
- ``engine``: the evaluation loop over the core's snapshots (read through ``exporters.coreview``).
- ``report``: the ``/autoscale`` JSON and the text ``observe autoscale`` prints.
- ``actuator``: scaling compose groups on plain Docker through the core (off by default).
- ``hooks``: the webhook and the command hook.

Nothing here imports Docker; ``start_autoscaling`` is what ``exporters.start_exporting`` (the
one call of ``observe run`` and ``observe exporter``) starts. Importing this package is cheap:
the modules load when it is called.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from exporters.autoscale.decision import Decision
    from exporters.autoscale.engine import AutoscaleEngine
    from exporters.coreview import CoreView
    from exporters.server import ExporterServer, Request, Response, Route

__all__ = ["start_autoscaling"]

JSON = "application/json"


def _json(status: int, document: Any) -> Response:
    return status, JSON, (json.dumps(document, indent=2) + "\n").encode()


def service_paths(service: str) -> set[str]:
    """The ``/autoscale/<service>`` paths of one service: as written and percent-encoded."""
    return {f"/autoscale/{service}", f"/autoscale/{quote(service, safe='/')}"}


def start_autoscaling(core: CoreView, server: ExporterServer | None = None,
                      apply: bool | None = None) -> AutoscaleEngine:
    """Start the evaluation loop on the core's snapshots; with a server, serve its metrics and JSON too.

    On ``server`` it registers the ``observe_autoscale_*`` gauges (built at each scrape from the
    latest decisions), ``/autoscale`` (every service's decision and reason) and
    ``/autoscale/<service>`` (one service's decision alone). The loop runs whether or not a
    policy exists yet: policies come with containers' labels at any time. The core's sampler
    must be started (``start_exporter`` does it).

    Args:
        core: the core, read through ``exporters.coreview.CoreView``.
        server: the running exporter, or None.
        apply: overrides the ``autoscale_apply`` option.

    Returns:
        The running loop; ``.stop()`` ends it (before the server and the core stop).
    """
    from exporters.autoscale.engine import AutoscaleEngine, AutoscaleOptions
    from exporters.autoscale.report import decision_document

    routed: set[str] = set()

    def one_service(service: str) -> Route:
        def handle(request: Request) -> Response:
            found = engine.decision(service)
            if found is None:
                return _json(404, {"error": f"no autoscale policy for {service}"})
            return _json(200, decision_document(found))

        return handle

    def on_decision(decision: Decision) -> None:
        if server is None:
            return
        for path in service_paths(decision.service) - routed:
            routed.add(path)
            server.add_route(path, one_service(decision.service))

    engine = AutoscaleEngine(core, AutoscaleOptions.from_config(core.config, apply), on_decision=on_decision)
    if server is not None:
        from exporters.prometheus import decision_section

        server.exposition.add(lambda: [decision_section(engine.decisions())])
        server.add_route("/autoscale", lambda request: _json(200, engine.document()))
    engine.start()
    return engine
