"""``observe logs`` (ad-hoc reading) and ``observe run`` (the long-running collector)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable

from observe.cli.common import command, stop_signal, wait_for_stop
from observe.config import Config
from observe.core import Core, build_core
from observe.errors import ConfigError, ContainerNotFound
from observe.logs import parallel
from observe.logs.checkpoints import lock_state_dir
from observe.logs.delivery import log_sink_stopped
from observe.logs.follow import MAX_JSONFILE_LINE, Follow, FollowOptions, choose_reader, follow_records
from observe.logs.formats import FORMATS, render, render_batch
from observe.logs.normalise import NormaliseOptions
from observe.logs.pipeline import LogPipeline
from observe.logs.sinks import check_sinks
from observe.logs.watch import Watch
from observe.logs.workers import (
    PARENT_ENV,
    REPORT_INTERVAL,
    SHARD_ENV,
    Supervisor,
    WorkerCounters,
    die_with_parent,
    effective_workers,
    parse_shard,
    report,
)
from observe.model import LEVEL_RANK, LEVELS, ContainerInfo, LogPosition, Record
from observe.runtime import keep_to_one_cpu, quiet_collector
from observe.timefmt import parse_ns
from observe.units import parse_duration

log = logging.getLogger(__name__)


def parse_since(text: str, now_ns: int) -> int:
    """``10m`` (ago), an RFC 3339 time, or unix seconds -> ns since the epoch.

    Raises:
        ConfigError: none of those.
    """
    value = text.strip()
    try:
        return parse_ns(value)
    except ValueError:
        pass
    try:
        if re.fullmatch(r"\d{9,}(\.\d+)?", value):
            return int(float(value) * 1e9)
        return now_ns - int(parse_duration(value) * 1e9)
    except ValueError:
        raise ConfigError(f"invalid value for --since: {text!r} (use 10m, an RFC 3339 time or unix seconds)") from None


def _logs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("containers", nargs="*", metavar="NAME", help="container names or ids (default: every selected "
                   "running container)")
    p.add_argument("-f", "--follow", action="store_true", help="keep following until Ctrl-C")
    p.add_argument("--since", help="only lines since: 10m (ago), an RFC 3339 time, or unix seconds")
    p.add_argument("--tail", type=int, default=None, metavar="N", help="only the last N lines of each container")
    p.add_argument("--format", choices=FORMATS, default=None, help="record format (default: --output-format)")
    p.add_argument("--level", choices=LEVELS, default=None, help="this level and above (warn = warn, error ...)")
    p.add_argument("--grep", default=None, metavar="REGEX", help="only records whose message or stack trace match")
    p.add_argument("-a", "--all", action="store_true", help="without NAME: include stopped containers")


class _Printer:
    """Filters and prints records of several containers, one whole line at a time."""

    def __init__(self, fmt: str, level: str | None, grep: str | None) -> None:
        self.fmt = fmt
        self.min_rank = LEVEL_RANK[level] if level else -1
        try:
            self.pattern = re.compile(grep) if grep else None
        except re.error as err:
            raise ConfigError(f"invalid value for --grep: {err}") from None
        self.color = fmt == "text" and sys.stdout.isatty()
        self.lock = threading.Lock()

    def __call__(self, records: list[Record]) -> None:
        if self.min_rank >= 0 or self.pattern is not None:
            records = [r for r in records if self._wanted(r)]
        if not records:
            return
        if self.color:
            data = b"".join(render(r.doc, self.fmt, color=True) + b"\n" for r in records)
        else:
            data = render_batch([r.doc for r in records], self.fmt)
        with self.lock:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()

    def _wanted(self, r: Record) -> bool:
        if LEVEL_RANK.get(r.level, LEVEL_RANK["info"]) < self.min_rank:
            return False
        if self.pattern is not None:
            text = str(r.doc.get("message", "")) + "\n" + str(r.doc.get("error.stack_trace", ""))
            return self.pattern.search(text) is not None
        return True


def _targets(core: Core, names: list[str], include_stopped: bool) -> list[ContainerInfo]:
    core.inventory.resync()
    if not names:
        return core.inventory.containers(include_stopped=include_stopped)
    found = []
    for name in names:
        info = core.inventory.get(name)
        if info is None:
            raise ContainerNotFound(f"no such container: {name}")
        found.append(info)
    return found


@command("logs", "read containers' logs as normalised records (ad hoc; see `run` for the collector)")(_logs_args)
def cmd_logs(args: argparse.Namespace, config: Config) -> int:
    printer = _Printer(args.format or config.output_format, args.level, args.grep)
    since_ns = parse_since(args.since, time.time_ns()) if args.since else 0
    if args.tail is not None and args.tail < 0:
        raise ConfigError("invalid value for --tail: must be 0 or more")
    core = build_core(config)
    quiet_collector()
    try:
        options = core.normalise_options()

        def follow_options(tail: int | None, position: LogPosition | None = None) -> FollowOptions:
            # A local json-file log is read directly, as the collector does (``--tail`` from the end
            # of the file backwards); ``--reader api`` and other logs go through the engine API.
            return FollowOptions(reader=config.reader, follow=args.follow,
                                 position=position, tail=tail, since_ns=since_ns, stall_timeout=config.stall_timeout,
                                 until_stopped=bool(args.containers))

        if args.follow and not args.containers:
            _follow_every_container(core, args.all, printer, options, follow_options, args.tail)
            return 0
        targets = _targets(core, args.containers, args.all)
        if not args.follow and args.tail is None and len(targets) == 1 and _read_in_two(core, targets[0], options,
                                                                                     printer, since_ns, config):
            return 0
        follows = [follow_records(core.engine, info, options, printer, follow_options(args.tail), on_lost=_lost)
                   for info in targets]
        try:
            for follow in follows:
                while not follow.done.wait(0.2):
                    pass
        except KeyboardInterrupt:
            for follow in follows:
                follow.stop()
            for follow in follows:
                follow.thread.join(timeout=5)
    finally:
        core.stop()
    return 0


def _read_in_two(core: Core, c: ContainerInfo, options: NormaliseOptions, printer: _Printer, since_ns: int,
                 config: Config) -> bool:
    """A big local json-file log read once: by two processes (``observe.logs.parallel``); False when not."""
    if choose_reader(core.engine, c, config.reader) != "json-file" or not parallel.usable(c.log_path):
        return False
    try:
        out_fd = sys.stdout.buffer.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (captured): one process
        return False
    sys.stdout.flush()
    pipeline = LogPipeline(c, options, positions=False)  # read once: no checkpoint to place
    return parallel.read_parallel(c.log_path, pipeline, printer, out_fd, since_ns=since_ns,
                                  max_line_bytes=max(MAX_JSONFILE_LINE, options.max_line_bytes * 2),
                                  on_lost=lambda why: _lost(c, why))


def _lost(c: ContainerInfo, why: str) -> None:
    log.warning(why, extra={"event": "LogLinesLost", "container": c.name})


def _follow_every_container(core: Core, include_stopped: bool, printer: _Printer, options: NormaliseOptions,
                            follow_options: Callable[[int | None, LogPosition | None], FollowOptions],
                            tail: int | None) -> None:
    """``logs -f`` without names: every selected container, those that start later and short-lived ones too."""
    core.start()

    def begin(c: ContainerInfo, resume: LogPosition | None, startup: bool) -> Follow:
        # ``--tail`` is for what runs now; a container that starts later is read from its first line.
        opts = follow_options(tail if startup else None, resume)
        return Follow(core.engine, c, options, lambda _f, records: printer(records), opts, on_lost=_lost).start()

    watch = Watch(core.inventory, begin, on_lost=_lost, name="observe-logs")
    watch.start(lambda c: include_stopped or c.running)
    with stop_signal() as done:
        wait_for_stop(done)
    watch.stop(time.monotonic() + 5)


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-exporter", action="store_true", help="collect logs only; no stats sampler or /metrics")


@command("run", "the collector: every selected container's logs to the sinks, plus the Prometheus exporter",
         stoppable=True)(_run_args)
def cmd_run(args: argparse.Namespace, config: Config) -> int:
    check_sinks(config.sink, config.output_format)  # a bad sink fails before the engine is asked
    shard = (0, 1)
    if os.environ.get(SHARD_ENV):
        try:
            shard = parse_shard(os.environ[SHARD_ENV])
        except ValueError:
            raise ConfigError(f"invalid value for {SHARD_ENV}: {os.environ[SHARD_ENV]!r} (k/N)") from None
        if os.environ.get(PARENT_ENV, "").isdigit():
            die_with_parent(int(os.environ[PARENT_ENV]))
    else:
        # One collector per state directory (its workers share it): the descriptor stays open, and the lock
        # held, until this process exits.
        lock_state_dir(config.state_dir, config.stop_timeout + 5)
        workers = effective_workers(config.workers, config.sink)
        if workers > 1:
            return _run_workers(args, config, workers)
    if config.cpu_affinity == "auto":
        cpu = keep_to_one_cpu(shard[0] if shard[1] > 1 else None, shard[1])
        if cpu is not None:
            log.debug("collecting on one CPU", extra={"event": "CollectorCpu", "cpu": cpu})
    core = build_core(config)
    quiet_collector()
    exporting = None
    reporting = threading.Event()
    with stop_signal() as done:
        try:
            core.start_collector(shard)
            if shard[1] > 1:
                threading.Thread(target=_report, args=(core, reporting), name="observe-report", daemon=True).start()
            signal.signal(signal.SIGHUP, lambda signum, frame: _reopen(core))
            if not args.no_exporter and config.listen:
                from exporters import start_exporting

                exporting = start_exporting(core)
            log.info("collector running", extra={"event": "CollectorStarted",
                                                 "sinks": [s.url for s in core.sink_statuses()]})
            wait_for_stop(done, lambda: core.delivery is not None and core.delivery.closed.is_set())
            log.info("stopping: draining records to the sinks", extra={"event": "CollectorStopping"})
            if not core.stop_collector(config.stop_timeout):
                pending = core.delivery.pending if core.delivery is not None else 0
                log.warning(f"stopped with {pending} records not confirmed by every sink; their positions were not "
                            "saved, so the next start reads them again", extra={
                                "event": "CollectorStoppedEarly", "pending": pending})
            if core.delivery is not None and core.delivery.closed.is_set():
                return 1
        finally:
            if shard[1] > 1:
                reporting.set()
                _write_report(core)
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
            if exporting is not None:
                exporting.stop()
            core.stop()
    return 0


def _write_report(core: Core) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.buffer.write(report(core.log_counters, core.sink_statuses()))
        sys.stdout.buffer.flush()


def _report(core: Core, stop: threading.Event) -> None:
    """A worker's counters to its supervisor, once a second."""
    while not stop.wait(REPORT_INTERVAL):
        _write_report(core)


