"""``observe logs`` on a big json-file log, read by two processes: byte for byte what one process prints.

The differential test: a generated json-file log (JSON lines, Python/Java/Go traces, partial
lines and corrupt lines on both streams, blank and indented lines) read by ``Follow`` in this
process, the way ``observe logs`` reads a small log, and by ``observe.logs.parallel`` cut at
many places, in every format, with ``--level``, ``--grep`` and ``--since``.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from observe.cli.logs import _Printer
from observe.config import Config
from observe.core import build_core
from observe.engine import Engine
from observe.logs import parallel
from observe.logs.follow import MAX_JSONFILE_LINE, Follow, FollowOptions
from observe.logs.normalise import NormaliseOptions
from observe.logs.pipeline import LogPipeline
from observe.model import ContainerInfo
from observe.timefmt import format_ns, parse_ns
from tests.conftest import Containers
from tests.support.logsamples import T0, make_container
from tests.support.waiting import wait_for

TRACE_PY = ["Traceback (most recent call last):", '  File "app.py", line 3, in <module>', "    main()",
            "ValueError: bad n={n}"]
TRACE_CHAINED = [*TRACE_PY, "", "During handling of the above exception, another exception occurred:", "",
                 *TRACE_PY]
TRACE_JAVA = ['Exception in thread "main" java.lang.IllegalStateException: n={n}', "\tat a.B.c(B.java:10)",
              "\tat a.B.main(B.java:3)", "Caused by: java.io.IOException: disk", "\t... 2 more"]
TRACE_GO = ["panic: runtime error n={n}", "", "goroutine 1 [running]:", "main.main()", "\t/app/main.go:8 +0x1d",
            "exit status 2"]


def _entry(text: str, stream: str, ns: int) -> bytes:
    return orjson.dumps({"log": text, "stream": stream, "time": format_ns(ns)}) + b"\n"


def write_log(path: Path, records: int, seed: int, corrupt: bool = True) -> int:
    """A json-file log of ``records`` units of every kind (torn lines too, unless not ``corrupt``); returns its size."""
    rnd = random.Random(seed)
    ns = T0
    out = bytearray()
    for n in range(records):
        ns += rnd.choice((0, 0, 1, 1_000, 1_000_000))  # equal times happen
        stream = rnd.choice(("stdout", "stdout", "stderr"))
        kind = rnd.randrange(14)
        if kind == 0:
            texts = [line.format(n=n) for line in rnd.choice((TRACE_PY, TRACE_CHAINED, TRACE_JAVA, TRACE_GO))]
        elif kind == 1:  # a partial line: Docker's 16 KiB chunks, the other stream in between
            body = f"long n={n} " + "x" * rnd.randrange(10, 40)
            parts = [body[i:i + 9] for i in range(0, len(body), 9)]
            for i, part in enumerate(parts):
                out += orjson.dumps({"log": part + ("\n" if i == len(parts) - 1 else ""), "stream": stream,
                                     "time": format_ns(ns)}) + b"\n"
                if rnd.random() < 0.3:
                    other = "stderr" if stream == "stdout" else "stdout"
                    out += _entry(f"between n={n}\n", other, ns)
            continue
        elif kind == 2 and corrupt:
            out += b'{"log":"torn line n=' + str(n).encode() + b'\n'  # corrupt: kept as text
            continue
        elif kind in (2, 3):
            texts = [orjson.dumps({"level": rnd.choice(("debug", "warn", "error")), "msg": f"json n={n}",
                                   "user": {"id": n}}).decode()]
        elif kind == 4:
            texts = ["", "   ", f"after blank n={n}"]
        elif kind == 5:
            texts = [f"header n={n}", "  indented continuation", "\tanother"]
        elif kind == 6:
            texts = [f"\x1b[31mERROR\x1b[0m coloured n={n}\r"]
        else:
            texts = [f"{rnd.choice(('INFO', 'WARN', 'ERROR', 'debug:', ''))} plain n={n} " + "é" * rnd.randrange(3)]
        for text in texts:
            out += _entry(text + "\n", stream, ns)
            ns += rnd.choice((0, 1_000))
    path.write_bytes(bytes(out))
    return len(out)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ContainerInfo]:
    path = tmp_path_factory.mktemp("parallel") / "c-json.log"
    write_log(path, 1500, seed=14)
    return path, replace(make_container(), log_path=str(path))


def _capture(tmp: Path, name: str, run: Callable[[_Printer, int], None], printer_args: tuple[str, str | None,
             str | None]) -> bytes:
    """What ``run`` prints through an ``observe logs`` printer, with stdout a real file."""
    target = tmp / name
    saved = sys.stdout
    with target.open("w", encoding="utf-8") as stream:
        sys.stdout = stream
        try:
            run(_Printer(*printer_args), stream.fileno())
            stream.flush()
        finally:
            sys.stdout = saved
    return target.read_bytes()


def _one_process(c: ContainerInfo, options: NormaliseOptions, since_ns: int) -> Callable[[_Printer, int], None]:
    def run(printer: _Printer, _fd: int) -> None:
        follow = Follow(Engine(Config()), c, options, lambda _f, records: printer(records),
                        FollowOptions(reader="json-file", follow=False, since_ns=since_ns))
        assert follow.kind == "json-file"
        follow.start()
        assert follow.done.wait(60)
    return run


def _two_processes(c: ContainerInfo, options: NormaliseOptions, since_ns: int,
                   cut: int | None) -> Callable[[_Printer, int], None]:
    def run(printer: _Printer, fd: int) -> None:
        pipeline = LogPipeline(c, options, positions=False)  # as ``observe logs`` makes it
        assert parallel.read_parallel(c.log_path, pipeline, printer, fd, since_ns=since_ns,
                                      max_line_bytes=max(MAX_JSONFILE_LINE, options.max_line_bytes * 2), cut=cut)
    return run


def _cuts(path: Path, count: int) -> Iterator[int]:
    size = path.stat().st_size
    seen = set()
    for k in range(1, count):
        cut = parallel.find_cut(str(path), size * k // count)
        if cut is not None and cut not in seen:
            seen.add(cut)
            yield cut


@pytest.mark.parametrize(("fmt", "level", "grep"), [("logstash", None, None), ("json", None, None),
                                                    ("text", None, None), ("logstash", "warn", None),
                                                    ("json", None, r"n=1\d*$|bad"), ("text", "error", "n=")])
def test_every_cut_prints_what_one_process_prints(log: tuple[Path, ContainerInfo], tmp_path: Path, fmt: str,
                                                  level: str | None, grep: str | None) -> None:
    path, c = log
    options = NormaliseOptions()
    want = _capture(tmp_path, "one", _one_process(c, options, 0), (fmt, level, grep))
    assert want.count(b"\n") > 100
    for cut in _cuts(path, 12):
        got = _capture(tmp_path, "two", _two_processes(c, options, 0, cut), (fmt, level, grep))
        assert got == want, f"cut at {cut}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_other_logs_every_few_lines(tmp_path: Path, seed: int) -> None:
    """Other mixes, cut every few lines: the class of places a cut can fall, not one of them."""
    path = tmp_path / "c-json.log"
    write_log(path, 200, seed=seed)
    c = replace(make_container(), log_path=str(path))
    options = NormaliseOptions()
    want = _capture(tmp_path, "one", _one_process(c, options, 0), ("logstash", None, None))
    for cut in _cuts(path, 30):
        assert _capture(tmp_path, "two", _two_processes(c, options, 0, cut), ("logstash", None, None)) == want, cut


def test_since_and_options_agree(log: tuple[Path, ContainerInfo], tmp_path: Path) -> None:
    path, c = log
    options = NormaliseOptions(multiline=True, drop_blank=True, strip_ansi=False, max_line_bytes=24)
    third = parallel.find_cut(str(path), path.stat().st_size // 3)
    assert third is not None
    with path.open("rb") as fh:
        fh.seek(third)
        since = parse_ns(orjson.loads(fh.readline())["time"])
    want = _capture(tmp_path, "one", _one_process(c, options, since), ("json", None, None))
    everything = _capture(tmp_path, "all", _one_process(c, options, 0), ("json", None, None))
    assert 100 < want.count(b"\n") < everything.count(b"\n")
    for cut in _cuts(path, 6):
        assert _capture(tmp_path, "two", _two_processes(c, options, since, cut), ("json", None, None)) == want


def test_no_agreement_in_the_window_reads_on_alone(log: tuple[Path, ContainerInfo], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The child notes too few lines to agree on: the parent reads the rest itself, the same bytes."""
    path, c = log
    options = NormaliseOptions()
    want = _capture(tmp_path, "one", _one_process(c, options, 0), ("logstash", None, None))
    monkeypatch.setattr(parallel, "WINDOW", 1)
    copied: list[int] = []
    real_copy = parallel._copy

    def copy(*args: object) -> None:
        copied.append(1)
        real_copy(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "_copy", copy)
    for cut in _cuts(path, 4):
        assert _capture(tmp_path, "two", _two_processes(c, options, 0, cut), ("logstash", None, None)) == want
    assert not copied  # one noted line is the cut itself, which never counts


