"""Rendering metric tables as the Prometheus text format and as OpenMetrics. Pure.

A ``Section`` is one table over its items, each item with its label values already known; the
renderer walks the rows and writes lines. Item label sets are escaped once per item, not once per
series, which is most of what makes this several times cheaper than building client objects for
every series. Families without a series are left out.

Text format 0.0.4: ``# HELP`` escapes backslash and newline; types ``counter``, ``gauge``,
``untyped``. OpenMetrics 1.0: counters are declared without their ``_total`` (a counter whose name
lacks it is declared ``unknown``), ``# UNIT`` where the name ends in the unit, ``# EOF`` at the end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from exporters.metricspec import COUNTER, GAUGE, MetricSpec

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Section:
    """One table over its items: (item label values, item) pairs, the item label names."""

    table: Sequence[MetricSpec[Any]]
    items: Sequence[tuple[tuple[str, ...], Any]]
    item_labels: tuple[str, ...]


def escape_label(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def _escape_help(text: str, openmetrics: bool) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    return text.replace('"', '\\"') if openmetrics else text


def format_value(value: float) -> str:
    """Integers without a fraction (``42``), other floats as Python's shortest repr, ``+Inf``/``NaN``."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def label_prefix(names: Sequence[str], values: Sequence[str]) -> str:
    """``a="1",b="2"`` for an item's labels (escaped once per item); empty values are left out.

    Prometheus treats an empty label as an absent one, so leaving them out changes no query and
    spares the bytes of every allowlisted label a container does not carry.
    """
    return ",".join(f'{n}="{escape_label(v)}"' for n, v in zip(names, values, strict=True) if v)


def _declared(spec: MetricSpec[Any], openmetrics: bool) -> tuple[str, str]:
    """(family name, type) as declared in ``# TYPE``."""
    if spec.type == COUNTER:
        if not openmetrics:
            return spec.name, "counter"
        if spec.name.endswith("_total"):
            return spec.name[: -len("_total")], "counter"
        return spec.name, "unknown"
    if spec.type == GAUGE:
        return spec.name, "gauge"
    return spec.name, "unknown" if openmetrics else "untyped"


class LabelCache:
    """Rendered label sets kept from one build to the next: a container's labels do not change between
    sweeps, so each set is escaped and joined once, then looked up. Bounded: a build keeps only the
    sets it used."""

    def __init__(self) -> None:
        self._old: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}
        self._new: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}

    def get(self, names: tuple[str, ...], values: tuple[str, ...]) -> str:
        key = (names, values)
        found = self._new.get(key)
        if found is None:
            found = self._old.get(key)
            if found is None:
                found = label_prefix(names, values)
            self._new[key] = found
        return found

    def turn(self) -> None:
        """End of a build: what was not used in it is forgotten at the next turn."""
        self._old, self._new = self._new, {}


def render(sections: Iterable[Section], openmetrics: bool = False, cache: LabelCache | None = None) -> bytes:
    """The exposition of every section, in order; OpenMetrics ends with ``# EOF``."""
    labels_of = (cache or LabelCache()).get
    out: list[str] = []
    for section in sections:
        item_labels = section.item_labels
        prefixes = [labels_of(item_labels, base) for base, _ in section.items]
        for spec in section.table:
            lines: list[str] = []
            name = spec.name
            extra_names = spec.labels
            getter = spec.getter
            for (_, item), prefix in zip(section.items, prefixes, strict=True):
                for extra, value in getter(item):
                    if extra:
                        extras = labels_of(extra_names, extra)
                        labels = f"{prefix},{extras}" if prefix else extras
                    else:
                        labels = prefix
                    v = format_value(float(value))
                    lines.append(f"{name}{{{labels}}} {v}\n" if labels else f"{name} {v}\n")
            if not lines:
                continue
            family, kind = _declared(spec, openmetrics)
            out.append(f"# HELP {family} {_escape_help(spec.help, openmetrics)}\n# TYPE {family} {kind}\n")
            if openmetrics and spec.unit and family.endswith("_" + spec.unit):
                out.append(f"# UNIT {family} {spec.unit}\n")
            out.extend(lines)
    if openmetrics:
        out.append("# EOF\n")
    return "".join(out).encode("utf-8")