def _run_workers(args: argparse.Namespace, config: Config, workers: int) -> int:
    """The supervisor of ``--workers N``: the workers collect; this process serves /metrics for all."""
    supervisor = Supervisor(args.argv, workers, config.state_dir, config.stop_timeout)
    exporting = None
    with stop_signal() as done:
        supervisor.start()  # first: the workers' start-up is the collector's, so nothing waits before it
        try:
            core = build_core(config)
        except BaseException:
            supervisor.stop()
            raise
        core.use_workers(WorkerCounters(supervisor), supervisor.statuses)
        try:
            signal.signal(signal.SIGHUP, lambda signum, frame: supervisor.reopen())
            if not args.no_exporter and config.listen:
                from exporters import start_exporting

                exporting = start_exporting(core)
            wait_for_stop(done, supervisor.failed.is_set)
            log.info("stopping: the workers drain records to the sinks", extra={"event": "CollectorStopping"})
            if not supervisor.stop():
                log.warning("a worker did not stop cleanly; what it had not delivered is read again at the next start",
                            extra={"event": "CollectorStoppedEarly"})
            for status in supervisor.statuses():  # the workers' last reports, added up
                log_sink_stopped(status)
            return 1 if supervisor.failed.is_set() else 0
        finally:
            supervisor.stop()
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
            if exporting is not None:
                exporting.stop()
            core.stop()


def _reopen(core: Core) -> None:
    for worker in core.delivery.workers if core.delivery else []:
        reopen = getattr(worker.sink, "reopen", None)
        if callable(reopen):
            reopen()
