"""``observe run --workers N``: the followed containers sharded over N worker processes.

One Python process is capped at about one core, however many containers it follows. With N
workers, each is an ``observe run`` of its own that follows only its shard of the containers
(``observe.logs.owners``: claimed once for the least loaded worker, stable across restarts), with its own sinks (its
own connections; a file sink is appended to by all of them, one whole batch per write) and its
own checkpoint file. Delivery and checkpoints are therefore exactly what they are with one
process, per shard. Before the workers start, the checkpoint files are rewritten into the new
layout (``checkpoints.consolidate``), so N may change between runs.

Each worker reports its counters and sink states once a second as one JSON line on its
standard output; the supervisor adds them up for the exporter (``counters``, ``statuses``).
A worker that dies is started again (it resumes from its checkpoints); one that stops because
a sink can never take records again (exit status 1) stops the whole collector.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any
from urllib.parse import urlsplit

import orjson

from observe.errors import ConfigError
from observe.logs.checkpoints import consolidate
from observe.telemetry import LogCounters, LogCountersSnapshot, SinkStatus

log = logging.getLogger(__name__)

SHARD_ENV = "OBSERVE_WORKER_SHARD"
"""Set by the supervisor for a worker: ``k/N``. Not a user option."""

PARENT_ENV = "OBSERVE_WORKER_PARENT"
"""The supervisor's pid, for a worker to notice that it was left alone."""

REPORT_INTERVAL = 1.0
RESTART_DELAY = 1.0


def effective_workers(requested: int, sinks: Sequence[str], cpus: int | None = None) -> int:
    """How many worker processes ``observe run`` uses.

    ``0`` means one per core. Sinks that several processes cannot share safely keep the
    collector in one process: standard output (lines of several writers would interleave) and
    a file sink that rotates by size (each process would rotate on its own count).

    Raises:
        ConfigError: more than one worker asked for explicitly with such a sink.
    """
    n = requested or (cpus if cpus is not None else (os.cpu_count() or 1))
    if n <= 1:
        return 1
    for url in sinks:
        raw = url.strip()
        parts = urlsplit(raw)
        shared_badly = raw in ("stdout", "-", "stdout://") or raw.startswith("stdout?") or (
            parts.scheme == "file" and "max_size=" in parts.query and "max_size=0" not in parts.query)
        if shared_badly:
            if requested > 1:
                raise ConfigError(f"invalid value for --workers: {requested} processes cannot share the sink "
                                  f"{raw.split('?')[0]!r} (use --workers 1)")
            return 1
    return n


def die_with_parent(parent: int) -> None:
    """In a worker: SIGKILL this process as soon as the supervisor is gone (it was SIGKILLed).

    Like the one process it stands for, the collector then stops at once, its checkpoints where
    they were: nothing is lost, and a new supervisor's workers never run beside old ones for long.
    The supervisor holds the other end of the worker's standard input, a pipe it never writes:
    the read below ends when the kernel closes that end with the supervisor, without waking
    before. A worker started otherwise (its input not a pipe) looks at its parent ten times a second.
    """

    def watch() -> None:
        try:
            piped = stat.S_ISFIFO(os.fstat(0).st_mode)
        except OSError:
            piped = False
        if piped:
            with contextlib.suppress(OSError):
                while os.read(0, 4096):
                    pass
        else:
            while os.getppid() == parent:
                time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="observe-parent-watch", daemon=True).start()


def parse_shard(text: str) -> tuple[int, int]:
    """``k/N`` -> (k, N)."""
    k, _, n = text.partition("/")
    shard = (int(k), int(n))
    if not 0 <= shard[0] < shard[1]:
        raise ValueError(f"bad shard {text!r}")
    return shard


def report(counters: LogCounters, statuses: Sequence[SinkStatus]) -> bytes:
    """A worker's report line: cumulative counters and sink states."""
    snap = counters.snapshot()
    return orjson.dumps({
        "lines": [[*k, v] for k, v in snap.lines.items()],
        "bytes": [[*k, v] for k, v in snap.bytes.items()],
        "flags": [[*k, v] for k, v in snap.flags.items()],
        "sinks": [dataclasses.asdict(s) for s in statuses],
    }, option=orjson.OPT_APPEND_NEWLINE)


