"""The containers table as data: rows, columns, sorting, filtering and grouping. Pure, no Textual.

A ``Row`` is what one line of the table shows, computed from the inventory's ``ContainerInfo``
and the sampler's ``ContainerStats``; rates come from the last two samples, so the table needs
no state of its own. Everything here takes ``now`` as a parameter and is tested without an app.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from observe.model import RUNNING_STATES, ContainerInfo
from observe.selectors import LabelSelector
from observe.stats.limits import inspect_limits
from observe.stats.sample import IGNORED_INTERFACE_PREFIXES, Sample, rate
from observe.stats.snapshot import ContainerStats, StatsSnapshot
from observe.units import format_bytes, format_duration
from tui.triage import PROBLEM_WORDS, fmt_cpu, problem, problem_rank, state_label, throttled_fraction

SPARK = "▁▂▃▄▅▆▇█"
HISTORY_POINTS = 12


@dataclass(frozen=True, slots=True)
class Row:
    """One container as the table shows it. ``None`` means "not known" (not running, not sampled yet)."""

    id: str
    name: str
    service: str
    image: str
    state: str
    health: str
    restarts: int
    uptime: float | None
    cpu: float | None = None  # percent of one core
    cpu_history: tuple[float, ...] = ()
    mem_used: int | None = None
    mem_limit: int | None = None  # 0 or None: unlimited
    rx_rate: float | None = None  # bytes per second
    tx_rate: float | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    exit_code: int = 0
    oom_killed: bool = False
    group: str = ""  # the service it is a replica of; "" for a standalone container
    cpu_limit: float | None = None  # cores (quota / period); None without a quota
    throttled: float | None = None  # share of CFS periods throttled in the last interval

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES

    @property
    def problem(self) -> str:
        """Its worst problem (``tui.triage.PROBLEMS``), or ``""``."""
        return problem(self.state, self.health, self.exit_code, self.oom_killed)

    @property
    def problem_rank(self) -> int:
        return problem_rank(self.problem)

    @property
    def cpu_load(self) -> float | None:
        """What the CPU column sorts by: percent of the limit with one, else percent of one core."""
        if self.cpu is None:
            return None
        return self.cpu / self.cpu_limit if self.cpu_limit else self.cpu


# -- numbers from samples ------------------------------------------------------------------
def net_bytes(sample: Sample) -> tuple[int, int] | None:
    """Received and sent bytes over the container's own interfaces (loopback and bridges left out)."""
    if sample.network is None:
        return None
    rx = tx = 0
    for nic in sample.network:
        if not nic.interface.startswith(IGNORED_INTERFACE_PREFIXES):
            rx += nic.rx_bytes
            tx += nic.tx_bytes
    return rx, tx


def block_bytes(sample: Sample) -> tuple[int, int] | None:
    """Bytes read and written on all block devices."""
    if sample.block_io is None:
        return None
    return sum(d.read_bytes for d in sample.block_io), sum(d.write_bytes for d in sample.block_io)


def series(history: Sequence[Sample], value: Callable[[Sample], float | int | None]) -> list[float]:
    """Per-second rates of ``value`` between consecutive samples (unknown steps count as 0)."""
    out: list[float] = []
    for older, newer in itertools.pairwise(history):
        r = rate(older, newer, value)
        out.append(0.0 if r is None else r)
    return out


def cpu_percent_series(history: Sequence[Sample]) -> list[float]:
    """CPU use in percent of one core for each interval of the history."""
    return [100.0 * v for v in series(history, lambda s: s.cpu_usage_seconds)]


def memory_used(sample: Sample) -> int | None:
    """The working set when known (what ``docker stats`` calls usage), else the raw usage."""
    if sample.memory_working_set_bytes is not None:
        return sample.memory_working_set_bytes
    return sample.memory_usage_bytes


def _last_rate(history: Sequence[Sample], value: Callable[[Sample], float | int | None]) -> float | None:
    if len(history) < 2:
        return None
    return rate(history[-2], history[-1], value)


