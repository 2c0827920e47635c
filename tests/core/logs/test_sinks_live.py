"""Sinks end to end: ``observe run`` with real containers to receivers the tests run, and to syslog-ng."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Containers
from tests.support.collector_run import CollectorProcess
from tests.support.nethelpers import free_port
from tests.support.sinkreceivers import FluentServer, LineServer
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine


def by_container(lines: list[bytes]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for raw in lines:
        doc = json.loads(raw)
        out[doc["container.name"]].append(int(doc["message"]))
    return out


def first_seen(numbers: list[int]) -> list[int]:
    seen: set[int] = set()
    return [n for n in numbers if not (n in seen or seen.add(n))]  # type: ignore[func-returns-value]


def sink_stopped(stderr: str, prefix: str) -> dict[str, Any]:
    for line in stderr.splitlines():
        if '"SinkStopped"' in line:
            doc = json.loads(line)
            if doc["sink"].startswith(prefix) and "worker" not in doc:  # the totals, not one worker's
                return doc
    raise AssertionError(f"no SinkStopped log for {prefix}")


def test_100k_lines_to_tcp_complete_and_in_order(tmp_path: Path, containers: Containers) -> None:
    receiver = LineServer()
    receiver.start()
    collector = CollectorProcess(tmp_path, containers.test_id, "--sink", f"tcp://127.0.0.1:{receiver.port}")
    try:
        collector.start()
        for i in range(4):
            containers.run(f"seq{i}", "seq 1 25000; sleep 600")
        wait_for(lambda: receiver.count() >= 100_000, "100,000 lines at the receiver", timeout=120)
        assert collector.stop() == 0
        got = by_container(receiver.lines)
        assert sorted(got) == sorted(containers.name(f"seq{i}") for i in range(4))
        for name, numbers in got.items():
            assert numbers == list(range(1, 25_001)), f"{name}: lines missing, repeated or out of order"
        assert sink_stopped(collector.stderr(), "tcp:")["resent"] == 0
    finally:
        collector.close()
        receiver.stop(timeout=2)


def test_receiver_down_10s_mid_stream_still_complete(tmp_path: Path, containers: Containers) -> None:
    receiver = LineServer()
    receiver.start()
    collector = CollectorProcess(tmp_path, containers.test_id, "--sink", f"tcp://127.0.0.1:{receiver.port}")
    script = "i=0; while [ $i -lt 50 ]; do seq $((i*500+1)) $((i*500+500)); i=$((i+1)); usleep 200000; done; sleep 600"
    try:
        collector.start()
        for i in range(4):
            containers.run(f"slow{i}", script)
        wait_for(lambda: receiver.count() >= 20_000, "a fifth of the lines before the outage", timeout=60)
        receiver.stop()  # close the listener and every connection (gracefully: read to EOF)
        down_at = receiver.count()
        time.sleep(10)  # the outage itself
        receiver.start()  # same port
        wait_for(lambda: sum(len(set(v)) for v in by_container(receiver.lines).values()) >= 100_000,
                 "every line after the outage", timeout=120)
        assert collector.stop() == 0
        assert down_at < 100_000, "the outage was not mid-stream"
        got = by_container(receiver.lines)
        assert len(got) == 4
        repeated = 0
        for name, numbers in got.items():
            assert first_seen(numbers) == list(range(1, 25_001)), f"{name}: lines missing or out of order"
            repeated += len(numbers) - len(set(numbers))
        status = sink_stopped(collector.stderr(), "tcp:")
        assert repeated <= status["resent"], "more duplicates arrived than the sink counted"
        assert status["failed"] >= 1 and receiver.connections >= 2
        assert '"SinkDisconnected"' in collector.stderr() and '"SinkReconnected"' in collector.stderr()
    finally:
        collector.close()
        receiver.stop(timeout=2)


def test_fluentd_sink_end_to_end(tmp_path: Path, containers: Containers) -> None:
    receiver = FluentServer()
    receiver.start()
    collector = CollectorProcess(tmp_path, containers.test_id, "--sink",
                                 f"fluentd://127.0.0.1:{receiver.port}?tag=docker.{{service.name}}&format=logstash")
    try:
        collector.start()
        containers.run("fl", "seq 1 3000; sleep 600", labels={"com.docker.compose.service": "api"})
        wait_for(lambda: len(receiver.events) >= 3000, "3000 events at Fluentd", timeout=60)
        assert collector.stop() == 0
        messages = [int(r["message"]) for r in receiver.records()]
        assert messages == list(range(1, 3001))
        file_records = {r["message"]: r for r in collector.records()}
        for tag, when, record in receiver.events[:50]:
            assert tag == "docker.api" and record["container"]["name"] == containers.name("fl")
            assert when == ("EventTime", record["observe"]["time_ns"])
            assert file_records[record["message"]]["observe.time_ns"] == record["observe"]["time_ns"]
        assert all(chunk for chunk, _ in receiver.chunks)
    finally:
        collector.close()
        receiver.stop(timeout=2)


SYSLOG_NG_CONF = """@version: 3.38
options {{ keep-hostname(yes); stats_freq(0); }};
source s_syslog {{ syslog(transport("tcp") ip("127.0.0.1") port({syslog_port})); }};
source s_lines {{ network(transport("tcp") ip("127.0.0.1") port({tcp_port}) flags(no-parse)); }};
parser p_json {{ json-parser(prefix("json.")); }};
destination d_syslog {{ file("{out}/syslog.out" template(
    "${{PROGRAM}} ${{LEVEL}} ${{FACILITY}} ${{json.container.name}} ${{json.log.level}} ${{json.message}}\\n")); }};
