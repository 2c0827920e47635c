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
