"""The core's data: frozen values that cross threads and layers safely.

Models keep the raw inspect document beside the typed fields, so that a face needing a
field we did not type (the TUI's inspect tree) never has to ask Docker again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from observe.timefmt import format_ns

ZERO_TIME = "0001-01-01T00:00:00Z"
LEVELS = ("trace", "debug", "info", "notice", "warn", "error", "critical", "fatal")
"""Canonical ``log.level`` values, least severe first."""

LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}

RUNNING_STATES = frozenset({"running", "paused", "restarting"})
"""States in which a container has processes (and logs and stats to follow)."""


@dataclass(frozen=True, slots=True)
class ServiceGroup:
    """What a container is a replica of. ``kind`` says which labels decided it."""

    name: str
    kind: str  # "label", "compose", "swarm", "kubernetes", "container"
    replica: int | None = None


@dataclass(frozen=True, slots=True)
class CgroupLocation:
    """Where a container's cgroup lives, relative to a hierarchy's mount point.

    ``path`` is the same string under every v1 hierarchy (``docker/<id>``) and under the
    unified v2 root (``system.slice/docker-<id>.scope``).
    """

    path: str
    driver: str  # "cgroupfs" or "systemd"
    version: int  # 1 or 2


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """Everything the core knows about one container, from its inspect document."""

    id: str
    name: str
    image: str
    image_name: str
    image_tag: str
    image_id: str
    state: str
    health: str  # "healthy", "unhealthy", "starting" or "" without a healthcheck
    exit_code: int
    restart_count: int
    created: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    labels: Mapping[str, str]
    log_driver: str
    log_path: str
    tty: bool
    pid: int
    cgroup: CgroupLocation
    service: ServiceGroup
    memory_limit: int
    nano_cpus: int
    cpu_quota: int
    cpu_period: int
    cpu_shares: int
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    oom_killed: bool = False  # State.OOMKilled: the kernel's OOM killer ended the last run

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES

    def uptime(self, now: datetime) -> float | None:
        """Seconds since the last start while running; None when not running."""
        if self.state not in ("running", "paused") or self.started_at is None:
            return None
        return max(0.0, (now - self.started_at).total_seconds())


@dataclass(frozen=True, slots=True)
class ContainerEvent:
    """One normalised engine event about a container, with what we knew of it then."""

    time_ns: int
    action: str  # create, start, die, stop, kill, destroy, rename, pause, unpause, health_status, oom, restart ...
    container_id: str
    name: str
    image: str
    service: str
    attributes: Mapping[str, str]
    health: str = ""
    exit_code: int | None = None
    old_name: str = ""

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.time_ns / 1e9, UTC)

    def to_dict(self) -> dict[str, Any]:
        stamp = format_ns(self.time_ns)
        out: dict[str, Any] = {
            "@timestamp": stamp,
            "event.action": self.action,
            "container.id": self.container_id,
            "container.name": self.name,
            "container.image.name": self.image,
            "service.name": self.service,
        }
        if self.health:
            out["container.health"] = self.health
        if self.exit_code is not None:
            out["container.exit_code"] = self.exit_code
        if self.old_name:
            out["container.old_name"] = self.old_name
        if "signal" in self.attributes:
            out["signal"] = self.attributes["signal"]
        return out


class LogPosition(NamedTuple):
    """Where a reader stood after a line; what a checkpoint stores (a NamedTuple: one is made per line).

    The json-file reader fills ``file_id`` (``<device>:<inode>`` of the file) and ``offset``
    (the byte after the line). Both readers fill ``time_ns`` (the engine's time of the line)
    and ``seq`` (how many lines before this one carried the same ``time_ns``), which is what
    the API reader resumes from: ``since=time_ns``, skipping ``seq + 1`` lines of that instant.
    """

    time_ns: int
    seq: int = 0
    file_id: str = ""
    offset: int = 0


class LogLine(NamedTuple):
    """One line as a reader produced it: a complete line or one of Docker's partial chunks (a NamedTuple:
    made per line, and a tuple is three times cheaper to make than a frozen dataclass).

    ``text`` has no trailing newline; invalid UTF-8 in the source was replaced with U+FFFD
    and ``invalid_utf8`` says so. ``partial`` means Docker split a longer line here (its
    json-file ``log`` did not end in a newline) and the rest follows in the next line.
    """

    time_ns: int
    stream: str  # "stdout" or "stderr"
    text: str
    partial: bool = False
    invalid_utf8: bool = False
    position: LogPosition | None = None


class Record(NamedTuple):
    """One normalised record, ready to render (immutable; a NamedTuple because it is made per line).

    ``position`` is where the reader's checkpoint may advance once this record, and every
    record before it, has been delivered: the last raw line such that no raw line up to it is
    still held in the pipeline. Usually the last raw line merged into this record.
    """

    doc: dict[str, Any]
    time_ns: int
    level: str
    stream: str
    position: LogPosition | None
    lines: int
    nbytes: int


STREAM_STATES = ("following", "retrying", "waiting", "ended", "error")
"""What a followed log stream can be doing: reading; reopening after a failure (with a backoff);
waiting for its stopped container to run again; over (the container was removed, or it stopped
and nobody waits for it); failed for a reason retrying would not cure by itself."""


@dataclass(frozen=True, slots=True)
class StreamState:
    """Where a followed log stream stands, for a face to show (``kind`` is one of ``STREAM_STATES``)."""

    kind: str
    detail: str = ""



ALL_LABELS = "*"
"""In a label allowlist: every Docker label (cAdvisor's ``--store_container_labels``)."""
DEFAULT_LABEL_ALLOWLIST = (
    "com.docker.compose.project",
    "com.docker.compose.service",
    "com.docker.stack.namespace",
    "com.docker.swarm.service.name",
    "io.kubernetes.pod.name",
    "io.kubernetes.pod.namespace",
    "io.kubernetes.container.name",
    "org.label-schema.group",
)
"""Labels the common cAdvisor dashboards group or filter on; none of them carries a secret."""


def allowed_labels(labels: Mapping[str, str], allowlist: Sequence[str]) -> dict[str, str]:
    """The labels an allowlist lets through: the keys it names, or all of them when it holds ``*``."""
    if ALL_LABELS in allowlist:
        return dict(labels)
    return {key: labels[key] for key in allowlist if key in labels}