def test_agreement_comes_soon_after_the_cut(log: tuple[Path, ContainerInfo], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent stops near the cut and the rest is the child's output."""
    path, c = log
    offsets: list[int] = []
    real_copy = parallel._copy

    def copy(src: int, offset: int, *rest: object) -> None:
        offsets.append(os.fstat(src).st_size - offset)
        real_copy(src, offset, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "_copy", copy)
    cut = parallel.find_cut(str(path), path.stat().st_size // 2)
    _capture(tmp_path, "two", _two_processes(c, NormaliseOptions(), 0, cut), ("logstash", None, None))
    assert offsets and offsets[0] > 0


def test_usable_only_for_big_unrotated_logs(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    write_log(path, 50, seed=1)
    assert parallel.usable(str(path), min_bytes=1) == (len(os.sched_getaffinity(0)) >= 2)
    assert not parallel.usable(str(path), min_bytes=path.stat().st_size + 1)
    (tmp_path / "c-json.log.1").write_bytes(b"")
    assert not parallel.usable(str(path), min_bytes=1)
    assert not parallel.usable(str(tmp_path / "missing"), min_bytes=1)


def test_not_usable_when_the_temporary_directory_lacks_room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c-json.log"
    write_log(path, 50, seed=1)
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: never two processes")
    assert parallel.usable(str(path), min_bytes=1)
    monkeypatch.setattr(parallel.shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(10**9, 10**9, 10))
    assert not parallel.usable(str(path), min_bytes=1), "the second half's output would not fit"


def observe_logs(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.Popen([sys.executable, "-m", "observe", "logs", "--output-format", "json", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


@pytest.mark.engine
def test_the_command_on_a_big_log_prints_what_one_process_prints(containers: Containers, tmp_path: Path) -> None:
    """End to end: a container whose json-file log is over ``MIN_BYTES``; then ``| head``."""
    c = containers.run("big", "sleep 600")
    c.reload()
    write_log(tmp_path / "log", 1500 * (parallel.MIN_BYTES // 270_000 + 2), seed=7, corrupt=False)
    Path(c.attrs["LogPath"]).write_bytes((tmp_path / "log").read_bytes())
    name = containers.name("big")
    direct = observe_logs(name)
    out, err = direct.communicate(timeout=120)
    assert direct.returncode == 0, err
    assert out.count(b"\n") > 40_000
    core = build_core(Config())
    try:
        core.inventory.resync()
        info = core.inventory.get(name)
        assert info is not None
        want = _capture(tmp_path, "one", _one_process(info, core.normalise_options(), 0), ("json", None, None))
    finally:
        core.stop()
    assert out == want
    # ``observe logs NAME | head``: the reader goes away; no traceback, no error, the second process gone
    head = observe_logs(name)
    assert head.stdout is not None and head.stderr is not None
    for _ in range(3):
        head.stdout.readline()
    head.stdout.close()
    assert head.wait(timeout=60) == 0
    assert head.stderr.read() == b""
    head.stderr.close()
    # Ctrl-C (SIGINT to the process group) while both read: exit 130, one quiet stop, the child gone
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    stopped = subprocess.Popen([sys.executable, "-m", "observe", "logs", name], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=env, start_new_session=True)
    wait_for(lambda: bool(_children(stopped.pid)), "the second process to start")
    child = _children(stopped.pid)[0]
    os.killpg(stopped.pid, signal.SIGINT)
    _, err = stopped.communicate(timeout=60)
    assert stopped.returncode == 130 and b"Traceback" not in err, err
    wait_for(lambda: not Path(f"/proc/{child}").exists(), "the second process to end")


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(t) for t in tasks]
