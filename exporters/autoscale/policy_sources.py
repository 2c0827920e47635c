"""Autoscaling policies read from the config file and from container labels (the model is ``policy``).

In the config file, one table per group (the inventory's group name: ``project/service`` for
compose, the swarm service name, ``pod/container`` for kubernetes, or the configured label)::

    [autoscale."shop/web"]
    min = 2                       # replicas, default 1
    max = 10                      # replicas, required
    cpu = 70                      # % of each replica's CPU limit
    cpu_cores = 0.5               # cores per replica; used instead of cpu when a replica has no CPU limit
    memory = 80                   # % of each replica's memory limit (working set)
    error_rate = 5                # error-and-above log lines per second per replica ("300/m" also works)
    tolerance = 0.1               # no change while |ratio - 1| <= tolerance
    scale_up_window = "0s"        # scale-up stabilisation: the lowest recent recommendation wins
    scale_down_window = "5m"      # scale-down stabilisation: the highest recent recommendation wins
    scale_up_policies = ["percent:100/15s", "pods:4/15s"]   # rate limits; [] or "none" for no limit
    scale_up_select = "max"       # max, min or disabled: which policy applies, or no scaling that way
    scale_down_policies = ["percent:100/15s"]
    scale_down_select = "max"
    enabled = true                # false switches off a policy the containers' labels carry

    [autoscale."shop/web".metrics]
    container_network_receive_bytes_per_second = 1e6   # any per-container metric, target average per replica

The same keys work as labels on the containers, with ``-`` or ``_``: ``observe.autoscale.cpu=70``,
``observe.autoscale.min=2``, ``observe.autoscale.scale-down-window=60s``,
``observe.autoscale.scale-up-policies=pods:4/60s,percent:100/15s`` and
``observe.autoscale.metric.<name>=<target>`` for a named metric. Every replica of a group must
carry the same ``observe.autoscale.*`` labels. A group that has a table in the config file takes
that table whole and its labels are not read: the file is the operator's word, the labels the
image author's default.

A bad policy is a ``PolicyError`` with a one-line message naming the group, the source and the
key; callers report it once (``ReportOnce``) and leave that group alone. It never stops anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from exporters.autoscale.policy import (
    BUILTIN_METRICS,
    CPU,
    CPU_CORES,
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    DEFAULT_TOLERANCE,
    ERROR_RATE,
    LABEL_PREFIX,
    MEMORY,
    METRIC_LABEL_PREFIX,
    MetricTarget,
    Policy,
    PolicyError,
    RatePolicy,
    RateType,
    ScalingRules,
    SelectPolicy,
    TargetType,
    policy_error,
)
from observe.config import read_toml
from observe.units import parse_bool, parse_duration

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")


# ---- value parsers: TOML gives int/float/str/bool/list, labels give str ----


def _text(raw: object) -> str:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueError(f"{raw!r} has the wrong type")
    return str(raw).strip()


def _number(raw: object, suffixes: Mapping[str, float] | None = None) -> float:
    text = _text(raw)
    scale = 1.0
    for suffix, factor in (suffixes or {}).items():
        if text.lower().endswith(suffix):
            text, scale = text[: -len(suffix)].strip(), factor
            break
    try:
        value = float(text) * scale
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{raw!r} is not a finite number")
    return value


def _whole(raw: object) -> int:
    text = _text(raw)
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{raw!r} is not a whole number") from None


def _percent(raw: object) -> float:
    return _number(raw, {"%": 1.0})


def _cores(raw: object) -> float:
    return _number(raw, {"m": 0.001})


def _per_second(raw: object) -> float:
    return _number(raw, {"/s": 1.0, "/m": 1 / 60, "/h": 1 / 3600})


def _seconds(raw: object) -> float:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    return parse_duration(_text(raw))


def _flag(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    return parse_bool(_text(raw))


def _select(raw: object) -> SelectPolicy:
    text = _text(raw).lower()
    try:
        return SelectPolicy(text)
    except ValueError:
        raise ValueError(f"{raw!r} is not one of max, min, disabled") from None


def parse_rate_policy(text: str) -> RatePolicy:
    """``pods:4/60s`` or ``percent:100/15s`` (period a duration; ``pods:4/1m`` works too).

    Raises:
        ValueError: not of the form TYPE:VALUE/PERIOD.
    """
    kind, sep, rest = text.strip().partition(":")
    value, slash, period = rest.partition("/")
    if not sep or not slash:
        raise ValueError(f"{text!r} is not TYPE:VALUE/PERIOD (for example pods:4/60s or percent:100/15s)")
    try:
        rate_type = RateType(kind.strip().lower())
    except ValueError:
        raise ValueError(f"{text!r}: the type must be pods or percent") from None
    return RatePolicy(rate_type, _whole(value), parse_duration(period))


def _rate_policies(raw: object) -> tuple[RatePolicy, ...]:
    items: Iterable[object]
    if isinstance(raw, list):
        items = raw
    else:
        text = _text(raw)
        items = [] if text.lower() in ("", "none") else text.split(",")
    return tuple(parse_rate_policy(_text(item)) for item in items if _text(item))


_TARGET_KEYS: dict[str, tuple[TargetType, Callable[[object], float]]] = {
    CPU: (TargetType.UTILIZATION, _percent),
    CPU_CORES: (TargetType.AVERAGE_VALUE, _cores),
    MEMORY: (TargetType.UTILIZATION, _percent),
    ERROR_RATE: (TargetType.AVERAGE_VALUE, _per_second),
}
_OTHER_KEYS = (
    "min", "max", "tolerance", "enabled", "scale_up_window", "scale_down_window",
    "scale_up_policies", "scale_down_policies", "scale_up_select", "scale_down_select", "metrics",
)


def _build(service: str, values: Mapping[str, tuple[str, object]], source: str) -> Policy | None:
    """The policy from normalised keys -> (key as the user wrote it, raw value); None when disabled."""

    def get(key: str, parse: Callable[[object], Any], default: Any) -> Any:
        if key not in values:
            return default
        shown, raw = values[key]
        try:
            return parse(raw)
        except ValueError as err:
            raise policy_error(service, source, f"{shown}: {err}") from None

    for key, (shown, _) in values.items():
        if key not in _TARGET_KEYS and key not in _OTHER_KEYS:
            raise policy_error(service, source, f"unknown key {shown!r}")
    if not get("enabled", _flag, True):
        return None
    if "max" not in values:
        raise policy_error(service, source, "max is required")
    targets = [MetricTarget(name, kind, get(name, parse, None)) for name, (kind, parse) in _TARGET_KEYS.items()
               if name in values]
    shown_metrics, metrics = values.get("metrics", ("metrics", {}))
    if not isinstance(metrics, Mapping):
        raise policy_error(service, source, f"{shown_metrics} must be a table of metric name = target")
    for name, raw in metrics.items():
        name = str(name)
        if not _METRIC_NAME.match(name) or name in BUILTIN_METRICS:
            raise policy_error(service, source, f"{shown_metrics}: {name!r} is not a metric name we can target")
        try:
            targets.append(MetricTarget(name, TargetType.AVERAGE_VALUE, _number(raw)))
        except ValueError as err:
            raise policy_error(service, source, f"{shown_metrics}.{name}: {err}") from None
    up, down = DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN
    return Policy(
        service=service,
        min_replicas=get("min", _whole, 1),
        max_replicas=get("max", _whole, 0),
        targets=tuple(targets),
        tolerance=get("tolerance", _number, DEFAULT_TOLERANCE),
        scale_up=ScalingRules(
            get("scale_up_window", _seconds, up.window),
            get("scale_up_policies", _rate_policies, up.policies),
            get("scale_up_select", _select, up.select),
        ),
        scale_down=ScalingRules(
            get("scale_down_window", _seconds, down.window),
            get("scale_down_policies", _rate_policies, down.policies),
            get("scale_down_select", _select, down.select),
        ),
        source=source,
    )


def policy_from_table(service: str, table: Mapping[str, Any], source: str = "config file") -> Policy | None:
    """A policy from one ``[autoscale."<group>"]`` table; None when it says ``enabled = false``.

    Raises:
        PolicyError: a key is unknown or a value is invalid.
    """
    values: dict[str, tuple[str, object]] = {}
    for key, raw in table.items():
        values[str(key).replace("-", "_")] = (str(key), raw)
    return _build(service, values, source)


def policies_from_config(data: Mapping[str, Any], path: str = "") -> tuple[dict[str, Policy | None], list[PolicyError]]:
    """The ``autoscale`` table of a parsed config file (``observe.config.read_toml``'s result).

    Returns:
        (policies by group, errors): a group mapped to None has ``enabled = false`` (its labels
        are ignored too); a group whose table is invalid is left out and its error returned.
    """
    source = f"file {path}" if path else "config file"
    section = data.get("autoscale", {})
    if not isinstance(section, Mapping):
        return {}, [PolicyError(f"{source}: autoscale must be a table of [autoscale.\"<group>\"] tables")]
    policies: dict[str, Policy | None] = {}
    errors: list[PolicyError] = []
    for service, table in section.items():
        if not isinstance(table, Mapping):
            errors.append(policy_error(str(service), source, "must be a table, as [autoscale.\"<group>\"]"))
            continue
        try:
            policies[str(service)] = policy_from_table(str(service), table, source)
        except PolicyError as err:
            errors.append(err)
    return policies, errors


def read_policies(path: str) -> tuple[dict[str, Policy | None], list[PolicyError]]:
    """Read the ``autoscale`` tables of the TOML config file at ``path`` (empty path: none).

    Raises:
        ConfigError: the file itself is missing or malformed (as for the rest of the config).
    """
    if not path:
        return {}, []
    return policies_from_config(read_toml(path), path)


def autoscale_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The ``observe.autoscale.*`` labels of one container."""
    return {k: v for k, v in labels.items() if k.startswith(LABEL_PREFIX)}


def policy_from_labels(service: str, labels: Mapping[str, str]) -> Policy | None:
    """A policy from one container's ``observe.autoscale.*`` labels; None when it has none or is disabled.

    Raises:
        PolicyError: a label is unknown or a value is invalid.
    """
    values: dict[str, tuple[str, object]] = {}
    metrics: dict[str, str] = {}
    for key, raw in autoscale_labels(labels).items():
        if key.startswith(METRIC_LABEL_PREFIX):
            metrics[key[len(METRIC_LABEL_PREFIX):]] = raw
            continue
        name = key[len(LABEL_PREFIX):].replace("-", "_")
        if name == "metrics":
            raise policy_error(service, "labels", f"unknown label {key!r} (use {METRIC_LABEL_PREFIX}<name>=<target>)")
        values[name] = (key, raw)
    if not values and not metrics:
        return None
    if metrics:
        values["metrics"] = (METRIC_LABEL_PREFIX + "*", metrics)
    return _build(service, values, "labels")


def group_policy_from_labels(service: str, label_sets: Sequence[Mapping[str, str]]) -> Policy | None:
    """The policy the replicas of a group carry in their labels, which must agree.

    Raises:
        PolicyError: the replicas disagree, or the shared labels are invalid.
    """
    found = [autoscale_labels(labels) for labels in label_sets]
    if not any(found):
        return None
    first = found[0]
    for other in found[1:]:
        if other != first:
            key = sorted(k for k in set(first) | set(other) if first.get(k) != other.get(k))[0]
            a, b = first.get(key, "(unset)"), other.get(key, "(unset)")
            raise policy_error(service, "labels", f"the replicas disagree on {key} ({a} vs {b})")
    return policy_from_labels(service, first)


def resolve_policies(
    groups: Mapping[str, Sequence[Mapping[str, str]]],
    file_policies: Mapping[str, Policy | None],
) -> tuple[dict[str, Policy], list[PolicyError]]:
    """Every group's effective policy: the config file's table when it has one, else its replicas' labels.

    Args:
        groups: group name -> the labels of each of its replicas.
        file_policies: ``policies_from_config``'s result (None = switched off in the file).

    Returns:
        (policies by group, errors of groups whose labels are invalid or disagree). Groups in
        the file but without replicas are included (a decision then says there are none).
    """
    policies = {name: p for name, p in file_policies.items() if p is not None}
    errors: list[PolicyError] = []
    for service, label_sets in groups.items():
        if service in file_policies:
            continue
        try:
            policy = group_policy_from_labels(service, label_sets)
        except PolicyError as err:
            errors.append(err)
            continue
        if policy is not None:
            policies[service] = policy
    return policies, errors


class ReportOnce:
    """Lets each distinct policy error through once while it persists; a fixed then re-broken policy reports again."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def fresh(self, errors: Iterable[PolicyError]) -> list[PolicyError]:
        current = {str(e): e for e in errors}
        new = [e for msg, e in current.items() if msg not in self._seen]
        self._seen = set(current)
        return new
