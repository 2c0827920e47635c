"""Receivers that die: ``observe run`` (a process) reading a real container to tcp, syslog and fluentd.

Each case sends numbered lines; mid-stream the receiver is killed (connections reset, unread
data lost), observe is stopped while it is down and started again, and the receiver comes
back after the outage. Every line must arrive at least once, and the counters must tell the
truth: what the first run confirmed is what the second did not have to read again, the stop
message names the records it left unconfirmed, and every duplicate the receiver got was
counted as resent or read again. One line of 40 KB rides along in some cases: tcp and syslog
cut it to 32 KiB (flagged) instead of having the receiver drop the connection.

The default cases send 5,000 lines with a 3 s outage; the ``slow`` ones the 50,000 lines and
10 s of the issue, with and without the long line (``python3 -m pytest -m slow``).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.conftest import Containers
from tests.support.collector_run import CollectorProcess
from tests.support.nethelpers import free_port
from tests.support.sinkreceivers import FluentServer, LineServer
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine

BIG = 40_000
LIMIT = 32 << 10


class Receiver(Protocol):
    url: str

    @property
    def oversize(self) -> int: ...

    def start(self) -> None: ...

    def kill(self) -> None: ...

    def docs(self) -> list[dict[str, Any]]: ...

    def count(self) -> int:
        """Messages received so far (cheap: what a wait polls)."""

    def close(self) -> None: ...


class LinesReceiver:
    """Our JSON-lines receiver with Fluent Bit's in_tcp limit: a line over 32 KB drops the connection."""

    def __init__(self) -> None:
        self.server = LineServer(max_message=LIMIT)
        self.server.start()
        self.url = f"tcp://127.0.0.1:{self.server.port}?format=json"

    @property
    def oversize(self) -> int:
        return self.server.oversize

    def start(self) -> None:
        self.server.start()

    def kill(self) -> None:
        self.server.kill()

    def docs(self) -> list[dict[str, Any]]:
        with self.server.lock:
            return [json.loads(line) for line in self.server.lines]

    def count(self) -> int:
        return self.server.count()

    def close(self) -> None:
        self.server.kill()


class FluentReceiver:
    def __init__(self) -> None:
        self.server = FluentServer()
        self.server.start()
        self.url = f"fluentd://127.0.0.1:{self.server.port}?format=json"
        self.oversize = 0

    def start(self) -> None:
        self.server.start()

    def kill(self) -> None:
        self.server.kill()

    def docs(self) -> list[dict[str, Any]]:
        return self.server.records()

    def count(self) -> int:
        with self.server.lock:
            return len(self.server.events)

    def close(self) -> None:
        self.server.kill()


SYSLOG_NG_CONF = """@version: 3.38
options {{ keep-hostname(yes); stats_freq(0); log-msg-size({limit}); }};
source s_in {{ {source}; }};
destination d_out {{ file("{out}" template("$MSG\\n")); }};
log {{ source(s_in); destination(d_out); }};
"""