def make_row(container: ContainerInfo, stats: ContainerStats | None, now: datetime) -> Row:
    """The row of one container at ``now``, with its latest rates when it has been sampled twice."""
    limits = inspect_limits(container)
    base: dict[str, Any] = {
        "id": container.id,
        "name": container.name,
        "service": container.service.name,
        "image": container.image,
        "state": container.state,
        "health": container.health,
        "restarts": container.restart_count,
        "uptime": container.uptime(now),
        "labels": container.labels,
        "mem_limit": limits.memory_bytes or None,
        "cpu_limit": limits.cpu_cores or None,
        "exit_code": container.exit_code,
        "oom_killed": container.oom_killed,
        "group": "" if container.service.kind == "container" else container.service.name,
    }
    if stats is None or not container.running:
        return Row(**base)
    history = stats.history
    latest = stats.latest
    cpu = _last_rate(history, lambda s: s.cpu_usage_seconds)
    recent = history[-2:]
    return Row(
        **{**base, "mem_limit": stats.limits.memory_bytes or None, "cpu_limit": stats.limits.cpu_cores or None},
        throttled=throttled_fraction([s.cpu_cfs_periods for s in recent],
                                     [s.cpu_cfs_throttled_periods for s in recent]),
        cpu=None if cpu is None else 100.0 * cpu,
        cpu_history=tuple(cpu_percent_series(history[-(HISTORY_POINTS + 1):])),
        mem_used=memory_used(latest),
        rx_rate=_last_rate(history, lambda s: None if (n := net_bytes(s)) is None else n[0]),
        tx_rate=_last_rate(history, lambda s: None if (n := net_bytes(s)) is None else n[1]),
    )


def make_rows(containers: Iterable[ContainerInfo], snapshot: StatsSnapshot, now: datetime) -> list[Row]:
    """Rows of ``containers``, in the order given, with the snapshot's stats."""
    return [make_row(c, snapshot.get(c.id), now) for c in containers]


# -- columns and sorting -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Column:
    """A table column: its key (also the sort key's name), title, how to sort by it, and its priority.

    ``priority`` decides which columns stay when the terminal is narrow: lower is kept longer
    (``tui.layout.fit_columns``); NAME, STATE, CPU and MEMORY come before every other column.
    """

    key: str
    title: str
    sort_value: Callable[[Row], Any]
    numeric: bool = False
    priority: int = 9