def _merge_status(parts: list[Mapping[str, Any]]) -> SinkStatus:
    """One sink's state over the workers: counts added, connected only when all are, newest success."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(SinkStatus):
        values = [p[f.name] for p in parts if f.name in p]
        if not values:
            continue
        first = values[0]
        if isinstance(first, bool):
            out[f.name] = all(values)
        elif isinstance(first, int):
            out[f.name] = sum(values)
        elif isinstance(first, float):
            out[f.name] = max(values)
        elif isinstance(first, dict):
            added: dict[str, int] = {}
            for v in values:
                for key, n in v.items():
                    added[key] = added.get(key, 0) + n
            out[f.name] = added
        else:
            out[f.name] = next((v for v in values if v), first)
    return SinkStatus(**out)


class WorkerCounters(LogCounters):
    """The log counters of every worker added up (what ``Core.log_counters`` holds in a supervisor)."""

    def __init__(self, supervisor: Supervisor) -> None:
        super().__init__()
        self._supervisor = supervisor

    def snapshot(self) -> LogCountersSnapshot:
        lines: dict[tuple[str, str, str], int] = {}
        nbytes: dict[tuple[str, str, str], int] = {}
        flags: dict[tuple[str, str], int] = {}
        for rep in self._supervisor.reports():
            for cid, level, stream, n in rep.get("lines", ()):
                lines[(cid, level, stream)] = lines.get((cid, level, stream), 0) + n
            for cid, level, stream, n in rep.get("bytes", ()):
                nbytes[(cid, level, stream)] = nbytes.get((cid, level, stream), 0) + n
            for cid, kind, n in rep.get("flags", ()):
                flags[(cid, kind)] = flags.get((cid, kind), 0) + n
        return LogCountersSnapshot(lines, nbytes, flags)


class _Worker:
    def __init__(self, shard: int) -> None:
        self.shard = shard
        self.proc: subprocess.Popen[bytes] | None = None
        self.reader: threading.Thread | None = None
        self.report: dict[str, Any] = {}
        self.base: dict[str, Any] = {}  # what earlier runs of this worker counted (after a restart)


class Supervisor:
    """Starts N workers (``observe run`` processes, each on its shard), restarts dead ones, stops them all.

    Args:
        argv: the ``observe`` command line of this process (its flags are the workers' flags).
        workers: how many (2 or more).
        state_dir: the checkpoint directory, rewritten into the N-worker layout at start.
        stop_timeout: seconds a worker has to drain at stop before it is killed.
    """

    def __init__(self, argv: Sequence[str], workers: int, state_dir: str, stop_timeout: float) -> None:
        self.argv = [sys.executable, "-m", "observe", *argv, "--no-exporter", "--workers", "1"]
        self.n = workers
        self.state_dir = state_dir
        self.stop_timeout = stop_timeout
        self._workers = [_Worker(k) for k in range(workers)]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.failed = threading.Event()  # a worker's sink can never take records again
        self._watch = threading.Thread(target=self._supervise, name="observe-workers", daemon=True)

    def start(self) -> None:
        """Rewrite the checkpoints for this layout, then start every worker.

        Raises:
            ConfigError: the state directory cannot be written.
        """
        consolidate(self.state_dir, self.n)
        for w in self._workers:
            self._spawn(w)
        self._watch.start()
        log.info("collector workers started", extra={"event": "WorkersStarted", "workers": self.n,
                                                     "pids": [w.proc.pid for w in self._workers if w.proc]})

    def _spawn(self, w: _Worker) -> None:
        env = dict(os.environ)
        env[SHARD_ENV] = f"{w.shard}/{self.n}"
        env[PARENT_ENV] = str(os.getpid())
        w.proc = subprocess.Popen(self.argv, env=env, stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        assert w.proc.stdout is not None
        w.reader = threading.Thread(target=self._read, args=(w, w.proc.stdout), name=f"observe-worker-{w.shard}",
                                    daemon=True)
        w.reader.start()

    def _read(self, w: _Worker, out: IO[bytes]) -> None:
        for line in out:
            try:
                rep = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            with self._lock:
                w.report = rep

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            for w in self._workers:
                proc = w.proc
                if proc is None or proc.poll() is None:
                    continue
                if self._stopping.is_set():
                    return
                if proc.returncode == 1:
                    log.error("a worker stopped: a sink can never take records again",
                              extra={"event": "WorkerStopped", "shard": w.shard})
                    self.failed.set()
                    return
                log.warning("a worker exited; starting it again", extra={
                    "event": "WorkerRestarted", "shard": w.shard, "status": proc.returncode})
                with self._lock:
                    w.base = _add_reports(w.base, w.report)
                    w.report = {}
                if self._stopping.wait(RESTART_DELAY):
                    return
                self._spawn(w)

    def reports(self) -> list[dict[str, Any]]:
        """Every worker's latest report (including what its earlier runs counted)."""
        with self._lock:
            return [_add_reports(w.base, w.report) for w in self._workers]

    def statuses(self) -> list[SinkStatus]:
        """Each sink's state over all workers (sinks in the order of the configuration)."""
        by_url: dict[str, list[Mapping[str, Any]]] = {}
        for rep in self.reports():
            for s in rep.get("sinks", ()):
                by_url.setdefault(s.get("url", ""), []).append(s)
        return [_merge_status(parts) for parts in by_url.values()]

    def reopen(self) -> None:
        """Pass SIGHUP on (file sinks reopen their files)."""
        for w in self._workers:
            if w.proc is not None and w.proc.poll() is None:
                w.proc.send_signal(signal.SIGHUP)

    def stop(self) -> bool:
        """SIGTERM every worker and wait for them to drain. True when each stopped cleanly (status 0)."""
        self._stopping.set()
        live = [w.proc for w in self._workers if w.proc is not None]
        for proc in live:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout + 5
        ok = True
        for proc in live:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                ok = False
            # Killed by the SIGTERM itself: it came before the worker's first line of Python ran
            # (``observe.termination``), so the worker had read nothing and nothing is lost.
            ok = ok and proc.returncode in (0, -signal.SIGTERM)
        for w in self._workers:
            if w.reader is not None:
                w.reader.join(timeout=2)
        if self._watch.is_alive():
            self._watch.join(timeout=2)
        return ok


def _add_reports(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Two reports of one shard added (an earlier run's totals and the current run's)."""
    if not a:
        return dict(b)
    if not b:
        return dict(a)
    out: dict[str, Any] = {}
    for key in ("lines", "bytes", "flags"):
        totals: dict[tuple[Any, ...], int] = {}
        for row in [*a.get(key, ()), *b.get(key, ())]:
            totals[tuple(row[:-1])] = totals.get(tuple(row[:-1]), 0) + row[-1]
        out[key] = [[*k, v] for k, v in totals.items()]
    out["sinks"] = b.get("sinks", [])
    return out