class SyslogNgReceiver:
    """syslog-ng as its own process: ``syslog()`` reads octet counting, ``network()`` newline framing.

    Killed with SIGKILL; restarted with the same configuration, port and output file.
    """

    def __init__(self, tmp: Path, framing: str) -> None:
        binary = shutil.which("syslog-ng")
        assert binary, "syslog-ng is missing: scripts/engine.sh installs syslog-ng-core"
        self.binary, self.tmp = binary, tmp
        port = free_port()
        source = (f'syslog(transport("tcp") ip("127.0.0.1") port({port}))' if framing == "octet-counting" else
                  f'network(transport("tcp") ip("127.0.0.1") port({port}) flags(syslog-protocol))')
        self.out = tmp / "syslog-ng.out"
        self.conf = tmp / "syslog-ng.conf"
        self.conf.write_text(SYSLOG_NG_CONF.format(limit=64 << 10, source=source, out=self.out))
        self.url = f"syslog+tcp://127.0.0.1:{port}?format=json&framing={framing}"
        self.oversize = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.start()

    def start(self) -> None:
        self.starts += 1
        err_path = self.tmp / f"syslog-ng.{self.starts}.err"
        with open(err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [self.binary, "-F", "-e", "--no-caps", "-f", str(self.conf), "-p", str(self.tmp / "syslog-ng.pid"),
                 "-R", str(self.tmp / "syslog-ng.persist"), "-c", str(self.tmp / "syslog-ng.ctl")],
                stdout=subprocess.DEVNULL, stderr=err)
        wait_for(lambda: b"Accepting connections" in err_path.read_bytes(), "syslog-ng up")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def docs(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        out = []
        for line in self.out.read_bytes().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:  # the last line, half written when syslog-ng was killed
                continue
        return out

    def count(self) -> int:
        return self.out.read_bytes().count(b"\n") if self.out.exists() else 0

    def close(self) -> None:
        if self.proc is not None:
            self.kill()


RECEIVERS: dict[str, Callable[[Path], Receiver]] = {
    "tcp": lambda tmp: LinesReceiver(),
    "syslog-octet-counting": lambda tmp: SyslogNgReceiver(tmp, "octet-counting"),
    "syslog-newline": lambda tmp: SyslogNgReceiver(tmp, "newline"),
    "fluentd": lambda tmp: FluentReceiver(),
}


@dataclass(frozen=True)
class Case:
    lines: int
    outage: float
    big: bool


def script(case: Case) -> str:
    """Numbered lines in 20 paced steps; with ``big``, line ``lines//2 + 1`` is ``N xxx...`` 40 KB long."""
    step = case.lines // 20
    half = case.lines // 2
    parts = []
    for start in range(1, case.lines + 1, step):
        end = min(case.lines, start + step - 1)
        if case.big and start <= half + 1 <= end:
            if start <= half:
                parts.append(f"seq {start} {half}")
            parts.append(f"printf '%s ' {half + 1}; head -c {BIG} /dev/zero | tr '\\0' x; echo")
            if half + 2 <= end:
                parts.append(f"seq {half + 2} {end}")
        else:
            parts.append(f"seq {start} {end}")
        parts.append("usleep 300000")
    return "; ".join(parts) + "; sleep 600"


def number(doc: dict[str, Any]) -> int:
    return int(str(doc["message"]).split(" ", 1)[0])


def events(stderr: str, name: str) -> list[dict[str, Any]]:
    """observe's own JSON log events of one name, in order."""
    out = []
    for line in stderr.splitlines():
        if name in line and line.startswith("{"):
            doc = json.loads(line)
            if doc.get("event") == name:
                out.append(doc)
    return out


def stopped(stderr: str, prefix: str) -> list[dict[str, Any]]:
    # With --workers each worker logs its own (marked "worker"); the supervisor logs the totals.
    return [e for e in events(stderr, "SinkStopped") if e["sink"].startswith(prefix) and "worker" not in e]


def started(stderr: str) -> bool:
    """Every worker process of ``observe run`` (one without ``--workers``) logged CollectorStarted."""
    workers = events(stderr, "WorkersStarted")
    expected = int(workers[-1]["workers"]) if workers else 1
    return len(events(stderr, "CollectorStarted")) >= expected


def run_outage(tmp_path: Path, containers: Containers, kind: str, case: Case) -> None:
    receiver = RECEIVERS[kind](tmp_path)
    prefix = kind.split("-")[0] + ":"
    collector = CollectorProcess(tmp_path, containers.test_id, "--sink", receiver.url, "--stop-timeout", "3s")
    try:
        collector.start()
        wait_for(lambda: started(collector.stderr()), "every collector worker started", timeout=60)
        containers.run("out", script(case))

        def unique() -> int:
            return len({number(d) for d in receiver.docs()})

        wait_for(lambda: receiver.count() >= case.lines // 5, "a fifth of the lines before the outage", timeout=60)
        at_kill = unique()
        receiver.kill()
        down_at = time.monotonic()
        assert collector.stop() == 0
        first = collector.stderr()
        collector.start()  # while the receiver is still down
        time.sleep(max(0.0, case.outage - (time.monotonic() - down_at)))  # the rest of the outage
        receiver.start()
        wait_for(lambda: unique() >= case.lines, f"all {case.lines} lines after the outage",
                 timeout=60 + case.lines / 1000)
        name = containers.name("out")
        wait_for(lambda: len(collector.recent_messages(name)) and collector.recent_messages(name)[-1].startswith(
            str(case.lines)), "the file sink has the last line too")
        assert collector.stop() == 0
        stderr = collector.stderr()

        docs = receiver.docs()
        numbers = [number(d) for d in docs]
        assert sorted(set(numbers)) == list(range(1, case.lines + 1)), "lines lost"
        assert at_kill < case.lines, "the outage was not mid-stream"

        run1, run2 = stopped(stderr, prefix)
        file1 = stopped(stderr, "file:")[0]
        early = events(first, "CollectorStoppedEarly")
        pending = sum(e.get("pending", 0) for e in early)  # per worker; the supervisor's own carries none
        assert pending == file1["confirmed"] - run1["confirmed"], "the stop message miscounts what is read again"
        assert run2["written"] == case.lines - run1["confirmed"], "the second run did not start where run 1 confirmed"
        assert run2["confirmed"] == run2["written"] and run2["unconfirmed"] == 0
        assert not events(stderr[len(first):], "CollectorStoppedEarly")
        received = len(numbers)
        assert run1["confirmed"] + run2["written"] <= received, "a record counted as confirmed never arrived"
        sent = run1["written"] + run1["resent"] + run2["written"] + run2["resent"]
        # A batch on its way when run 1 stopped (fluentd: sent, its acknowledgement still awaited) is counted
        # neither written nor resent, but in ``pending``: it was not confirmed, and run 2 sends it again.
        assert received <= sent + pending, "the receiver got more than the sink sent"
        duplicates = received - case.lines
        assert duplicates <= run1["resent"] + run2["resent"] + pending, "duplicates that were not counted"
        assert run1["disconnects"] + run2["disconnects"] >= 1 and events(stderr, "SinkDisconnected")

        assert receiver.oversize == 0, "the receiver dropped a connection for a long record"
        if case.big:
            big = [d for d in docs if number(d) == case.lines // 2 + 1]
            if kind == "fluentd":  # its limit (1 MiB) is above the line
                assert all(len(d["message"]) == len(str(number(d))) + 1 + BIG for d in big)
            else:
                assert run1["truncated"] + run2["truncated"] >= 1
                for d in big:
                    assert d["log.truncated"] is True and 0 < d["observe.truncated_bytes"] < BIG
                    assert len(json.dumps(d).encode()) < LIMIT and d["message"].endswith("x")
    finally:
        collector.close()
        receiver.close()


@pytest.mark.parametrize("kind", list(RECEIVERS))
def test_receiver_killed_and_observe_restarted_lose_nothing(tmp_path: Path, containers: Containers,
                                                            kind: str) -> None:
    run_outage(tmp_path, containers, kind, Case(5_000, 3.0, big=True))


@pytest.mark.slow
@pytest.mark.parametrize("big", [False, True], ids=["plain", "with-40KB-line"])
@pytest.mark.parametrize("kind", list(RECEIVERS))
def test_50k_lines_receiver_killed_10s(tmp_path: Path, containers: Containers, kind: str, big: bool) -> None:
    run_outage(tmp_path, containers, kind, Case(50_000, 10.0, big=big))
