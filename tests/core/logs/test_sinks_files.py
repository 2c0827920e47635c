"""The stdout and file sinks (rotation, keep N, reopen), and bad sink configuration through the CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from observe.errors import ConfigError
from observe.logs.sinks import SinkClosed, open_sink
from observe.logs.sinks.base import SinkError
from observe.logs.sinks.files import FileSink, StdoutSink
from observe.model import Record
from observe.units import parse_size


def rec(n: int) -> Record:
    return Record({"message": f"m{n}", "container.name": "c", "log.level": "info"}, n, "info", "stdout", None, 1, 2)


def messages(path: Path) -> list[str]:
    return [json.loads(line)["message"] for line in path.read_text().splitlines()] if path.exists() else []


def test_file_sink_writes_ndjson(tmp_path: Path) -> None:
    sink = open_sink(f"file://{tmp_path}/out.ndjson", "logstash")
    sink.write([rec(0), rec(1)])
    sink.close()
    docs = [json.loads(x) for x in (tmp_path / "out.ndjson").read_text().splitlines()]
    assert [d["message"] for d in docs] == ["m0", "m1"] and docs[0]["container"]["name"] == "c"


def test_file_sink_rotates_by_size_and_keeps_n(tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    sink = FileSink(f"file://{out}?max_size=200&keep=2&format=json", "logstash")
    for n in range(40):
        sink.write([rec(n)])
    sink.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["out.ndjson", "out.ndjson.1", "out.ndjson.2"]
    for p in tmp_path.iterdir():
        assert p.stat().st_size <= 200
    kept = messages(out.with_name("out.ndjson.2")) + messages(out.with_name("out.ndjson.1")) + messages(out)
    assert kept == [f"m{n}" for n in range(40 - len(kept), 40)], "the newest lines, in order"


def test_file_sink_reopen_after_move(tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    sink = FileSink(f"file://{out}?format=json", "json")
    sink.write([rec(0)])
    os.rename(out, tmp_path / "moved")
    sink.write([rec(1)])  # still the moved file, as with any open file
    sink.reopen()
    sink.write([rec(2)])
    sink.close()
    assert messages(tmp_path / "moved") == ["m0", "m1"] and messages(out) == ["m2"]


def test_stdout_sink_closed_reader_is_fatal() -> None:
    class Closed(io.BytesIO):
        def write(self, data: object) -> int:
            raise BrokenPipeError

    sink = StdoutSink("stdout", "json", stream=Closed())
    with pytest.raises(SinkClosed):
        sink.write([rec(0)])


def test_sizes() -> None:
    assert parse_size("100MB") == 100 << 20 and parse_size("512k") == 512 << 10 and parse_size("4096") == 4096
    with pytest.raises(ValueError):
        parse_size("lots")
    with pytest.raises(ConfigError, match="max_size"):
        open_sink("file:///tmp/x.ndjson?max_size=lots", "json")


@pytest.mark.parametrize(("url", "message"), [
    ("tcp://127.0.0.1", "no port"),
    ("tcp://:5000", "no host"),
    ("tcp://127.0.0.1:99999", "the port is not a number"),
    ("tcp://127.0.0.1:http", "the port is not a number"),
    ("kafka://127.0.0.1:9092", "unknown sink"),
    ("tcp+tls://127.0.0.1:6514?ca=/nonexistent/ca.pem", "ca=/nonexistent/ca.pem cannot be read"),
    ("tcp+tls://127.0.0.1:6514?ca=/etc/hostname", "is not a PEM CA certificate"),
    ("fluentd://127.0.0.1?tag=docker.{container.name", "unbalanced brace"),
    ("syslog+tcp://127.0.0.1?facility=nope", "facility='nope'"),
    ("tcp://127.0.0.1:5000?colour=red", "unknown option 'colour'"),
    ("file:///nonexistent/dir/out.ndjson", "does not exist"),
])
def test_bad_sink_fails_at_start_with_one_line(tmp_path: Path, url: str, message: str) -> None:
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}  # the sink is checked first
    result = subprocess.run([sys.executable, "-m", "observe", "run", "--no-exporter", "--sink", url,
                             "--state-dir", str(tmp_path)], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "--sink" in lines[0], result.stderr


def test_bad_sink_in_env_fails_too(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock", "OBSERVE_SINKS": "stdout,tcp://h:0"}
    result = subprocess.run([sys.executable, "-m", "observe", "run", "--no-exporter", "--state-dir", str(tmp_path)],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2 and "tcp://h:0" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_file_sink_cuts_a_torn_last_line_before_it_writes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A writer killed in the middle of a batch leaves half a line; the next write must not glue onto it."""
    out = tmp_path / "out.ndjson"
    out.write_bytes(b'{"message":"m0"}\n{"message":"m1"}\n{"@timestamp":"2026-12-02T00:37:')
    sink = FileSink(f"file://{out}?format=json", "json")
    with caplog.at_level("WARNING"):
        sink.write([rec(2), rec(3)])
    sink.close()
    assert messages(out) == ["m0", "m1", "m2", "m3"]
    cut = [r for r in caplog.records if getattr(r, "event", "") == "SinkTornLineCut"]
    assert len(cut) == 1 and cut[0].bytes == len(b'{"@timestamp":"2026-12-02T00:37:')  # type: ignore[attr-defined]


