"""Triage: which containers are in trouble, how badly, and how their state reads. Pure, no Textual.

A container is a *problem* when the kernel OOM-killed it, it exited non-zero (or is dead), it is
restarting, or its healthcheck says unhealthy; the rank orders them worst first, so that a
"problems first" sort and a group's rank agree. The functions take plain values (not rows) so
that ``tui.rows`` can use them without a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

OOM, EXITED, RESTARTING, UNHEALTHY = "oom", "exited", "restarting", "unhealthy"
PROBLEMS = (OOM, EXITED, RESTARTING, UNHEALTHY)
"""The kinds of problem, worst first."""
NO_PROBLEM_RANK = len(PROBLEMS)
PROBLEM_WORDS = frozenset({"problem", "problems"})
"""Filter words that keep only the containers with a problem (``!problems`` keeps the others)."""
STOPPED_STATES = frozenset({"exited", "dead"})


def problem(state: str, health: str, exit_code: int, oom_killed: bool) -> str:
    """The container's worst problem (one of ``PROBLEMS``), or ``""`` when it is fine.

    ``oom_killed`` counts whatever the state: a container restarted after an OOM kill keeps the
    engine's flag until its next start, and it is the first thing an operator wants to see.
    A container exited with code 0 finished its work: not a problem.
    """
    if oom_killed:
        return OOM
    if state == "dead" or (state == "exited" and exit_code != 0):
        return EXITED
    if state == "restarting":
        return RESTARTING
    if health == "unhealthy":
        return UNHEALTHY
    return ""


def problem_rank(kind: str) -> int:
    """0 for the worst problem ... ``NO_PROBLEM_RANK`` for none."""
    return PROBLEMS.index(kind) if kind in PROBLEMS else NO_PROBLEM_RANK


def state_label(state: str, health: str, exit_code: int, oom_killed: bool, restarts: int) -> str:
    """The STATE cell's words: ``exited (137) OOM``, ``restarting (3)``, ``running (unhealthy)``.

    An exited container shows its exit code; a restarting one how many times the engine restarted it;
    a health status follows in parentheses; ``OOM`` ends the label when the kernel killed it.
    """
    label = state
    if state in STOPPED_STATES:
        label += f" ({exit_code})"
    elif state == "restarting":
        label += f" ({restarts})"
    if health and state not in STOPPED_STATES:
        label += f" ({health})"
    if oom_killed:
        label += " OOM"
    return label


def throttled_fraction(periods: Sequence[int | None], throttled: Sequence[int | None]) -> float | None:
    """The share of CFS periods in which the container was throttled, between the first and last reading.

    Args:
        periods: ``nr_periods`` of two or more readings, oldest first.
        throttled: ``nr_throttled`` of the same readings.

    Returns:
        0.0 ... 1.0; None when unknown (fewer than two readings, no CFS accounting, a counter reset, or no
        period elapsed: a container without a CPU quota has none).
    """
    if len(periods) < 2 or len(throttled) < 2:
        return None
    p0, p1, t0, t1 = periods[0], periods[-1], throttled[0], throttled[-1]
    if p0 is None or p1 is None or t0 is None or t1 is None or p1 <= p0 or t1 < t0:
        return None
    return min(1.0, (t1 - t0) / (p1 - p0))


def fmt_cpu(cpu: float | None, limit_cores: float | None, throttled: float | None) -> str:
    """The CPU cell: ``12.3%`` of one core without a limit; ``90% of 0.5`` (percent of the limit, in cores)
    with one; `` thr 40%`` appended when the kernel throttled it in the last interval. ``-`` when unknown."""
    if cpu is None:
        return "-"
    text = f"{cpu / limit_cores:.0f}% of {limit_cores:g}" if limit_cores else f"{cpu:.1f}%"
    if throttled:
        text += f" thr {100 * throttled:.0f}%"
    return text
