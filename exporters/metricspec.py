"""The shape of a metric defined as data: ``MetricSpec`` (name, help, type, unit, labels, getter).

Every table of exported metrics (``exporters/cadvisor.py``, ``exporters/specs.py``) is a tuple of
these rows; the exposition (``exporters/exposition.py``) renders any table over its items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
Series = tuple[tuple[str, ...], float]
COUNTER, GAUGE, UNTYPED = "counter", "gauge", "unknown"


@dataclass(frozen=True, slots=True)
class MetricSpec(Generic[T]):
    """One metric. ``name`` is the name as exposed (counters end in ``_total``, but for cAdvisor's own
    exceptions); ``labels`` are the labels beyond the per-item ones (for containers: ``id``, ``name``,
    ``image``, allowlisted labels). ``getter`` gives an item's series as (extra label values, value);
    nothing when the host cannot provide the value, so the series is absent rather than a made-up zero.
    ``volatile``: the row reads what changes at every sweep even when the item's key does not (the sample's
    time), so the renderer calls its getter at every build (see ``exporters.exposition.Section.key``)."""

    name: str
    help: str
    type: str
    unit: str
    labels: tuple[str, ...]
    getter: Callable[[T], Iterable[Series]]
    volatile: bool = False


def one(value: float | int | None) -> list[Series]:
    """The single unlabelled series of a value, or none when it is unknown."""
    return [] if value is None else [((), float(value))]