@pytest.mark.parametrize("torn", [b"x" * 200_000, b'{"message":"half'])
def test_file_sink_cuts_a_torn_line_that_is_the_whole_file(tmp_path: Path, torn: bytes) -> None:
    out = tmp_path / "out.ndjson"
    out.write_bytes(torn)  # longer than one backwards step, and shorter
    sink = FileSink(f"file://{out}?format=json", "json")
    sink.write([rec(0)])
    sink.close()
    assert messages(out) == ["m0"]


def test_file_sink_failed_write_leaves_whole_lines(tmp_path: Path) -> None:
    """A full disk in the middle of a batch: the part written is cut back, so the retry repeats nothing."""
    out = tmp_path / "out.ndjson"
    sink = FileSink(f"file://{out}?format=json", "json")
    sink.write([rec(0)])
    real_write = os.write
    calls = {"n": 0}

    def short_then_full(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 1:  # the first line whole and a piece of the second
            return real_write(fd, bytes(data[: bytes(data).index(b"\n") + 5]))
        raise OSError(28, "No space left on device")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "write", short_then_full)
        with pytest.raises(SinkError, match="No space left"):
            sink.write([rec(1), rec(2)])
    sink.write([rec(1), rec(2)])  # the delivery's retry
    sink.close()
    assert messages(out) == ["m0", "m1", "m2"]


WRITER = """
import sys
from observe.logs.sinks.files import FileSink
from observe.model import Record
sink = FileSink("file://" + sys.argv[1] + "?format=json", "json")
for n in range(int(sys.argv[3])):
    sink.write([Record({"message": f"{sys.argv[2]}-{n}-" + "x" * 3000}, n, "info", "stdout", None, 1, 2)
                for _ in range(20)])
"""


def test_file_sink_writers_in_several_processes_keep_lines_whole(tmp_path: Path) -> None:
    """``--workers`` processes append to one file: no line is cut or glued, none taken for a torn one."""
    out = tmp_path / "out.ndjson"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(out), name, "150"]) for name in ("a", "b", "c")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    lines = out.read_bytes().split(b"\n")
    assert lines[-1] == b""
    docs = [json.loads(line) for line in lines[:-1]]
    for name in ("a", "b", "c"):
        mine = [d["message"].split("-")[1] for d in docs if d["message"].startswith(f"{name}-")]
        assert mine == [str(n) for n in range(150) for _ in range(20)], "every line of every writer, in order"


def test_file_sink_to_a_fifo_appends_lines(tmp_path: Path) -> None:
    """A named pipe (a shipper reading it) is neither cut nor locked: the lines go through as they are."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        sink = FileSink(f"file://{fifo}?format=json", "json")
        sink.write([rec(0), rec(1)])
        sink.close()
        lines = os.read(reader, 1 << 16).decode().splitlines()
    finally:
        os.close(reader)
    assert [json.loads(line)["message"] for line in lines] == ["m0", "m1"]


def test_file_sink_to_a_file_it_may_only_write_appends_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opened for writing only (as root reads any file, the refusal to read is the kernel's, simulated)."""
    out = tmp_path / "out.ndjson"
    out.write_text('{"message":"m0"}\n')
    real_open = os.open

    def no_reading(path: str, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_RDWR:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", no_reading)
    sink = FileSink(f"file://{out}?format=json", "json")
    sink.write([rec(1)])
    sink.close()
    monkeypatch.undo()
    assert messages(out) == ["m0", "m1"]
