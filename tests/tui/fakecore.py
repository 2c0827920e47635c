"""A fake of the TUI's own seam (``tui.coreview.CoreView``) with fixed data, for pixel-stable snapshots.

It fakes our Protocol, not docker-py: containers come from inspect-shaped documents through the
real ``observe.engine.inspect.from_inspect``, stats are real ``Sample`` values, log records are real
``Record`` values. Behaviour tests run against the real engine instead (test_app_engine.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from observe.config import Config
from observe.engine.inspect import from_inspect
from observe.errors import ObserveError
from observe.model import ContainerEvent, ContainerInfo, Record, StreamState
from observe.stats.sample import InterfaceCounters, Sample
from observe.stats.snapshot import ContainerStats, SamplerHealth, StatsSnapshot
from tui.terminal import ExecSession

NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
T0 = NOW.timestamp()
ENGINE_INFO = {"CgroupDriver": "cgroupfs", "CgroupVersion": "1"}


def inspect_doc(n: int, name: str, service: str, state: str = "running", health: str = "",
                restarts: int = 0, started_minutes_ago: int = 90) -> dict[str, Any]:
    cid = f"{n:02d}" * 32
    started = datetime.fromtimestamp(T0 - started_minutes_ago * 60, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")
    doc: dict[str, Any] = {
        "Id": cid,
        "Name": f"/{name}",
        "RestartCount": restarts,
        "Created": started,
        "Config": {
            "Image": "shop/" + service + ":1.4",
            "Labels": {"com.docker.compose.project": "shop", "com.docker.compose.service": service, "tier": "front"},
            "Env": ["PATH=/usr/bin", "DB_PASSWORD=hunter2", "LOG_LEVEL=info"],
            "ExposedPorts": {"8080/tcp": {}},
        },
        "State": {"Status": state, "Running": state == "running", "Pid": 1000 + n, "ExitCode": 0 if state else 1,
                  "StartedAt": started, "FinishedAt": "0001-01-01T00:00:00Z"},
        "HostConfig": {"Memory": 256 * 1024 * 1024, "LogConfig": {"Type": "json-file"}},
        "Mounts": [{"Type": "volume", "Name": "data", "Destination": "/data", "RW": True}],
        "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}},
    }
    if health:
        doc["State"]["Health"] = {"Status": health}
    return doc


DOCS = [
    inspect_doc(1, "shop-api-1", "api"),
    inspect_doc(2, "shop-api-2", "api", restarts=2, started_minutes_ago=7),
    inspect_doc(3, "shop-db-1", "db", health="healthy", started_minutes_ago=3000),
    inspect_doc(4, "shop-worker-1", "worker", health="unhealthy", started_minutes_ago=1),
    inspect_doc(5, "shop-cron-1", "cron", state="exited"),
]


def samples(n: int, points: int = 30) -> tuple[Sample, ...]:
    """A fixed, varied history: CPU and traffic that rise and fall, memory that grows."""
    out = []
    cpu = 0.0
    rx = tx = 0
    for i in range(points):
        cpu += 0.01 * n * (1 + (i * 7 + n) % 5)
        rx += 1000 * n * (1 + i % 4)
        tx += 400 * n * (1 + (i + n) % 3)
        out.append(Sample(
            time=T0 - points + i, monotonic=1000.0 + i, cpu_usage_seconds=cpu,
            memory_working_set_bytes=(20 + n * 10 + i) * 1024 * 1024, memory_usage_bytes=(30 + n * 10 + i) << 20,
            spec_memory_limit_bytes=256 << 20,
            network=(InterfaceCounters("eth0", rx, i, 0, 0, tx, i, 0, 0),),
        ))
    return tuple(out)


def record(i: int, level: str, message: str, **extra: Any) -> Record:
    time_ns = int((T0 - 60 + i) * 1e9)
    doc = {"@timestamp": datetime.fromtimestamp(time_ns / 1e9, UTC).isoformat(), "message": message,
           "log.level": level, "stream": "stdout", **extra}
    return Record(doc, time_ns, level, "stdout", None, 1, len(message))


RECORDS = [
    record(0, "info", "listening on :8080"),
    record(1, "debug", "pool size 8"),
    record(2, "info", "GET /health 200 1ms"),
    record(3, "warn", "slow query: 812ms"),
    record(4, "error", "payment failed: timeout",
           **{"error.stack_trace": "Traceback (most recent call last):\n  File \"pay.py\"\nTimeoutError"}),
    record(5, "info", "GET /orders 200 14ms"),
    record(6, "critical", "database connection lost"),
    record(7, "info", "reconnected"),
]


@dataclass
class FakeSession:
    """An exec session that never gets a terminal (``run_test`` cannot suspend); records that it was closed."""

    closed: bool = False

    def fileno(self) -> int:
        return -1

    def send(self, data: bytes) -> None:
        pass

    def recv(self, size: int = 65536) -> bytes:
        return b""

    def resize(self, rows: int, columns: int) -> None:
        pass

    def exit_code(self) -> int | None:
        return 0

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeInventory:
    connected: bool = True
    last_error: str = ""
    infos: list[ContainerInfo] = field(default_factory=list)
    events: list[ContainerEvent] = field(default_factory=list)

    def containers(self, include_stopped: bool = True) -> list[ContainerInfo]:
        return sorted((c for c in self.infos if include_stopped or c.running), key=lambda c: c.name)

    def get(self, ref: str) -> ContainerInfo | None:
        return next((c for c in self.infos if ref in (c.id, c.name)), None)

    def subscribe(self, listener: Callable[[Any], None]) -> Callable[[], None]:
        return lambda: None

    def subscribe_events(self, listener: Callable[[ContainerEvent], None]) -> Callable[[], None]:
        return lambda: None

    def recent_events(self, container_id: str | None = None) -> list[ContainerEvent]:
        return [e for e in self.events if container_id is None or e.container_id == container_id]


@dataclass
class FakeSampler:
    snap: StatsSnapshot

    def snapshot(self) -> StatsSnapshot:
        return self.snap


class FakeCore:
    """Fixed containers, stats, records, processes and events; actions are recorded, not performed."""

    def __init__(self, read_only: bool = False, connected: bool = True) -> None:
        self.config = Config(read_only=read_only)
        infos = [from_inspect(d, ENGINE_INFO) for d in DOCS]
        self.docs = {d["Id"]: d for d in DOCS}
        self.inventory = FakeInventory(connected, "" if connected else
                                       "cannot reach the Docker engine at unix:///var/run/docker.sock: "
                                       "connection refused", infos)
        self.inventory.events = [
            ContainerEvent(int((T0 - 300) * 1e9), "start", infos[1].id, infos[1].name, infos[1].image, "api", {}),
            ContainerEvent(int((T0 - 200) * 1e9), "die", infos[1].id, infos[1].name, infos[1].image, "api",
                           {"signal": "9"}, exit_code=137),
            ContainerEvent(int((T0 - 100) * 1e9), "start", infos[1].id, infos[1].name, infos[1].image, "api", {}),
        ]
        self.past = [
            ContainerEvent(int((T0 - 400) * 1e9), "oom", infos[1].id, infos[1].name, infos[1].image, "api", {}),
            self.inventory.events[0],
        ]
        stats = {c.id: ContainerStats(c, h[-1], h) for n, c in enumerate(infos, 1) if c.running
                 for h in [samples(n)]}
        self.sampler = FakeSampler(StatsSnapshot(T0, tuple(infos), MappingProxyType(stats),
                                                 SamplerHealth("cgroup", 1.0, True, 30)))
        self.actions: list[tuple[str, str]] = []
        self.sessions: list[FakeSession] = []

    def inspect(self, ref: str) -> Mapping[str, Any]:
        return self.docs[ref]

    def past_events(self, container_id: str, since: float, until: float | None = None) -> list[ContainerEvent]:
        """What the engine held from before the TUI started: an OOM kill, and the start the live list has too."""
        return [e for e in self.past if e.container_id == container_id and e.time_ns >= since * 1e9]

    def top(self, container_id: str) -> tuple[list[str], list[list[str]]]:
        return (["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
                [["root", "1001", "990", "0", "10:30", "?", "00:00:03", "python -m shop.api"],
                 ["root", "1042", "1001", "0", "10:30", "?", "00:00:00", "gunicorn: worker"]])

    def action(self, container_id: str, verb: str) -> None:
        self.actions.append((container_id, verb))

    def run_command(self, container_id: str, argv: Sequence[str]) -> tuple[int, str]:
        return 0, "fake output\n"

    def shell_command(self, container_id: str) -> list[str]:
        return ["sh"]

    def open_exec(self, container_id: str, argv: Sequence[str]) -> ExecSession:
        self.sessions.append(FakeSession())
        return self.sessions[-1]

    def follow_logs(self, container_id: str, on_records: Callable[[list[Record]], None],
                    tail: int = 500, on_state: Callable[[StreamState], None] | None = None) -> Callable[[], None]:
        on_records(list(RECORDS))
        return lambda: None


def fixed_clock() -> datetime:
    return NOW


class SlowCore(FakeCore):
    """Actions wait until the test sets ``release``, as a 10 s stop does on the engine; those on ``failing`` fail."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.release = threading.Event()
        self.failing = failing

    def action(self, container_id: str, verb: str) -> None:
        self.release.wait(10)
        super().action(container_id, verb)
        if container_id in self.failing:
            raise ObserveError("the engine refused: cannot restart\nsecond line")
