"""The dashboards' vocabulary: panels, rows and queries as small frozen values, and the selectors every query shares.

Container series carry ``id``, ``name`` and ``image`` but not the service group; that lives on
``observe_container_info``. Queries join on ``(job, instance, id)`` with ``group_left(service)``
(see ``by_service``), so the service variable narrows every container panel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

SEL = 'job=~"$job", instance=~"$instance"'
CSEL = SEL + ', name=~"$container"'
INFO = 'observe_container_info{' + SEL + ', service=~"$service"}'
RATE = "$__rate_interval"
ERROR_LEVELS = "error|critical|fatal"
LOSS_KINDS = "truncated|invalid_utf8|dropped|lost|json_failed"


def by_service(expr: str) -> str:
    """``expr`` (a vector of container series) narrowed to containers of the chosen services, with a ``service``
    label added: a many-to-one join on the container's info series."""
    return f"({expr}) * on(job, instance, id) group_left(service) {INFO}"


@dataclass(frozen=True)
class Target:
    """One PromQL query of a panel. ``instant`` queries only the last value (stat and table panels)."""

    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True)
class Panel:
    """A panel: its type, what it shows, its unit and its queries. ``width``/``height`` are grid units."""

    kind: str
    title: str
    description: str
    unit: str
    targets: tuple[Target, ...]
    width: int = 12
    height: int = 8
    low: float | None = None
    high: float | None = None
    no_value: str | None = None
    stack: bool = False
    options: Json = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    title: str


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    file: str
    variables: tuple[str, ...]
    items: tuple[Panel | Row, ...]


def ts(title: str, description: str, unit: str, *targets: Target, width: int = 12, stack: bool = False,
       low: float | None = 0, high: float | None = None) -> Panel:
    return Panel("timeseries", title, description, unit, targets, width=width, stack=stack, low=low, high=high)


def stat(title: str, description: str, unit: str, expr: str, width: int = 4, no_value: str | None = "0") -> Panel:
    return Panel("stat", title, description, unit, (Target(expr, instant=True),), width=width, height=4,
                 no_value=no_value)
