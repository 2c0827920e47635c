"""Autoscaling signals: per-service replica recommendations, computed the way Kubernetes' HPA does.

- ``policy``: what a service group asks for (min/max, metric targets, behaviour), parsed from
  the TOML file's ``[autoscale."<group>"]`` tables and from ``observe.autoscale.*`` labels.
- ``hpa``: the pure algorithm (``decide``) and the small stateful ``Autoscaler`` that keeps the
  recommendation and scale-event history it needs.
- ``signals``: the pure step from raw per-replica readings (CPU seconds, working set, error
  lines) to the per-replica metric values the algorithm takes.

Nothing here imports Docker or the exporter; the wiring to the stats sampler is a thin adapter.
"""

from __future__ import annotations