destination d_lines {{ file("{out}/lines.out" template("${{json.container.name}} ${{json.message}}\\n")); }};
log {{ source(s_syslog); parser(p_json); destination(d_syslog); }};
log {{ source(s_lines); parser(p_json); destination(d_lines); }};
"""




def test_syslog_ng_parses_our_syslog_and_json_lines(tmp_path: Path, containers: Containers) -> None:
    binary = shutil.which("syslog-ng")
    assert binary, "syslog-ng is missing: scripts/engine.sh installs syslog-ng-core"
    syslog_port, tcp_port = free_port(), free_port()
    conf = tmp_path / "syslog-ng.conf"
    conf.write_text(SYSLOG_NG_CONF.format(syslog_port=syslog_port, tcp_port=tcp_port, out=tmp_path))
    with open(tmp_path / "syslog-ng.err", "wb") as err:
        shipper = subprocess.Popen([binary, "-F", "-e", "--no-caps", "-f", str(conf), "-p", str(tmp_path / "pid"),
                                    "-R", str(tmp_path / "persist"), "-c", str(tmp_path / "ctl")],
                                   stdout=subprocess.DEVNULL, stderr=err)
    collector = CollectorProcess(tmp_path, containers.test_id,
                                 "--sink", f"syslog+tcp://127.0.0.1:{syslog_port}?facility=local3&format=logstash",
                                 "--sink", f"tcp://127.0.0.1:{tcp_port}?format=logstash")
    try:
        wait_for(lambda: b"Accepting connections" in (tmp_path / "syslog-ng.err").read_bytes(), "syslog-ng up")
        collector.start()
        script = ('echo "hello from ünïcode"; echo \'{"level":"warn","msg":"json warn"}\'; '
                  'echo "ERROR: broken" >&2; seq 1 500; echo last; sleep 600')
        containers.run("sng", script)
        name = containers.name("sng")

        def lines(file: str) -> list[str]:
            path = tmp_path / file
            return path.read_text().splitlines() if path.exists() else []

        wait_for(lambda: f"{name} last" in lines("lines.out"), "syslog-ng wrote the JSON lines", timeout=60)
        wait_for(lambda: any(line.endswith(" last") for line in lines("syslog.out")), "syslog-ng wrote the syslog",
                 timeout=60)
        assert collector.stop() == 0
        syslog = lines("syslog.out")
        assert f"{name} info local3 {name} info hello from ünïcode" in syslog
        assert f"{name} warning local3 {name} warn json warn" in syslog
        assert f"{name} err local3 {name} error ERROR: broken" in syslog
        numbers = [line.rsplit(" ", 1)[1] for line in syslog if line.split(" ")[-1].isdigit()]
        assert numbers == [str(n) for n in range(1, 501)]
        tail = [line.split(" ", 1)[1] for line in lines("lines.out")]
        # At least once: a line sent again after a reconnect may appear twice; never missing, never reordered.
        firsts = list(dict.fromkeys(m for m in tail if m.isdigit() or m == "last"))
        assert firsts == [*map(str, range(1, 501)), "last"]
        assert "ERROR: broken" in tail and "hello from ünïcode" in tail
    finally:
        collector.close()
        shipper.send_signal(signal.SIGTERM)
        shipper.wait(timeout=10)


def test_file_sink_reopens_on_sighup_after_logrotate_move(tmp_path: Path, containers: Containers) -> None:
    collector = CollectorProcess(tmp_path, containers.test_id)
    try:
        collector.start()
        containers.run("rot", 'i=0; while [ $i -lt 4000 ]; do echo "n=$i"; i=$((i+1)); usleep 1000; done; '
                              'echo end; sleep 600')
        name = containers.name("rot")
        wait_for(lambda: len(collector.messages(name)) >= 200, "some lines in the file")
        rotated = tmp_path / "out.ndjson.1"
        os.rename(collector.out, rotated)  # logrotate's move ...
        assert collector.proc is not None
        collector.proc.send_signal(signal.SIGHUP)  # ... then its postrotate signal
        wait_for(lambda: "end" in collector.messages(name), "the last line, in the new file", timeout=60)
        assert collector.stop() == 0
        old = [json.loads(x)["message"] for x in rotated.read_text().splitlines()]
        new = collector.messages(name)
        assert new, "nothing written after the reopen"
        assert old + new == [f"n={i}" for i in range(4000)] + ["end"]
    finally:
        collector.close()
