"""What autoscaling shows: the ``/autoscale`` JSON documents and the text ``observe autoscale`` prints.

Pure functions of decisions and plans. The CLI hands in its own table renderer and JSON writer
(``observe.cli.common``) so that every command prints tables and JSON the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from exporters.autoscale.actuator import ScalePlan
from exporters.autoscale.decision import Decision
from observe.timefmt import format_seconds

Table = Callable[[list[str], list[list[str]]], str]
Dumps = Callable[..., str]
DECISION_COLUMNS = ["SERVICE", "REPLICAS", "MIN/MAX", "METRICS", "LIMITED", "REASON"]


_GJSON_SPECIAL = set(".|#@*?!\\")


def gjson_escape(key: str) -> str:
    """``key`` as one component of a GJSON path (KEDA's ``valueLocation``): special characters escaped."""
    return "".join("\\" + ch if ch in _GJSON_SPECIAL else ch for ch in key)


def decision_document(decision: Decision) -> dict[str, Any]:
    """One service's entry: ``Decision.to_dict()`` with a UTC time and the KEDA ``valueLocation`` to use."""
    doc = decision.to_dict()
    doc["time"] = format_seconds(decision.time)
    doc["value_location"] = f"services.{gjson_escape(decision.service)}.desired_replicas"
    return doc


def autoscale_document(decisions: Sequence[Decision], errors: Sequence[str], now: float) -> dict[str, Any]:
    """The ``/autoscale`` body: services by name (for KEDA's ``valueLocation``), the same as a list, and errors."""
    ordered = sorted(decisions, key=lambda d: d.service)
    entries = [decision_document(d) for d in ordered]
    return {
        "time": format_seconds(now),
        "services": {e["service"]: e for e in entries},
        "items": entries,
        "errors": list(errors),
    }


def decision_row(d: Decision) -> list[str]:
    """SERVICE, REPLICAS (current -> desired), MIN/MAX, METRICS (value/target), LIMITED, REASON."""
    metrics = ", ".join(f"{m.name} {m.target.show(m.value) if m.value is not None else '?'}/"
                        f"{m.target.show(m.target.target)}" for m in d.metrics) or "-"
    replicas = f"{d.current}" if d.desired == d.current else f"{d.current} -> {d.desired}"
    limited = "-" if str(d.limited) == "none" else str(d.limited)
    return [d.service, replicas, f"{d.min_replicas}/{d.max_replicas}", metrics, limited, d.reason]


def render_decisions(decisions: Sequence[Decision], errors: Sequence[str], fmt: str, watch: bool, now: float,
                     table: Table, dumps: Dumps) -> str:
    """The decisions as ``observe autoscale`` prints them (no trailing newline).

    Args:
        fmt: ``table`` for people, ``json`` for scripts.
        watch: a repeated print: JSON is one line per decision, a table gets a time header.
        now: unix time for the document and the header.
        table: renders headers and rows as text.
        dumps: writes a JSON value (``pretty=True`` indents).
    """
    if fmt == "json":
        if watch:
            return "\n".join(dumps(decision_document(d)) for d in decisions)
        return str(dumps(autoscale_document(decisions, errors, now), pretty=True))
    out: list[str] = []
    if watch:
        out.append(f"-- {time.strftime('%H:%M:%S', time.localtime(now))}")
    if decisions:
        out.append(table(DECISION_COLUMNS, [decision_row(d) for d in decisions]))
    else:
        out.append("no service group has an autoscale policy (config file tables or observe.autoscale.* labels)")
    out += [f"ignored: {error}" for error in errors]
    return "\n".join(out)


def render_plan(plan: ScalePlan, applying: bool, fmt: str, dumps: Dumps) -> str:
    """One scale plan as ``observe autoscale`` prints it: applied, refused or a dry run."""
    text = plan.describe()
    if fmt == "json":
        return str(dumps({"action": "apply" if applying else ("refused" if plan.refused else "dry_run"),
                          "service": plan.service, "current": plan.current, "desired": plan.desired, "plan": text}))
    return ("applying: " if applying else ("" if plan.refused else "dry run: ")) + text
