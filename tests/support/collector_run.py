"""Runs ``observe run`` as a user would, writing to a file sink, and reads back what it wrote."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.waiting import wait_for


class CollectorProcess:
    """An ``observe run`` subprocess selecting one test's containers, with a file sink."""

    def __init__(self, tmp: Path, case: str, *extra: str, reader: str = "auto", exporter: bool = False) -> None:
        self.out = tmp / "out.ndjson"
        self.state = tmp / "state"
        self.stderr_path = tmp / "collector.err"
        self.case = case
        self.extra = extra
        self.reader = reader
        self.exporter = exporter  # serve /metrics too (give --listen in ``extra``)
        self.proc: subprocess.Popen[bytes] | None = None
        self._since = 0

    def start(self) -> None:
        args = [
            sys.executable, "-m", "observe", "run", *([] if self.exporter else ["--no-exporter"]),
            "--sink", f"file://{self.out}", "--output-format", "json", "--state-dir", str(self.state),
            "--label-selector", f"observe.test.case={self.case}", "--read-from-head", "--reader", self.reader,
            "--flush-timeout", "300ms", *self.extra,
        ]
        self._since = len(self.stderr())  # this run's own logs start here (a restart appends)
        with open(self.stderr_path, "ab") as err:
            # Its own process group: ``--workers`` children are frozen and killed with it.
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until this run of the collector says it runs: every worker process (one without ``--workers``)
        has listed its inventory and started its followers."""

        def ready() -> bool:
            own = self.stderr()[self._since:]
            workers = [json.loads(line) for line in own.splitlines() if '"WorkersStarted"' in line]
            expected = int(workers[-1].get("workers", 1)) if workers else 1
            return own.count('"CollectorStarted"') >= expected

        wait_for(ready, "observe run started", timeout=timeout)

    def freeze(self) -> None:
        """SIGSTOP to the collector and its workers: they see nothing until ``thaw``, as collectors far behind would."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGCONT)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def records(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        data = self.out.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]  # the sink may be writing the last line right now
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def recent_messages(self, container_name: str, nbytes: int = 1 << 16) -> list[str]:
        """Messages of the last records only: a cheap check while a large output grows.

        Parsing the whole file at every look would take a core from the collector under test.
        """
        if not self.out.exists():
            return []
        with self.out.open("rb") as fh:
            fh.seek(max(0, self.out.stat().st_size - nbytes))
            data = fh.read()
        lines = data[: data.rfind(b"\n") + 1].splitlines()[1:]  # the first may be cut
        out = []
        for line in lines:
            record = json.loads(line)
            if record.get("container.name") == container_name:
                out.append(record["message"])
        return out

    def messages(self, container_name: str) -> list[str]:
        return [r["message"] for r in self.records() if r.get("container.name") == container_name]

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def close(self) -> None:
        if self.proc is not None:
            with_pid = self.proc.pid
            with contextlib.suppress(ProcessLookupError):
                os.killpg(with_pid, signal.SIGCONT)
                os.killpg(with_pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None