COLUMNS: tuple[Column, ...] = (
    Column("name", "NAME", lambda r: r.name, priority=0),
    Column("service", "SERVICE", lambda r: r.service, priority=6),
    Column("image", "IMAGE", lambda r: r.image, priority=10),
    Column("state", "STATE", lambda r: (r.state, r.health), priority=1),
    Column("cpu", "CPU", lambda r: r.cpu_load, numeric=True, priority=2),
    Column("history", "CPU HISTORY", lambda r: sum(r.cpu_history) if r.cpu_history else None, numeric=True,
           priority=7),
    Column("memory", "MEMORY", lambda r: r.mem_used, numeric=True, priority=3),
    Column("rx", "NET RX/s", lambda r: r.rx_rate, numeric=True, priority=8),
    Column("tx", "NET TX/s", lambda r: r.tx_rate, numeric=True, priority=9),
    Column("restarts", "RESTARTS", lambda r: r.restarts, numeric=True, priority=4),
    Column("uptime", "UPTIME", lambda r: r.uptime, numeric=True, priority=5),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
_BY_KEY = {c.key: c for c in COLUMNS}


def column(key: str) -> Column:
    """The column with that key. Raises KeyError for an unknown key."""
    return _BY_KEY[key]


def sort_rows(rows: Iterable[Row], key: str, descending: bool = False, problems_first: bool = False) -> list[Row]:
    """Rows sorted by a column; unknown values (None) always last; ties broken by name then id.

    With ``problems_first`` the worst problems come first (OOM-killed, exited non-zero, restarting,
    unhealthy, then the rest), each of those bands in the column's order.
    """
    get = column(key).sort_value
    rows = list(rows)
    known = [r for r in rows if get(r) is not None]
    unknown = [r for r in rows if get(r) is None]
    known.sort(key=lambda r: (r.name, r.id))
    known.sort(key=get, reverse=descending)
    unknown.sort(key=lambda r: (r.name, r.id))
    out = known + unknown
    if problems_first:
        out.sort(key=lambda r: r.problem_rank)
    return out


# -- filtering -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RowFilter:
    """What the user typed in the filter box.

    Words are matched (case-insensitively, all of them) against name, image, service and short
    id, and as a whole against the state and health (``exited``, ``unhealthy``, ``restarting``);
    ``problems`` keeps the containers in trouble (``tui.triage``: OOM-killed, exited non-zero,
    restarting, unhealthy);
    ``!word`` keeps the rows a word does not match. A word with ``=`` (``app=web``,
    ``tier!=db``), or one written ``label:KEY`` / ``label:!KEY``, is a label selector clause.
    ``error`` is set when the selector part does not parse; the filter then matches on the
    words alone.
    """

    words: tuple[str, ...] = ()
    selector: LabelSelector = field(default_factory=LabelSelector)
    error: str = ""
    without: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> RowFilter:
        words: list[str] = []
        without: list[str] = []
        clauses: list[str] = []
        for token in text.split():
            if token.startswith("label:"):
                clauses.append(token[len("label:"):])
            elif "=" in token:
                clauses.append(token)
            elif token.startswith("!") and len(token) > 1:
                without.append(token[1:].lower())
            elif token != "!":
                words.append(token.lower())
        try:
            selector = LabelSelector.parse(",".join(c for c in clauses if c))
        except ValueError as err:
            return cls(tuple(words), LabelSelector(), str(err), tuple(without))
        return cls(tuple(words), selector, "", tuple(without))

    def matches(self, row: Row) -> bool:
        if not self.selector.matches(row.labels):
            return False
        hay = f"{row.name}\n{row.image}\n{row.service}\n{row.short_id}".lower()
        status = {row.state.lower(), row.health.lower()}

        def hit(word: str) -> bool:
            if word in PROBLEM_WORDS:
                return bool(row.problem)
            return word in hay or word in status

        return all(hit(w) for w in self.words) and not any(hit(w) for w in self.without)


def filter_rows(rows: Iterable[Row], text: str, include_stopped: bool = True) -> list[Row]:
    """The rows the filter text keeps (and only running ones unless ``include_stopped``)."""
    flt = RowFilter.parse(text)
    return [r for r in rows if (include_stopped or r.running) and flt.matches(r)]


# -- grouping ------------------------------------------------------------------------------
STANDALONE = "standalone"
"""The title of the group of containers that belong to no service."""


@dataclass(frozen=True, slots=True)
class Group:
    """Containers of one service (or every standalone container), with totals over those that report a value.

    ``key`` is the service's name, ``""`` for the standalone group; ``title`` is what the header shows.
    """

    key: str
    rows: tuple[Row, ...]

    @property
    def title(self) -> str:
        return self.key or STANDALONE

    @property
    def row_key(self) -> str:
        """The table's key of the group's header row."""
        return f"group:{self.key}"

    @property
    def running(self) -> int:
        return sum(1 for r in self.rows if r.running)

    @property
    def cpu(self) -> float | None:
        values = [r.cpu for r in self.rows if r.cpu is not None]
        return sum(values) if values else None

    @property
    def mem_used(self) -> int | None:
        values = [r.mem_used for r in self.rows if r.mem_used is not None]
        return sum(values) if values else None

    @property
    def rx_rate(self) -> float | None:
        values = [r.rx_rate for r in self.rows if r.rx_rate is not None]
        return sum(values) if values else None

    @property
    def tx_rate(self) -> float | None:
        values = [r.tx_rate for r in self.rows if r.tx_rate is not None]
        return sum(values) if values else None

    @property
    def restarts(self) -> int:
        return sum(r.restarts for r in self.rows)


def group_rows(rows: Iterable[Row]) -> list[Group]:
    """Rows grouped by service, every standalone container in one group, rows keeping their order.

    Groups come in the order of their best member in ``rows`` (already sorted): a group ranks where
    its first row does, so the active sort orders the groups too.
    """
    groups: dict[str, list[Row]] = {}
    for r in rows:
        groups.setdefault(r.group, []).append(r)
    return [Group(key, tuple(members)) for key, members in groups.items()]


# -- formatting ----------------------------------------------------------------------------
def sparkline(values: Sequence[float], width: int = HISTORY_POINTS, top: float | None = None) -> str:
    """The last ``width`` values as block characters scaled to ``top`` (default: their maximum)."""
    values = list(values)[-width:]
    if not values:
        return ""
    peak = top if top is not None else max(values)
    if peak <= 0:
        return SPARK[0] * len(values)
    last = len(SPARK) - 1
    return "".join(SPARK[max(0, min(last, round(v / peak * last)))] for v in values)


def fmt_bytes(value: float | None) -> str:
    """``512B``, ``1.5KiB``, ``12MiB``, ``3.2GiB``; ``-`` when unknown."""
    return format_bytes(value)


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else fmt_bytes(value)


def fmt_percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def fmt_memory(used: int | None, limit: int | None) -> str:
    """``12MiB / 512MiB`` with a limit, ``12MiB`` without."""
    if used is None:
        return "-"
    return f"{fmt_bytes(used)} / {fmt_bytes(limit)}" if limit else fmt_bytes(used)


def fmt_duration(seconds: float | None) -> str:
    """Uptime for the table: ``3d4h`` ... ``12s``, ``-`` when not running."""
    return format_duration(seconds, "-")


def fmt_state(row: Row) -> str:
    """``exited (137) OOM``, ``restarting (3)``, ``running (unhealthy)`` (see ``tui.triage.state_label``)."""
    return state_label(row.state, row.health, row.exit_code, row.oom_killed, row.restarts)


def fmt_row_cpu(row: Row) -> str:
    """``12.3%`` of a core, or ``90% of 0.5`` of the limit, with `` thr 40%`` when throttled."""
    return fmt_cpu(row.cpu, row.cpu_limit, row.throttled)
