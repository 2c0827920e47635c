"""The log collector end to end: real containers, ``observe run`` in a subprocess, a file sink."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Containers
from tests.support.collector_run import CollectorProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine

MIXED = r"""
i=0
while [ $i -lt 30 ]; do
  echo "plain n=$i"
  echo "{\"level\":\"warn\",\"msg\":\"json n=$i\",\"user\":\"u$i\"}"
  i=$((i+1))
done
printf 'Exception in thread "main" java.lang.IllegalStateException: boom\n'
printf '\tat a.B.c(B.java:10)\n\tat a.D.e(D.java:20)\n'
echo "after-trace"
printf 'big '; head -c 40960 /dev/zero | tr '\0' 'x'; echo
printf 'bad \377\376 utf8\n'
printf '\033[31mred\033[0m text\n'
echo "ERROR something failed" >&2
echo "last-line"
sleep 600
"""


@pytest.fixture
def collector(tmp_path: Path, containers: Containers) -> Iterator[CollectorProcess]:
    proc = CollectorProcess(tmp_path, containers.test_id)
    yield proc
    proc.close()


@pytest.mark.parametrize("reader", ["json-file", "api"])
def test_mixed_content_collected_once_in_order(tmp_path: Path, containers: Containers, reader: str) -> None:
    collector = CollectorProcess(tmp_path, containers.test_id, reader=reader)
    try:
        c = containers.run("mixed", MIXED, labels={"app": "demo"})
        collector.start()
        name = containers.name("mixed")
        # stdout and stderr are separate pipes: their last lines may reach the engine in either order.
        wait_for(lambda: {"last-line", "ERROR something failed"} <= set(collector.messages(name)),
                 f"the last lines of {name} collected")
        records = [r for r in collector.records() if r["container.name"] == name]
        messages = [r["message"] for r in records]
        expected_plain = [f"plain n={i}" for i in range(30)]
        assert [m for m in messages if m.startswith("plain")] == expected_plain
        assert [m for m in messages if m.startswith("json")] == [f"json n={i}" for i in range(30)]
        assert len(messages) == len(set(messages)), Counter(messages).most_common(3)
        # JSON lines: level and extra fields kept
        js = next(r for r in records if r["message"] == "json n=7")
        assert js["log.level"] == "warn" and js["user"] == "u7"
        # The stack trace is one record
        trace = next(r for r in records if "IllegalStateException" in r["message"])
        assert "at a.D.e(D.java:20)" in trace["error.stack_trace"]
        assert not any(m.startswith("\tat") or m.startswith("at a.") for m in messages)
        assert messages.index(trace["message"]) == messages.index("after-trace") - 1
        # The 40 KiB line (split in 16 KiB chunks by Docker) is one record again
        big = next(r for r in records if r["message"].startswith("big "))
        assert big["message"] == "big " + "x" * 40960
        bad = next(r for r in records if r["message"].startswith("bad "))
        assert "\ufffd" in bad["message"] and bad["log.invalid_utf8"] is True
        assert "red text" in messages
        err = next(r for r in records if r["message"] == "ERROR something failed")
        assert err["log.level"] == "error" and err["stream"] == "stderr"
        first = records[0]
        assert first["container.id"] == c.id and first["@version"] == "1"
        assert first["container.image.name"] == "observe-test/busybox" and first["container.image.tag"] == "1"
        assert first["service.name"] == name and first["@timestamp"].endswith("Z")
        assert len(first["@timestamp"]) == len("2026-01-02T03:04:05.123456Z")
        assert collector.stop() == 0
    finally:
        collector.close()


def test_container_started_later_and_restarted(collector: CollectorProcess, containers: Containers) -> None:
    collector.start()
    script = ('r=$(cat /tmp/run 2>/dev/null || echo 0); r=$((r+1)); echo $r > /tmp/run; i=0; '
              'while [ $i -lt 300 ]; do echo "run=$r n=$i"; i=$((i+1)); usleep 5000; done; sleep 600')
    c = containers.run("restarted", script)
    name = containers.name("restarted")
    wait_for(lambda: any(m.startswith("run=1 n=5") for m in collector.messages(name)), "first run collected")
    c.restart(timeout=0)
    wait_for(lambda: "run=2 n=299" in collector.messages(name), "second run collected to its end")
    messages = collector.messages(name)
    engine_lines = c.logs(stdout=True, stderr=True).decode().splitlines()
    assert messages == engine_lines, "collected lines differ from the engine's own log"
    assert len(messages) == len(set(messages))
    assert collector.stop() == 0


def test_rotation_under_load_loses_nothing(collector: CollectorProcess, containers: Containers) -> None:
    total = 200_000
    script = ("i=0; while [ $i -lt 100 ]; do seq $((i*2000)) $((i*2000+1999)); i=$((i+1)); usleep 100000; done; "
              "echo done; sleep 600")
    collector.start()
    collector.wait_ready()  # a log rotated away before the collector runs is gone for any collector
    containers.run("rotating", script, log_config={"type": "json-file", "config": {"max-size": "1m",
                                                                                   "max-file": "5"}})
    name = containers.name("rotating")
    wait_for(lambda: "done" in collector.recent_messages(name)[-5:], "the last line after rotations", timeout=120,
             interval=0.5)
    numbers = [m for m in collector.messages(name) if m != "done"]
    assert len(numbers) == total and numbers == [str(i) for i in range(total)]
    assert "LogLinesLost" not in collector.stderr()
    assert collector.stop() == 0


def test_sigkill_loses_nothing_and_sigterm_repeats_nothing(collector: CollectorProcess,
                                                           containers: Containers) -> None:
    script = 'i=0; while [ $i -lt 3000 ]; do echo "n=$i"; i=$((i+1)); usleep 1000; done; echo end; sleep 600'
    collector.start()
    collector.wait_ready()
    containers.run("durable", script)
    name = containers.name("durable")
    wait_for(lambda: len(collector.messages(name)) > 300, "some lines collected")
    collector.stop(signal.SIGKILL)
    collector.start()
    collector.wait_ready()
    wait_for(lambda: len(collector.messages(name)) > 1500 and "end" not in collector.messages(name),
             "more lines after the SIGKILL restart")
    assert collector.stop(signal.SIGTERM) == 0
    after_term = collector.messages(name)
    collector.start()
    collector.wait_ready()  # "end" may be in already: the stop below must not come before the start
    wait_for(lambda: "end" in collector.messages(name), "the last line", timeout=60)
    messages = collector.messages(name)
    expected = [f"n={i}" for i in range(3000)] + ["end"]
    assert set(messages) == set(expected), "a line was lost"
    # At-least-once across SIGKILL: duplicates only from before the kill. None after SIGTERM.
    tail = messages[len(after_term):]
    assert len(tail) == len(set(tail)) and not set(tail) & set(after_term), "lines repeated after SIGTERM"
    assert collector.stop() == 0


def test_api_reader_across_rotation_loses_and_repeats_nothing(tmp_path: Path, containers: Containers) -> None:
    """The engine's follow stream can stall after a rotation; the reader reopens from its last line."""
    collector = CollectorProcess(tmp_path, containers.test_id, "--stall-timeout", "2s", reader="api")
    total = 60_000
    script = ("i=0; while [ $i -lt 30 ]; do seq $((i*2000)) $((i*2000+1999)); i=$((i+1)); usleep 200000; done; "
              "echo done; sleep 600")
    try:
        collector.start()
        collector.wait_ready()
        containers.run("api-rotating", script, log_config={"type": "json-file", "config": {"max-size": "1m",
                                                                                           "max-file": "5"}})
        name = containers.name("api-rotating")
        wait_for(lambda: "done" in collector.recent_messages(name)[-5:], "the last line through the API reader",
                 timeout=120, interval=0.5)
        numbers = [m for m in collector.messages(name) if m != "done"]
        assert numbers == [str(i) for i in range(total)]
        assert collector.stop() == 0
    finally:
        collector.close()
